"""Personal fields at rest: sealed with the payload key ring, so PostgreSQL never holds them in clear.

A stakeholder's or reporter's name, contact, unit, employer, household, intermediary and concerns, the
people a notification went to and a survey's comment are written as `sealed:v1:<key id>:<base64url>`:
a 12-byte nonce and the AES-256-GCM ciphertext under the FIRST key of `CRISIS_ENCRYPTION_KEY`
(`crisisdesk.codec`), authenticated together with the column, so a value moved to another column does
not open. Every configured key opens; `crisis privacy rotate` re-seals what an older key wrote.

An erasure request names a person, but sealed values cannot be compared: name and contact also get
a blind index, HMAC-SHA256 of the normalised value under a key derived from each configured key.
The index reveals equality only to whoever holds the key.

Without `CRISIS_ENCRYPTION_KEY` the fields are stored as given (the embedded stack for one local
user); the worker says so when it starts.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import unicodedata

from cryptography.exceptions import InvalidTag

from typing import TYPE_CHECKING

from crisisdesk.codec import NONCE_SIZE, EncryptionCodec

if TYPE_CHECKING:
    from crisisdesk.settings import Settings

PREFIX = "sealed:v1:"
INDEX_LABEL = b"crisisdesk blind index v1"


class SealedFieldError(ValueError):
    """A sealed value that no configured key opens (the message names the key id, never the value)."""


class Sealer:
    def __init__(self, codec: EncryptionCodec | None) -> None:
        self.codec = codec
        self._index_keys = [] if codec is None else [
            hmac.new(codec.secret(kid), INDEX_LABEL, hashlib.sha256).digest() for kid in codec.key_ids]

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Sealer":
        """The process's sealer for these keys: records, notifier and resolver share one key ring."""
        key = settings.encryption_key
        return _sealer_for(key.get_secret_value() if key else None)

    @property
    def on(self) -> bool:
        return self.codec is not None

    def seal_all(self, table: str, **values: str | None) -> list[str | None]:
        """Several columns of one row, sealed in the order given."""
        return [self.seal(value, f"{table}.{column}") for column, value in values.items()]

    def seal(self, value: str | None, column: str) -> str | None:
        if value is None or self.codec is None:
            return value
        kid = self.codec.encrypting_key_id
        nonce = os.urandom(NONCE_SIZE)
        sealed = self.codec.cipher(kid).encrypt(nonce, value.encode(), _aad(kid, column))
        return f"{PREFIX}{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, value: str | None, column: str) -> str | None:
        """The clear text of a sealed value; a value written in clear passes through."""
        if value is None or not value.startswith(PREFIX):
            return value
        kid, _, body = value[len(PREFIX):].partition(":")
        cipher = self.codec.cipher(kid) if self.codec else None
        if cipher is None:
            raise SealedFieldError(f"{column}: sealed with key id {kid}, which CRISIS_ENCRYPTION_KEY does not hold")
        data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return cipher.decrypt(data[:NONCE_SIZE], data[NONCE_SIZE:], _aad(kid, column)).decode()
        except InvalidTag:
            raise SealedFieldError(f"{column}: sealed value with key id {kid} failed authentication") from None

    def index(self, value: str | None) -> str | None:
        """The blind index of a name or contact under the current key (None without a key)."""
        return self.indexes(value)[0] if value and self._index_keys else None

    def indexes(self, value: str) -> list[str]:
        """The blind index under every configured key: an erasure finds rows not yet rotated too."""
        text = _normal(value).encode()
        return [hmac.new(key, text, hashlib.sha256).hexdigest() for key in self._index_keys]


PLAIN = Sealer(None)  # no key: values are stored and read as given


@functools.lru_cache(maxsize=8)
def _sealer_for(keys: str | None) -> Sealer:
    return Sealer(EncryptionCodec(keys)) if keys else PLAIN


def _normal(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _aad(kid: str, column: str) -> bytes:
    return f"crisisdesk/field/v1:{kid}:{column}".encode()
