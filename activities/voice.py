"""Voice: a phone call that reads the alert aloud (002 §4.3.1: the head and regional CS are *phoned*).

One provider behind the personal-channel interface (`send(note, address, text)`, as SMS): Aliyun's
voice notification API (语音通知, Dyvmsapi 2017-05-25) through its maintained SDK,
`alibabacloud-dyvmsapi20170525`. `SingleCallByTts` places the call with an approved text-to-speech
template (`CRISIS_VOICE_TTS_CODE`) and its parameters; `QueryCallDetailByCallId` then says whether it
was answered. A call not answered within `CRISIS_VOICE_ANSWER_WAIT` (or refused, or failed) is
`DeliveryRefused` with its outcome, so the person's next channel is tried at once (`activities.reach`);
a provider that is down or throttling is transient, like SMS. The endpoint is a setting
(`CRISIS_VOICE_ENDPOINT`, `http://` for a loopback double in tests). Errors never carry the number.
"""

import asyncio
import json
import time

from alibabacloud_dyvmsapi20170525 import models as dyvms
from alibabacloud_dyvmsapi20170525.client import Client
from alibabacloud_tea_openapi import models as openapi
from alibabacloud_tea_openapi.exceptions import ThrottlingException
from darabonba.runtime import RuntimeOptions

from activities.delivery import CallNotAnswered, DeliveryRefused, RateLimited, TransientDeliveryError
from crisisdesk.models.effects import Notification

# Aliyun's product id for voice notifications, asked with QueryCallDetailByCallId.
VOICE_NOTIFICATION_PRODUCT = 11000000300006
ANSWERED = "200000"  # the call detail's state when the callee picked up and the message was played
TTS_PARAM_MAX = 20  # characters per template parameter: what the approved templates usually allow
POLL_EVERY_S = 2.0
THROTTLED = ("Throttling", "isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL")


class AliyunVoice:
    name = "voice"
    rings = True  # a call placed is recorded before it rings: an attempt cut off mid-call never rings twice

    def __init__(self, access_key_id: str, access_key_secret: str, tts_code: str, show_number: str | None = None,
                 endpoint: str = "dyvmsapi.aliyuncs.com", answer_wait: float = 60.0, timeout_ms: int = 10_000) -> None:
        if not (access_key_id and access_key_secret and tts_code):
            raise ValueError("CRISIS_VOICE_ACCESS_KEY_ID, CRISIS_VOICE_ACCESS_KEY_SECRET and CRISIS_VOICE_TTS_CODE are "
                             "all required for voice calls")
        protocol, _, host = endpoint.rpartition("://")
        self.client = Client(openapi.Config(access_key_id=access_key_id, access_key_secret=access_key_secret,
                                            endpoint=host, protocol=protocol or "https"))
        self.tts_code, self.show_number, self.answer_wait = tts_code, show_number, answer_wait
        self.runtime = RuntimeOptions(read_timeout=timeout_ms, connect_timeout=timeout_ms, autoretry=False)

    @staticmethod
    def params(note: Notification) -> str:
        """The template's parameters: the case and what happened, never a name or a number."""
        return json.dumps({"case": note.case_id[-TTS_PARAM_MAX:], "kind": note.kind[:TTS_PARAM_MAX]},
                          ensure_ascii=False)

    async def send(self, note: Notification, address: str, text: str) -> str:
        """Place the call and wait for its outcome; returns `answered` (else raises, saying how it ended)."""
        request = dyvms.SingleCallByTtsRequest(called_number=address.lstrip("+"), tts_code=self.tts_code,
                                               tts_param=self.params(note), play_times=2, out_id=note.key[-64:],
                                               called_show_number=self.show_number)
        body = await self._call(self.client.single_call_by_tts_with_options_async(request, self.runtime), "call")
        call_id = body.call_id
        if not call_id:
            raise TransientDeliveryError("voice provider answered without a call id")
        return await self._outcome(call_id)

    async def _outcome(self, call_id: str) -> str:
        deadline = time.monotonic() + self.answer_wait
        while True:
            request = dyvms.QueryCallDetailByCallIdRequest(call_id=call_id, prod_id=VOICE_NOTIFICATION_PRODUCT,
                                                           query_date=int(time.time() * 1000))
            try:
                body = await self._call(
                    self.client.query_call_detail_by_call_id_with_options_async(request, self.runtime), "call detail")
            except TransientDeliveryError:  # the call rang already: never again for this notification
                raise CallNotAnswered("unconfirmed") from None
            state = _state(body.data)
            if state == ANSWERED:
                return "answered"
            if state is not None:
                raise CallNotAnswered("unanswered" if state.startswith("2") else "failed")
            if time.monotonic() >= deadline:
                raise CallNotAnswered("unanswered")
            await asyncio.sleep(POLL_EVERY_S)

    @staticmethod
    async def _call(pending, what: str):
        try:
            response = await pending
        except Exception as err:  # the SDK's ClientException / ServerException / transport errors
            code = str(getattr(err, "code", "") or "")
            status = getattr(err, "status_code", None)
            if isinstance(err, ThrottlingException) or code in THROTTLED or status == 429:
                raise RateLimited(f"voice provider rate limit ({code or status})") from None
            if isinstance(status, int) and 400 <= status < 500:
                raise DeliveryRefused(f"voice {what} refused: {status} ({code or 'no code'})") from None
            raise TransientDeliveryError(f"voice provider unavailable: {type(err).__name__} {code}".strip()) from None
        body = response.body
        code = getattr(body, "code", None)
        if code in THROTTLED:
            raise RateLimited(f"voice provider rate limit ({code})")
        if code != "OK":
            raise DeliveryRefused(f"voice {what} refused ({code or 'no code'})")
        return body


def _state(data: str | None) -> str | None:
    """The call detail's `state` (a JSON string in `Data`), once the call has ended; None while it has not."""
    if not data:
        return None
    try:
        detail = json.loads(data)
    except ValueError:
        return None
    state = detail.get("state") if isinstance(detail, dict) else None
    return str(state) if state not in (None, "") else None
