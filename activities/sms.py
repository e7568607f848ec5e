"""SMS: one interface (`send(note, address, text)`), one provider behind it (Twilio's Messages API).

POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic (AccountSid, AuthToken),
form fields To, From, Body; 201 with the message's `sid` on success, 429 when rate limited,
4xx with a Twilio error `code` when the number or the message is refused. The base URL is a setting
(CRISIS_SMS_BASE_URL) so tests point it at a loopback double.
An SMS carries the subject and the acknowledgement link, not the whole body: it must stay short.
"""

import httpx

from activities.delivery import DeliveryRefused, RateLimited, TransientDeliveryError
from crisisdesk.models.effects import Notification

SMS_MAX_CHARS = 480  # three concatenated segments at most


class TwilioSms:
    name = "sms"

    def __init__(self, base_url: str, account: str, token: str, sender: str, timeout: float = 10.0) -> None:
        if not (account and token and sender):
            raise ValueError("CRISIS_SMS_ACCOUNT, CRISIS_SMS_TOKEN and CRISIS_SMS_FROM are all required for SMS")
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json"
        self.auth = (account, token)
        self.sender, self.timeout = sender, timeout

    async def send(self, note: Notification, address: str, text: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                response = await http.post(self.url, auth=self.auth,
                                           data={"To": address, "From": self.sender, "Body": text[:SMS_MAX_CHARS]})
        except httpx.TransportError as err:
            raise TransientDeliveryError(f"sms unreachable: {type(err).__name__}") from None
        if response.status_code == 429:
            raise RateLimited("sms provider rate limit (429)")
        if response.status_code >= 500:
            raise TransientDeliveryError(f"sms provider answered {response.status_code}")
        if response.status_code >= 300:
            code = _code(response)
            raise DeliveryRefused(f"sms refused: {response.status_code}" + (f" (code {code})" if code else ""))


def _code(response: httpx.Response) -> int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) and isinstance(body.get("code"), int) else None
