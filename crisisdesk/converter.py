"""The one data converter: pydantic models on the wire, optionally encrypted payloads.

Three choices here keep what people send from ever failing a workflow task:
- `LenientPayloadConverter`: a value decoded WITHOUT a type hint (the raw arguments of the case's
  signal and update handlers, which take any number of inputs) never raises: what cannot be
  decoded comes back as the `RawValue` it was, and the handler refuses it with a reason. Decoding
  with a type hint (activity results, workflow input) is strict as always.
- `RefusalFailureConverter`: an `ActionRefused` failure carries its one-sentence reason and no
  stack trace or cause (people read it in the Web UI); with encryption the reason is encoded like
  every failure message (`encoded_attributes`, which the UI's event view sends to the codec server
  and SDK clients decode), and the clear outer message says where to read it (ENCRYPTED_REFUSAL), or,
  for a refusal whose reason is made only of crisisdesk's words and directory ids (who is signed in,
  how to sign in: the second of the ApplicationError's details, `ActionRefused.shown`), that reason.
- The worker's codec (`worker=True`) turns a payload it cannot decrypt into an "undecodable"
  payload instead of raising, so a forged or foreign-key input is refused by the handler rather
  than failing the case's workflow task on every retry. Clients keep the strict codec: a command
  that meets a payload it cannot decrypt says so.
"""

import json
import dataclasses
from collections.abc import Sequence
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.common import RawValue
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverter, PayloadCodec, PayloadConverter

from crisisdesk.settings import Settings

REFUSAL_TYPE = "ActionRefused"
ENCRYPTED_REFUSAL = ("Refused; the reason is encrypted: read it under User Metadata, Current Details (press R), "
                     "or in this update's event in Event History")
UNDECODABLE = b"binary/undecodable"


class LenientPayloadConverter(PydanticPayloadConverter):
    def from_payloads(self, payloads: Sequence[Payload], type_hints: list[type] | None = None) -> list[Any]:
        if type_hints is not None:
            return super().from_payloads(payloads, type_hints)
        values = []
        for payload in payloads:
            try:
                values.extend(super().from_payloads([payload], None))
            except Exception:
                values.append(_plain_json(payload))
        return values


def _plain_json(payload: Payload) -> Any:
    """JSON that pydantic will not read (an escaped unpaired surrogate, which the Temporal CLI sends
    as typed) read by the standard library, so the case can refuse the field by name and record who
    sent it; anything else stays raw."""
    if payload.metadata.get("encoding") == b"json/plain":
        try:
            return json.loads(payload.data)
        except (ValueError, RecursionError):
            pass
    return RawValue(payload)


def _failure_converter(encode: bool) -> type[DefaultFailureConverter]:
    class RefusalFailureConverter(DefaultFailureConverter):
        def __init__(self) -> None:
            super().__init__(encode_common_attributes=encode)

        def to_failure(self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure) -> None:
            # A refusal is an answer to a person, not a crash: no stack trace, no source paths, and no
            # cause (the exception it was raised from repeats the reason with its own stack trace).
            refusal = getattr(exception, "type", None) == REFUSAL_TYPE
            if refusal:
                exception.__traceback__ = None
                exception.__cause__ = None
                exception.__suppress_context__ = True
            super().to_failure(exception, payload_converter, failure)
            if refusal and encode:
                # The Web UI's Update dialog shows this outer message as it is (it decodes only events),
                # so it says where the encrypted reason can be read instead of "Encoded failure", or the
                # reason itself when it carries nothing of the input (ActionRefused.shown).
                details = getattr(exception, "details", ())
                shown = details[1] if len(details) > 1 and isinstance(details[1], str) else None
                failure.message = shown or ENCRYPTED_REFUSAL

    return RefusalFailureConverter


class ForgivingCodec(PayloadCodec):
    """The worker's view of an encrypting codec: a payload it cannot decrypt is marked, not raised."""

    def __init__(self, inner: PayloadCodec) -> None:
        self.inner = inner

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self.inner.encode(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            try:
                decoded.extend(await self.inner.decode([payload]))
            except Exception as err:
                decoded.append(Payload(metadata={"encoding": UNDECODABLE,
                                                 "crisis-error": str(err)[:300].encode()}, data=b""))
        return decoded


def data_converter(settings: Settings | None = None, worker: bool = False) -> DataConverter:
    key = settings.encryption_key if settings else None
    if key is None:
        return dataclasses.replace(pydantic_data_converter, payload_converter_class=LenientPayloadConverter,
                                   failure_converter_class=_failure_converter(encode=False))
    from crisisdesk.codec import EncryptionCodec

    codec: PayloadCodec = EncryptionCodec(key.get_secret_value())
    # Failure messages and stack traces can quote personal data too: encode them as payloads.
    return dataclasses.replace(pydantic_data_converter, payload_converter_class=LenientPayloadConverter,
                               payload_codec=ForgivingCodec(codec) if worker else codec,
                               failure_converter_class=_failure_converter(encode=True))
