"""Evidence at the API's door: stored first, so the case only ever receives the receipt's reference.

Both the upload route (the raw file as the body) and inline `content_base64` in an `add_evidence`
action end here: the content goes to the evidence store by SHA-256 and the action sent to the case
names it as `evidence:sha256:<hex>`. The worker's capture activity then records it with its custody
trail without the bytes ever travelling through Temporal.
"""

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from temporalio.exceptions import ApplicationError

from activities.evidence import EvidenceStore
from crisisdesk.settings import Settings
from starter.client import CrisisClientError


class EvidenceTooLarge(CrisisClientError):
    """Answered 413, with how to send it instead."""


class EvidenceIntake:
    def __init__(self, settings: Settings, get_pool: Callable[[], Awaitable[Any]]) -> None:
        self.settings, self.get_pool = settings, get_pool

    async def upload(self, chunks: AsyncIterator[bytes]) -> str:
        store = EvidenceStore(await self.get_pool(), self.settings)
        try:
            ref, _size, _media_type = await store.store_upload(chunks)
        except ApplicationError as err:
            raise EvidenceTooLarge(f"{err.message}: keep evidence files under it, or give a uri the worker may fetch") from None
        return ref

    async def inline_to_upload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The action with its inline content stored and replaced by the reference. Content that is not
        base64 is left for the case to refuse (and record)."""
        try:
            data = base64.b64decode(payload["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            return payload
        if len(data) > self.settings.evidence_inline_max_bytes:
            raise EvidenceTooLarge(
                f"content_base64: {len(data)} bytes is over the {self.settings.evidence_inline_max_bytes} byte inline "
                "limit: send it as the raw body of POST /cases/{case_id}/evidence, or as a uri")

        async def one() -> AsyncIterator[bytes]:
            yield data

        rest = {k: v for k, v in payload.items() if k != "content_base64"}
        return {**rest, "uri": await self.upload(one())}
