"""The one data converter: pydantic models on the wire, optionally encrypted payloads."""

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from crisisdesk.settings import Settings


def data_converter(settings: Settings | None = None) -> DataConverter:
    key = settings.encryption_key if settings else None
    if key is None:
        return pydantic_data_converter
    from crisisdesk.codec import EncryptionCodec

    # Failure messages and stack traces can quote personal data too: encode them as payloads.
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(key.get_secret_value()),
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
