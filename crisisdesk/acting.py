"""Who acts, and through which channel: vouched for by the edge, carried with the action.

The HTTP API and the CLI know the channel an action came through and, with `CRISIS_AUTH` on, the
authenticated person; the case only sees what a message carries. Inside `acting(...)`, the client
interceptor signs both into the action's JSON object (`crisisdesk.stamps`: a `_stamp` the case
verifies with the worker's public keys) when it was given the signing key (`carrying_acting(client,
signer)`, `starter.client.connect`), and puts them into Temporal headers too. Headers are unsigned: the case believes their channel only when
it runs without authentication, and never their identity.

A message with neither came from elsewhere: the Web UI (unless its codec endpoint stamped it),
`temporal workflow signal/update` or an SDK client. The case records the channel as `ui-update` /
`ui-signal` and knows nobody's identity.

`denied` is the edge's verdict: the API refused the action (say, `by` names someone other than the
credential), and the case records the attempt as refused with that reason, changing nothing else.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import temporalio.client
import temporalio.converter
import temporalio.worker
from temporalio.api.common.v1 import Payload

import datetime as _dt

from crisisdesk.stamps import StampSigner

HEADER_CHANNEL = "crisis-channel"
HEADER_IDENTITY = "crisis-identity"
HEADER_DENIED = "crisis-denied"
CHANNELS = ("http", "cli", "link", "ui-update", "ui-signal", "intake", "system", "customer")


@dataclass(frozen=True)
class Acting:
    channel: str
    identity: str | None = None
    denied: str | None = None
    roles: tuple[str, ...] = ()


_sending: ContextVar[Acting | None] = ContextVar("crisisdesk_sending", default=None)
_received: ContextVar[Acting | None] = ContextVar("crisisdesk_received", default=None)
_converter = temporalio.converter.PayloadConverter.default


@contextmanager
def acting(channel: str, identity: str | None = None, denied: str | None = None,
           roles: tuple[str, ...] = ()) -> Iterator[Acting]:
    """Messages sent by a crisisdesk client inside this block carry the channel and identity."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    token = _sending.set(Acting(channel, identity or None, denied or None, tuple(roles)))
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
    with acting(current.channel, current.identity, reason, current.roles) as who:
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
    """Every signal and update this client sends inside `acting(...)` carries who acts: signed with
    `signer` (the edge's CRISIS_STAMP_KEY) when it has one, in unsigned headers always."""

    def __init__(self, signer: StampSigner | None = None) -> None:
        self.signer = signer

    def intercept_client(self, next: temporalio.client.OutboundInterceptor) -> temporalio.client.OutboundInterceptor:
        return _ActingOutbound(next, self.signer)


def carrying_acting(client: temporalio.client.Client, signer: StampSigner | None = None) -> temporalio.client.Client:
    """A client on the same connection that says who acts (signed with `signer`, when given)."""
    config = client.config()
    others = [i for i in config["interceptors"] if not isinstance(i, ActingClientInterceptor)]
    config["interceptors"] = [*others, ActingClientInterceptor(signer)]
    return temporalio.client.Client(**config)


def _with_acting(headers: Mapping[str, Payload]) -> Mapping[str, Payload]:
    who = _sending.get()
    return {**headers, **to_headers(who)} if who is not None else headers


def stamped(args: Sequence[Any], case_id: str, action: str, signer: StampSigner | None) -> Sequence[Any]:
    """The action's arguments with its JSON object signed for whoever acts now (unchanged outside
    `acting(...)`, without a signing key, or when the input is not one object)."""
    who = _sending.get()
    if who is None or signer is None or len(args) != 1 or not isinstance(args[0], dict):
        return args
    channel = "ui" if who.channel.startswith("ui-") else who.channel
    return [signer.stamp(args[0], person=who.identity, roles=who.roles, channel=channel,
                          at=_dt.datetime.now(_dt.timezone.utc), case=case_id, action=action, denied=who.denied)]


class _ActingOutbound(temporalio.client.OutboundInterceptor):
    def __init__(self, next: temporalio.client.OutboundInterceptor, signer: StampSigner | None) -> None:
        super().__init__(next)
        self.signer = signer

    async def signal_workflow(self, input: temporalio.client.SignalWorkflowInput) -> None:
        input.headers = _with_acting(input.headers)
        input.args = stamped(input.args, input.id, input.signal, self.signer)
        return await super().signal_workflow(input)

    async def start_workflow_update(self, input: temporalio.client.StartWorkflowUpdateInput):
        input.headers = _with_acting(input.headers)
        input.args = stamped(input.args, input.id, input.update, self.signer)
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
