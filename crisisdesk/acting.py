"""Who acts, and through which channel: carried beside an action in Temporal headers.

The HTTP API and the CLI know the channel an action came through and, with `CRISIS_AUTH` on, the
authenticated person; the case only sees what a message carries. Inside `acting(...)`, the client
interceptor puts both into the headers of every signal, update and start the client sends; the
worker interceptor reads them back for the case's handlers (`received()`).

A message without these headers came from elsewhere: the Web UI, `temporal workflow signal/update`
or an SDK client. The case then records the channel as `ui-update` / `ui-signal`, and knows nobody's
identity: who used the Web UI is for the Temporal server's authorizer and its audit log to say.

`denied` is the edge's verdict: the API refused the action (say, `by` names someone other than the
credential), and the case records the attempt as refused with that reason, changing nothing else.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import temporalio.client
import temporalio.converter
import temporalio.worker
from temporalio.api.common.v1 import Payload

HEADER_CHANNEL = "crisis-channel"
HEADER_IDENTITY = "crisis-identity"
HEADER_DENIED = "crisis-denied"
CHANNELS = ("http", "cli", "link", "ui-update", "ui-signal", "intake", "system")


@dataclass(frozen=True)
class Acting:
    channel: str
    identity: str | None = None
    denied: str | None = None


_sending: ContextVar[Acting | None] = ContextVar("crisisdesk_sending", default=None)
_received: ContextVar[Acting | None] = ContextVar("crisisdesk_received", default=None)
_converter = temporalio.converter.PayloadConverter.default


@contextmanager
def acting(channel: str, identity: str | None = None, denied: str | None = None) -> Iterator[Acting]:
    """Messages sent by a crisisdesk client inside this block carry the channel and identity."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    token = _sending.set(Acting(channel, identity or None, denied or None))
    try:
        yield _sending.get()
    finally:
        _sending.reset(token)


def sending() -> Acting | None:
    """The channel, identity and verdict messages sent now carry (None outside `acting(...)`)."""
    return _sending.get()


@contextmanager
def denying(reason: str) -> Iterator[Acting]:
    """Inside `acting(...)` (or on its own, as the system): the edge refuses what it sends now."""
    current = _sending.get() or Acting("system")
    with acting(current.channel, current.identity, reason) as who:
        yield who


def to_headers(who: Acting) -> dict[str, Payload]:
    values = {HEADER_CHANNEL: who.channel, HEADER_IDENTITY: who.identity, HEADER_DENIED: who.denied}
    return {name: _converter.to_payload(value) for name, value in values.items() if value is not None}


def from_headers(headers: Mapping[str, Payload]) -> Acting | None:
    """What the headers say, or None when they carry no channel. Never raises: headers are input too."""
    def text(name: str, limit: int) -> str | None:
        try:
            value = _converter.from_payload(headers[name], str) if name in headers else None
        except Exception:
            return None
        return value[:limit].replace("\x00", "") or None if isinstance(value, str) else None

    channel = text(HEADER_CHANNEL, 20)
    if channel not in CHANNELS:
        return None
    return Acting(channel, text(HEADER_IDENTITY, 200), text(HEADER_DENIED, 1000))


def received() -> Acting | None:
    """The channel and identity of the signal or update being handled (None: no crisisdesk headers)."""
    return _received.get()


# -- the client side: every crisisdesk client is built with this interceptor --------------------

class ActingClientInterceptor(temporalio.client.Interceptor):
    def intercept_client(self, next: temporalio.client.OutboundInterceptor) -> temporalio.client.OutboundInterceptor:
        return _ActingOutbound(next)


def carrying_acting(client: temporalio.client.Client) -> temporalio.client.Client:
    """`client`, or a client on the same connection that sends the channel and identity headers."""
    config = client.config()
    if any(isinstance(i, ActingClientInterceptor) for i in config["interceptors"]):
        return client
    config["interceptors"] = [*config["interceptors"], ActingClientInterceptor()]
    return temporalio.client.Client(**config)


def _with_acting(headers: Mapping[str, Payload]) -> Mapping[str, Payload]:
    who = _sending.get()
    return {**headers, **to_headers(who)} if who is not None else headers


class _ActingOutbound(temporalio.client.OutboundInterceptor):
    async def signal_workflow(self, input: temporalio.client.SignalWorkflowInput) -> None:
        input.headers = _with_acting(input.headers)
        return await super().signal_workflow(input)

    async def start_workflow_update(self, input: temporalio.client.StartWorkflowUpdateInput):
        input.headers = _with_acting(input.headers)
        return await super().start_workflow_update(input)

    async def start_workflow(self, input: temporalio.client.StartWorkflowInput):
        input.headers = _with_acting(input.headers)
        return await super().start_workflow(input)


# -- the worker side: the case's handlers read `received()` ----------------------------------------

class ActingWorkerInterceptor(temporalio.worker.Interceptor):
    def workflow_interceptor_class(self, input: temporalio.worker.WorkflowInterceptorClassInput):
        return _ActingInbound


class _ActingInbound(temporalio.worker.WorkflowInboundInterceptor):
    async def handle_signal(self, input: temporalio.worker.HandleSignalInput) -> None:
        token = _received.set(from_headers(input.headers))
        try:
            return await super().handle_signal(input)
        finally:
            _received.reset(token)

    async def handle_update_handler(self, input: temporalio.worker.HandleUpdateInput):
        token = _received.set(from_headers(input.headers))
        try:
            return await super().handle_update_handler(input)
        finally:
            _received.reset(token)
