"""A loopback double of Aliyun's voice notification API (Dyvmsapi 2017-05-25), for the SDK to call.

It checks each request the way the service does: the ACS3-HMAC-SHA256 signature over the canonical
request (method, path, sorted query, the signed headers, the payload's SHA-256), the API version and
action headers, and each action's parameters (a called number of digits, the TTS template, a product
id). A call to a number in `unanswered` rings out; `answered_after` polls answer "in progress" first.
"""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

from tests.helpers.activity_samples import serving

VOICE_KEY_ID, VOICE_KEY_SECRET, VOICE_TTS = "LTAI-test-key", "voice-test-secret", "TTS_100000001"
ALGORITHM = "ACS3-HMAC-SHA256"


@dataclass
class Call:
    number: str
    tts_param: dict
    out_id: str
    call_id: str


def signature(method: str, path: str, query: dict[str, str], headers: dict[str, str], signed: list[str],
              payload_hash: str, secret: str) -> str:
    """The ACS3-HMAC-SHA256 signature as Aliyun's documentation defines it (computed here from scratch)."""
    canonical_query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(query.items()))
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    request = "\n".join([method, path or "/", canonical_query, canonical_headers, ";".join(signed), payload_hash])
    to_sign = f"{ALGORITHM}\n{hashlib.sha256(request.encode()).hexdigest()}"
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


class VoiceDouble:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.rejected: list[str] = []  # why a request the real service would refuse was refused
        self.unanswered: set[str] = set()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, answer = outer.handle(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                              body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json;charset=utf-8")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self) -> dict:
        return {"CRISIS_VOICE_PROVIDER": "aliyun", "CRISIS_VOICE_ENDPOINT": self.endpoint,
                "CRISIS_VOICE_ACCESS_KEY_ID": VOICE_KEY_ID, "CRISIS_VOICE_ACCESS_KEY_SECRET": VOICE_KEY_SECRET,
                "CRISIS_VOICE_TTS_CODE": VOICE_TTS, "CRISIS_VOICE_ANSWER_WAIT": "PT5S"}

    def to(self, number: str) -> list[Call]:
        return [c for c in self.calls if c.number == number]

    def _refuse(self, why: str, status: int, code: str) -> tuple[int, dict]:
        self.rejected.append(why)
        return status, {"Code": code, "Message": why, "RequestId": "double"}

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        parts = urlsplit(path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        auth = headers.get("authorization", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            fields = dict(item.split("=", 1) for item in rest.split(","))
            signed = fields["SignedHeaders"].split(";")
        except (ValueError, KeyError):
            return self._refuse("no Authorization", 400, "MissingAuthorization")
        payload_hash = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256") != payload_hash:
            return self._refuse("payload hash", 400, "InvalidPayloadHash")
        expected = signature(method, parts.path, query, headers, signed, payload_hash, VOICE_KEY_SECRET)
        if algorithm != ALGORITHM or fields.get("Credential") != VOICE_KEY_ID or \
                not hmac.compare_digest(fields.get("Signature", ""), expected):
            return self._refuse("signature", 400, "IncompleteSignature")
        if not {"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"} <= set(signed):
            return self._refuse("signed headers", 400, "IncompleteSignature")
        if headers.get("x-acs-version") != "2017-05-25":
            return self._refuse("version", 400, "InvalidVersion")
        action = headers.get("x-acs-action")
        if action == "SingleCallByTts":
            return self._call(query)
        if action == "QueryCallDetailByCallId":
            return self._detail(query)
        return self._refuse(f"action {action}", 404, "InvalidAction.NotFound")

    def _call(self, query: dict[str, str]) -> tuple[int, dict]:
        number = query.get("CalledNumber", "")
        if not number.isdigit() or query.get("TtsCode") != VOICE_TTS:
            return self._refuse("call parameters", 400, "isv.INVALID_PARAMETERS")
        try:
            params = json.loads(query.get("TtsParam", "{}"))
        except ValueError:
            return self._refuse("TtsParam not JSON", 400, "isv.INVALID_PARAMETERS")
        with self.lock:
            call = Call(number, params, query.get("OutId", ""), f"call-{len(self.calls) + 1}")
            self.calls.append(call)
        return 200, {"Code": "OK", "Message": "OK", "CallId": call.call_id, "RequestId": "double"}

    def _detail(self, query: dict[str, str]) -> tuple[int, dict]:
        if query.get("ProdId") != "11000000300006" or not query.get("QueryDate", "").isdigit():
            return self._refuse("detail parameters", 400, "isv.INVALID_PARAMETERS")
        call = next((c for c in self.calls if c.call_id == query.get("CallId")), None)
        if call is None:
            return 200, {"Code": "OK", "Data": None}
        state = "200005" if call.number in self.unanswered else "200000"  # 用户未接 / 用户接听
        return 200, {"Code": "OK", "Message": "OK", "RequestId": "double",
                     "Data": json.dumps({"callId": call.call_id, "state": state, "duration": 0 if state != "200000" else 18})}


@contextmanager
def voice_double() -> Iterator[VoiceDouble]:
    double = VoiceDouble()
    with serving(double.server):
        yield double
