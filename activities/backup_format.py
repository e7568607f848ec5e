"""The backup file of the embedded stack: what it holds and how it says so.

A gzip-compressed tar whose FIRST member is `manifest.json`, so a restore can refuse a file before it
writes anything:

    {"format": 1, "crisisdesk": "0.1.0", "schema": "007", "key_id": "<16 hex>" | null,
     "began_at": "...", "finished_at": "...",
     "members": {"temporal.db": {"sha256": "...", "bytes": 123}, "crisisdesk.pgdump": {...},
                 "evidence/ab/ab12…": {...}, "reports/crisis-X/…": {...}, "encryption.key": {...}}}

`key_id` is the key's public id (crisisdesk/codec.py: an HMAC of the key, the same id every payload
names), never the key. Member names are relative paths without `..`; nothing else is in the file.
"""

import json
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import PurePosixPath
from typing import Any

FORMAT = 1
MANIFEST = "manifest.json"
TEMPORAL_DB = "temporal.db"
PG_DUMP = "crisisdesk.pgdump"
KEY_FILE = "encryption.key"
FILE_TREES = ("evidence", "reports")  # data-dir subdirectories, as `crisis dev` lays them out


class BackupInvalid(Exception):
    """The file cannot be restored here; the message is the one line to show."""


def crisisdesk_version() -> str:
    try:
        return version("crisisdesk")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0"


def version_tuple(text: str) -> tuple[int, ...]:
    """`0.10.2` -> (0, 10, 2); enough to tell a newer release from ours (no pre-release ordering)."""
    return tuple(int(n) for n in re.findall(r"\d+", text)[:4]) or (0,)


def safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and (
        name in (TEMPORAL_DB, PG_DUMP, KEY_FILE) or (len(path.parts) > 1 and path.parts[0] in FILE_TREES))


@dataclass(frozen=True)
class Manifest:
    format: int
    crisisdesk: str
    schema: str
    key_id: str | None
    members: dict[str, dict[str, Any]]
    began_at: str = ""
    finished_at: str = ""

    def dumps(self) -> bytes:
        return json.dumps({"format": self.format, "crisisdesk": self.crisisdesk, "schema": self.schema,
                           "key_id": self.key_id, "began_at": self.began_at, "finished_at": self.finished_at,
                           "members": self.members}, indent=2, sort_keys=True).encode()

    @classmethod
    def loads(cls, raw: bytes, where: str) -> "Manifest":
        try:
            data = json.loads(raw)
            manifest = cls(format=int(data["format"]), crisisdesk=str(data["crisisdesk"]), schema=str(data["schema"]),
                           key_id=data.get("key_id"), members=dict(data["members"]),
                           began_at=str(data.get("began_at", "")), finished_at=str(data.get("finished_at", "")))
        except (ValueError, KeyError, TypeError) as err:
            raise BackupInvalid(f"{where}: its manifest is unreadable ({type(err).__name__}): not a crisisdesk backup, "
                                "or corrupt") from None
        for name, member in manifest.members.items():
            if not safe_member(name) or not isinstance(member, dict) or not re.fullmatch(r"[0-9a-f]{64}", str(member.get("sha256"))):
                raise BackupInvalid(f"{where}: its manifest lists a member it may not hold ({name[:80]!r}): refused")
        for needed in (TEMPORAL_DB, PG_DUMP):
            if needed not in manifest.members:
                raise BackupInvalid(f"{where}: its manifest lacks {needed}: not a complete crisisdesk backup")
        return manifest
