"""Loopback doubles of the chat robots (WeCom, DingTalk, Feishu) and the SMS provider (Twilio's API).

One real HTTP server; each path plays one vendor and checks a request the way that vendor does
(DingTalk's and Feishu's signatures, Twilio's Basic auth and form fields), answering with the
vendor's own error codes when a check fails. `limited` makes a vendor answer its rate limit.
"""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.helpers.activity_samples import serving

DINGTALK_SECRET = "SECdingtalk-test-secret"
FEISHU_SECRET = "feishu-test-secret"
TWILIO_SID, TWILIO_TOKEN, TWILIO_FROM = "AC0123456789", "twilio-test-token", "+15005550006"


@dataclass
class Received:
    vendor: str
    to: str  # the mentioned mobile / open_id / phone number
    text: str


def json_server(answer: Callable[[str, Message, bytes], tuple[int, Any]],
                content_type: str = "application/json") -> ThreadingHTTPServer:
    """A loopback HTTP server whose every POST gets the JSON `answer(path, headers, body)` gives, with its
    status (a vendor's double: it checks the request and says what the vendor would)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            status, reply = answer(self.path, self.headers, body)
            raw = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


class Doubles:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rejected: list[tuple[str, str]] = []  # (vendor, why): a request a real vendor would refuse
        self.limited: set[str] = set()

        def answer(path: str, headers: Message, body: bytes) -> tuple[int, Any]:
            parts = urlsplit(path)
            vendor = parts.path.strip("/").split("/")[0]
            return getattr(self, f"_{vendor}")(parse_qs(parts.query), dict(headers), body)

        self.server = json_server(answer)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self) -> dict:
        """Settings for the Notifier pointing at these doubles."""
        return {
            "CRISIS_WECOM_WEBHOOK": f"{self.url}/wecom/cgi-bin/webhook/send?key=wecom-key",
            "CRISIS_DINGTALK_WEBHOOK": f"{self.url}/dingtalk/robot/send?access_token=dt-token",
            "CRISIS_DINGTALK_SECRET": DINGTALK_SECRET,
            "CRISIS_FEISHU_WEBHOOK": f"{self.url}/feishu/open-apis/bot/v2/hook/fs-hook",
            "CRISIS_FEISHU_SECRET": FEISHU_SECRET,
            "CRISIS_SMS_PROVIDER": "twilio", "CRISIS_SMS_BASE_URL": f"{self.url}/twilio",
            "CRISIS_SMS_ACCOUNT": TWILIO_SID, "CRISIS_SMS_TOKEN": TWILIO_TOKEN, "CRISIS_SMS_FROM": TWILIO_FROM,
        }

    def to(self, who: str) -> list[Received]:
        return [r for r in self.received if r.to == who]

    def _refuse(self, vendor: str, why: str, status: int, answer: dict) -> tuple[int, dict]:
        self.rejected.append((vendor, why))
        return status, answer

    def _wecom(self, query, headers, body) -> tuple[int, dict]:
        if query.get("key") != ["wecom-key"]:
            return self._refuse("wecom", "key", 200, {"errcode": 93000, "errmsg": "invalid webhook url"})
        msg = json.loads(body)
        if msg.get("msgtype") != "text" or not msg["text"].get("content") or not msg["text"].get("mentioned_mobile_list"):
            return self._refuse("wecom", "format", 200, {"errcode": 40008, "errmsg": "invalid message type"})
        if "wecom" in self.limited:
            return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}
        self.received.append(Received("wecom", msg["text"]["mentioned_mobile_list"][0], msg["text"]["content"]))
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _dingtalk(self, query, headers, body) -> tuple[int, dict]:
        ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        expected = base64.b64encode(hmac.new(DINGTALK_SECRET.encode(), f"{ts}\n{DINGTALK_SECRET}".encode(),
                                             hashlib.sha256).digest()).decode()
        # parse_qs already undid the URL encoding once; the signature must match after it.
        if query.get("access_token") != ["dt-token"] or sign != expected or abs(time.time() * 1000 - int(ts or 0)) > 3_600_000:
            return self._refuse("dingtalk", "sign", 200, {"errcode": 310000, "errmsg": "sign not match"})
        msg = json.loads(body)
        if msg.get("msgtype") != "text" or not msg.get("at", {}).get("atMobiles"):
            return self._refuse("dingtalk", "format", 200, {"errcode": 40035, "errmsg": "missing param"})
        if "dingtalk" in self.limited:
            return 200, {"errcode": 130101, "errmsg": "send too fast"}
        self.received.append(Received("dingtalk", msg["at"]["atMobiles"][0], msg["text"]["content"]))
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _feishu(self, query, headers, body) -> tuple[int, dict]:
        msg = json.loads(body)
        ts = msg.get("timestamp", "")
        expected = base64.b64encode(hmac.new(f"{ts}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
        if msg.get("sign") != expected or abs(time.time() - int(ts or 0)) > 3600:
            return self._refuse("feishu", "sign", 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"})
        text = msg.get("content", {}).get("text", "")
        if msg.get("msg_type") != "text" or not text.startswith('<at user_id="'):
            return self._refuse("feishu", "format", 200, {"code": 9499, "msg": "Bad Request"})
        if "feishu" in self.limited:
            return 200, {"code": 11232, "msg": "frequency limited"}
        self.received.append(Received("feishu", text.split('"')[1], text))
        return 200, {"code": 0, "msg": "success"}

    def _twilio(self, query, headers, body) -> tuple[int, dict]:
        auth = headers.get("Authorization", headers.get("authorization", ""))
        good = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if auth != good:
            return self._refuse("sms", "auth", 401, {"code": 20003, "message": "Authenticate"})
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("From") != TWILIO_FROM or not form.get("To", "").startswith("+") or not form.get("Body"):
            return self._refuse("sms", "form", 400, {"code": 21211, "message": "Invalid 'To' Phone Number"})
        if "sms" in self.limited:
            return 429, {"code": 20429, "message": "Too Many Requests"}
        self.received.append(Received("sms", form["To"], form["Body"]))
        return 201, {"sid": f"SM{len(self.received):032d}", "status": "queued"}


@contextmanager
def reach_doubles() -> Iterator[Doubles]:
    doubles = Doubles()
    with serving(doubles.server):
        yield doubles


__all__ = ["reach_doubles", "Doubles", "Received"]
