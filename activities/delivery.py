"""What every channel shares: the outcome of a delivery, the two ways it can fail, and the two shapes
of channel (one that tells everyone a notification names, one that reaches a person at an address)."""

from dataclasses import dataclass
from typing import Protocol

from crisisdesk.models.effects import Notification


@dataclass(frozen=True)
class Delivery:
    delivered: int
    failed: int = 0
    error: str | None = None


class TransientDeliveryError(Exception):
    """The channel could not deliver now; the activity raises so Temporal retries it."""


class RateLimited(TransientDeliveryError):
    """The channel takes no more messages for now: a person's next channel is tried at once."""


class DeliveryRefused(Exception):
    """The channel refused this message for good (bad address, bad key or signature): not retried."""


class CallNotAnswered(DeliveryRefused):
    """A phone call rang out, was rejected or failed (`outcome`): the person's next channel is tried."""

    def __init__(self, outcome: str) -> None:
        super().__init__(f"voice call {outcome}")
        self.outcome = outcome


class PersonalChannel(Protocol):
    """A channel that reaches one person at their own address (e-mail, SMS, a chat robot's @-mention)."""

    name: str

    async def send(self, note: Notification, address: str, text: str) -> None: ...


class Channel(Protocol):
    name: str

    async def deliver(self, note: Notification) -> Delivery: ...
