"""Group-robot webhooks of WeCom, DingTalk and Feishu: one text message per person, @-mentioning them.

Formats as the vendors document them:
- WeCom (企业微信群机器人): POST {"msgtype": "text", "text": {"content", "mentioned_mobile_list"}};
  the key is in the URL, no signature. Answer {"errcode": 0}; 45009 is the rate limit (20/min).
- DingTalk (自定义机器人, 加签): the URL gets `timestamp` (ms) and `sign` =
  urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))); body {"msgtype": "text",
  "text": {"content"}, "at": {"atMobiles", "isAtAll"}}. Answer {"errcode": 0}; 130101 is "too fast".
- Feishu (自定义机器人, 签名校验): body {"timestamp" (s), "sign" = base64(HMAC-SHA256(key=
  f"{timestamp}\\n{secret}", msg=b"")), "msg_type": "text", "content": {"text"}}, the person
  mentioned with `<at user_id="…"></at>`. Answer {"code": 0}; 11232 is the rate limit.
Errors never carry the URL (it holds the robot's key) or the person's address.
"""

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus, urlsplit

import httpx

from activities.delivery import DeliveryRefused, RateLimited, TransientDeliveryError
from crisisdesk.models.effects import Notification


class _Robot:
    name = "robot"
    code_field = "errcode"
    rate_limit_codes: tuple[int, ...] = ()

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"the {self.name} webhook must be an http:// or https:// URL")
        self.url, self.timeout = url, timeout

    async def _post(self, url: str, body: dict, key: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                response = await http.post(url, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as err:
            raise TransientDeliveryError(f"{self.name} unreachable: {type(err).__name__}") from None
        if response.status_code == 429:
            raise RateLimited(f"{self.name} answered 429")
        if response.status_code >= 500 or response.status_code == 408:
            raise TransientDeliveryError(f"{self.name} answered {response.status_code}")
        if response.status_code >= 300:
            raise DeliveryRefused(f"{self.name} refused: {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise DeliveryRefused(f"{self.name} answered something that is not JSON") from None
        code = answer.get(self.code_field, answer.get("StatusCode", 0)) if isinstance(answer, dict) else 0
        if code in self.rate_limit_codes:
            raise RateLimited(f"{self.name} rate limit ({self.code_field} {code})")
        if code:
            raise DeliveryRefused(f"{self.name} refused ({self.code_field} {code})")


class WeComRobot(_Robot):
    name = "wecom"
    rate_limit_codes = (45009,)

    async def send(self, note: Notification, address: str, text: str) -> None:
        body = {"msgtype": "text", "text": {"content": text, "mentioned_mobile_list": [address]}}
        await self._post(self.url, body, f"{note.key}>{self.name}")


class _SignedRobot(_Robot):
    """A robot whose messages are signed with the secret its admin set (DingTalk, Feishu)."""

    def __init__(self, url: str, secret: str, timeout: float = 10.0) -> None:
        super().__init__(url, timeout)
        self.secret = secret


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


class DingTalkRobot(_SignedRobot):
    name = "dingtalk"
    rate_limit_codes = (130101,)

    async def send(self, note: Notification, address: str, text: str) -> None:
        ts = int(time.time() * 1000)
        url = f"{self.url}{'&' if '?' in self.url else '?'}timestamp={ts}&sign={dingtalk_sign(self.secret, ts)}"
        # The @-mention shows only when the mobile number is also in the text.
        body = {"msgtype": "text", "text": {"content": f"@{address} {text}"},
                "at": {"atMobiles": [address], "isAtAll": False}}
        await self._post(url, body, f"{note.key}>{self.name}")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class FeishuRobot(_SignedRobot):
    name = "feishu"
    code_field = "code"
    rate_limit_codes = (11232,)

    async def send(self, note: Notification, address: str, text: str) -> None:
        ts = int(time.time())
        body = {"timestamp": str(ts), "sign": feishu_sign(self.secret, ts), "msg_type": "text",
                "content": {"text": f'<at user_id="{address}"></at> {text}'}}
        await self._post(self.url, body, f"{note.key}>{self.name}")
