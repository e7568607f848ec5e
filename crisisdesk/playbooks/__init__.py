"""Playbooks are data: a contingency plan as a validated, versioned pydantic model.

A case pins the playbook it started with (name, version, content hash), so revising a playbook
file never changes a running case.
"""

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crisisdesk.models.actions import describe_validation_error
from crisisdesk.models.calendar import Calendar, PinnedDates  # noqa: F401
from crisisdesk.models.playbook import (  # noqa: F401  (the playbook's shape, read from here by most callers)
    CONTINGENCY, CRISIS_TIMERS, SLA_TIMERS, ContingencyTask, CustomerWaits, Deadline, DeadlineName, Escalation, Grouping, Playbook, ReportKind,
    Reporting, SeverityTargets,
)


class PlaybookError(ValueError):
    """A playbook that is missing or invalid; says which field and why."""


@functools.cache
def _shipped() -> dict[str, Any]:
    return {p.name.removesuffix(".json"): p for p in resources.files(__name__).iterdir() if p.name.endswith(".json")}


def _sources(directory: Path | None) -> dict[str, Any]:
    """Playbook files by name: the shipped ones, overridden by an organisation's own directory."""
    found = dict(_shipped())
    if directory is not None:
        try:
            listed = directory.stat().st_mtime_ns
        except OSError:
            return found
        found |= _listing(str(directory), listed)
    return found


@functools.lru_cache(maxsize=16)
def _listing(directory: str, mtime_ns: int) -> dict[str, Path]:
    """An organisation's playbook files, listed once per change to the directory (a file added, removed
    or renamed into place changes its mtime): every intake looks its playbook up, twice."""
    return {p.stem: p for p in Path(directory).glob("*.json")}


def available(directory: Path | None = None) -> list[str]:
    return sorted(_sources(directory))


def parse_playbook(raw: str | bytes, source: str = "playbook") -> Playbook:
    try:
        playbook = Playbook.model_validate(json.loads(raw))
    except json.JSONDecodeError as err:
        raise PlaybookError(f"{source}: not JSON ({err})") from None
    except ValidationError as err:
        raise PlaybookError(f"{source}: {describe_validation_error(err)}") from None
    if playbook.calendar is not None and playbook.calendar.pinned is not None:
        raise PlaybookError(f"{source}: calendar.pinned: the holiday dates are pinned by each case when it opens; "
                            "leave them out of the file (extra_holidays and extra_workdays add your own)")
    return playbook


def read_playbook(name: str, directory: Path | None = None) -> tuple[Playbook, Any]:
    """The playbook of that name and where it came from, validated but not necessarily checked."""
    playbook, source, _ = _read(name, directory)
    return playbook, source


def _read(name: str, directory: Path | None) -> tuple[Playbook, Any, str]:
    sources = _sources(directory)
    if name not in sources:
        raise PlaybookError(f"playbook {name!r} does not exist: choose one of {', '.join(sorted(sources))}")
    source = sources[name]
    try:
        stat = Path(str(source)).stat()
    except OSError:  # not a plain file (a zipped install): read it every time
        playbook = parse_playbook(source.read_bytes(), name)
        return playbook, source, playbook.digest
    playbook, digest = _parsed(name, str(source), stat.st_mtime_ns, stat.st_size)
    return playbook, source, digest


@functools.lru_cache(maxsize=64)
def _parsed(name: str, path: str, mtime_ns: int, size: int) -> tuple[Playbook, str]:
    """A playbook file parsed and digested once per version of the file: every intake asks for its
    playbook, and doing it each time was 40 % of `POST /intakes`. The instance is shared: read it,
    never change it (`model_copy` first)."""
    playbook = parse_playbook(Path(path).read_bytes(), name)
    return playbook, playbook.digest


def load_playbook(name: str, directory: Path | None = None) -> Playbook:
    """The playbook of that name (from `directory` first, then the shipped ones), validated; one from
    the organisation's directory must also have passed `crisis playbook check` in this very version."""
    playbook, source, digest = _read(name, directory)
    if directory is not None and Path(str(source)).parent == Path(directory):
        record = check_record(Path(str(source)))
        if record is None or record.get("digest") != digest:
            raise PlaybookError(
                f"playbook {name!r} version {playbook.version} (digest {playbook.digest}) has not passed "
                f"`crisis playbook check {source}`: check it (validation and every drill) before a case can use it")
    return playbook


# -- plan revision: a new version is checked (validated, every drill played) before cases pin it --
CHECKS_DIR = ".checks"


def check_record_path(playbook_file: Path) -> Path:
    return playbook_file.parent / CHECKS_DIR / playbook_file.name


def check_record(playbook_file: Path) -> dict[str, Any] | None:
    """What `crisis playbook check` recorded for this file (its digest, drills, when), if anything."""
    path = check_record_path(playbook_file)
    try:
        stat = path.stat()
    except OSError:
        return None
    record = _read_record(str(path), stat.st_mtime_ns, stat.st_size)
    return dict(record) if record is not None else None


@functools.lru_cache(maxsize=64)
def _read_record(path: str, mtime_ns: int, size: int) -> dict[str, Any] | None:
    """A check record read once per version of its file (`record_check` replaces it whole)."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record_check(playbook_file: Path, playbook: Playbook, drills: list[str], checked_at: str) -> Path:
    """Mark this file's current content as checked: cases may pin it from now on."""
    path = check_record_path(playbook_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"name": playbook.name, "version": playbook.version, "digest": playbook.digest,
                               "drills": drills, "checked_at": checked_at}, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path
