"""Payload encryption: AES-256-GCM over every payload, so personal data never reaches Temporal in clear.

`CRISIS_ENCRYPTION_KEY` holds one key, or several separated by commas for rotation: the FIRST key
encrypts, every key listed decrypts. Each entry is read, in this order, as

1. 64 hex digits: the 32-byte key itself;
2. base64 (standard or URL-safe, padding optional) of exactly 32 bytes: the key itself
   (make one with `openssl rand -base64 32` or `python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"`);
3. anything else: a passphrase of at least 16 characters, stretched to 32 bytes with HKDF-SHA256
   (fixed salt and info below). HKDF is not a password hash: a passphrase must carry the entropy of a
   key (a long random string), not be a memorable word, and cannot contain a comma. Prefer form 1 or 2.

An encrypted payload has metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`; its
data is a 12-byte random nonce followed by the AES-GCM ciphertext (tag included) of the original
payload serialised as protobuf, authenticated together with the key id. The key id is the first 16
hex digits of HMAC-SHA256(key, "crisisdesk key id v1"): it names a key without revealing it, and the
same key gives the same id in every process, so nothing but the keys has to be configured.

Rotation: put the new key first and keep the old ones after it until no history still needs them.
Decoding passes payloads of any other encoding through unchanged, so a worker given a key still
reads histories written before encryption was switched on. A payload encrypted with a key that is
not configured, or altered after encryption, raises `PayloadDecryptionError` naming the key id:
never a silent wrong answer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_KEY = "encryption-key-id"
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
MIN_PASSPHRASE = 16
HKDF_SALT = b"crisisdesk/CRISIS_ENCRYPTION_KEY/v1"
HKDF_INFO = b"crisisdesk payload codec aes-256-gcm"
_AAD_PREFIX = b"crisisdesk/payload/v1:"
_HEX_KEY = re.compile(r"^[0-9A-Fa-f]{64}$")


class EncryptionKeyError(ValueError):
    """`CRISIS_ENCRYPTION_KEY` cannot be used as given; the message says which entry and why."""


class PayloadDecryptionError(ValueError):
    """An encrypted payload could not be decrypted: unknown key id, tampered, or malformed."""

    def __init__(self, message: str, key_id: str | None = None):
        super().__init__(message)
        self.key_id = key_id


def parse_key(entry: str) -> bytes:
    """One entry of `CRISIS_ENCRYPTION_KEY` as 32 key bytes (see the module docstring for the forms)."""
    entry = entry.strip()
    if _HEX_KEY.match(entry):
        return bytes.fromhex(entry)
    raw = _base64_key(entry)
    if raw is not None:
        return raw
    if len(entry) < MIN_PASSPHRASE:
        raise EncryptionKeyError(
            f"{len(entry)} characters are neither a 32-byte key (64 hex digits, or "
            f"base64 of 32 bytes: `openssl rand -base64 32`) nor a passphrase of at least {MIN_PASSPHRASE} characters"
        )
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=HKDF_SALT, info=HKDF_INFO).derive(entry.encode())


def _base64_key(entry: str) -> bytes | None:
    if not entry or len(entry) not in (43, 44):
        return None
    text = entry.rstrip("=")
    alphabet_std = re.fullmatch(r"[A-Za-z0-9+/]+", text)
    alphabet_url = re.fullmatch(r"[A-Za-z0-9_-]+", text)
    if not (alphabet_std or alphabet_url):
        return None
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_" if alphabet_url and not alphabet_std else None, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == KEY_SIZE else None


def key_id(key: bytes) -> str:
    return hmac.new(key, b"crisisdesk key id v1", hashlib.sha256).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec. `keys` is the value of `CRISIS_ENCRYPTION_KEY`: comma-separated, first encrypts."""

    def __init__(self, keys: str | Sequence[str]):
        entries = [k.strip() for k in (keys.split(",") if isinstance(keys, str) else keys)]
        entries = [k for k in entries if k]
        if not entries:
            raise EncryptionKeyError("CRISIS_ENCRYPTION_KEY is set but holds no key")
        self._ciphers: dict[str, AESGCM] = {}
        self._secrets: dict[str, bytes] = {}
        for position, entry in enumerate(entries, start=1):
            try:
                raw = parse_key(entry)
            except EncryptionKeyError as err:
                raise EncryptionKeyError(f"CRISIS_ENCRYPTION_KEY entry {position}: {err}") from None
            self._ciphers.setdefault(key_id(raw), AESGCM(raw))  # the same key twice: once is enough
            self._secrets.setdefault(key_id(raw), raw)
        self.encrypting_key_id = next(iter(self._ciphers))

    @property
    def key_ids(self) -> list[str]:
        """Every key id this codec decrypts, the encrypting one first."""
        return list(self._ciphers)

    def cipher(self, kid: str) -> AESGCM | None:
        """The cipher of a configured key (None: not configured); `crisisdesk.sealing` shares the ring."""
        return self._ciphers.get(kid)

    def secret(self, kid: str) -> bytes:
        """A configured key's bytes, for keys derived from it (the sealing module's blind index)."""
        return self._secrets[kid]

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        kid = self.encrypting_key_id
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._ciphers[kid].encrypt(nonce, payload.SerializeToString(), _aad(kid))
        return Payload(metadata={"encoding": ENCODING, KEY_ID_KEY: kid.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was on (or never encoded by us): pass through
        raw_id = payload.metadata.get(KEY_ID_KEY)
        if raw_id is None:
            raise PayloadDecryptionError(f"encrypted payload has no {KEY_ID_KEY} metadata: it was not written by crisisdesk")
        kid = raw_id.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {kid}, which is not among the configured keys "
                f"({', '.join(self._ciphers)}): add the key that wrote it to CRISIS_ENCRYPTION_KEY (after the current one)",
                key_id=kid,
            )
        data = payload.data
        if len(data) < NONCE_SIZE + TAG_SIZE:
            raise PayloadDecryptionError(f"payload encrypted with key id {kid} is truncated ({len(data)} bytes)", key_id=kid)
        try:
            plain = cipher.decrypt(data[:NONCE_SIZE], data[NONCE_SIZE:], _aad(kid))
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {kid} failed authentication: it was altered or corrupted after encryption",
                key_id=kid,
            ) from None
        inner = Payload()
        inner.ParseFromString(plain)
        return inner


def _aad(kid: str) -> bytes:
    return _AAD_PREFIX + kid.encode()
