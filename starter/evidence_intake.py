"""Evidence at the API's door: stored only once the caller, the case and `by` are checked, then bound
to that case, so the case only ever receives the receipt's reference.

Both the upload route (the raw file as the body) and inline `content_base64` in an `add_evidence`
action end here: the content goes to the evidence store by SHA-256, the store records that this case
brought it (`evidence_uploads`), and the action sent to the case names it as `evidence:sha256:<hex>`.
The worker's capture activity takes such a reference only for the case it was uploaded to, and records
it with its custody trail without the bytes ever travelling through Temporal.
"""

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from temporalio.exceptions import ApplicationError

from activities.evidence import EvidenceStore, bind_upload
from crisisdesk.settings import Settings
from starter.client import ActionInvalid, CrisisClientError, TemporalUnavailable, case_ref


class EvidenceTooLarge(CrisisClientError):
    """Answered 413, with how to send it instead."""


class EvidenceStoreUnavailable(TemporalUnavailable):
    """No PostgreSQL to bind an upload to its case: answered 503."""


class EvidenceIntake:
    def __init__(self, settings: Settings, get_pool: Callable[[], Awaitable[Any]]) -> None:
        self.settings, self.get_pool = settings, get_pool

    async def upload(self, chunks: AsyncIterator[bytes], case_id: str, by: str) -> str:
        """Store the content and bind it to the case; the reference to send the case. Call only after
        the caller, the case and `by` are checked: nothing refused is ever written."""
        pool = await self.get_pool()
        if pool is None:
            raise EvidenceStoreUnavailable("evidence uploads need PostgreSQL (DATABASE_URL): the store binds each "
                                           "upload to its case there; or give a uri the worker may fetch")
        store = EvidenceStore(pool, self.settings)
        try:
            ref, size, _media_type = await store.store_upload(chunks)
        except ApplicationError as err:
            raise EvidenceTooLarge(f"{err.message}: keep evidence files under it, or give a uri the worker may fetch") from None
        await bind_upload(pool, case_ref(case_id), ref, by, size)
        return ref

    def inline_content(self, payload: dict[str, Any]) -> bytes:
        """The decoded inline content, or the refusal to record: ActionInvalid (not base64) or
        EvidenceTooLarge (over CRISIS_EVIDENCE_INLINE_MAX_BYTES)."""
        limit = min(self.settings.evidence_inline_max_bytes, self.settings.evidence_max_bytes)
        too_large = EvidenceTooLarge(
            f"content_base64: over the {limit} byte limit of inline evidence: send it as the raw body of "
            "POST /cases/{case_id}/evidence, or as a uri")
        text = payload["content_base64"]
        if len(text) // 4 * 3 > limit + 3:  # refused before decoding anything too big
            raise too_large
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            why = "not valid base64"
            raise ActionInvalid(f"add_evidence: content_base64: {why}",
                                [{"loc": ["content_base64"], "msg": why, "type": "value_error"}]) from None
        if len(data) > limit:
            raise too_large
        return data

    async def inline_to_upload(self, payload: dict[str, Any], data: bytes, case_id: str) -> dict[str, Any]:
        """The action with its inline content stored, bound to the case and replaced by the reference."""
        async def one() -> AsyncIterator[bytes]:
            yield data

        rest = {k: v for k, v in payload.items() if k != "content_base64"}
        return {**rest, "uri": await self.upload(one(), case_id, str(payload["by"]))}
