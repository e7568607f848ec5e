"""`--since`/`since=` as people write it: a duration back from now (`7d`, `12h`, `2w`, `90m`, ISO
`P30D`) or a moment (`2026-01-01`, `2026-01-01T08:00:00Z`). Shared by the CLI and the API."""

import re
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from crisisdesk.models.metrics import GROUP_FIELDS, MetricsQuery

_SHORT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DEFAULT_SINCE = "30d"


class QueryError(ValueError):
    """One line naming the parameter and what is wrong with it."""


def parse_when(text: str, now: datetime, field: str) -> datetime:
    """A moment: either `now` minus a duration, or an ISO date/time (UTC when no zone is given)."""
    try:
        short = _SHORT.match(text)
        if short:
            return now - timedelta(**{_UNITS[short.group(2)]: float(short.group(1))})
        if text.strip().upper().startswith("P"):
            return now - TypeAdapter(timedelta).validate_python(text.strip())
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise QueryError(f"{field}: {text!r} reaches outside the calendar") from None
    except (ValueError, ValidationError):
        raise QueryError(f"{field}: {text!r} is neither a duration (7d, 12h, 2w, 90m, P30D) "
                         "nor a date (2026-01-31)") from None


def _plain(value: str | None, field: str) -> str | None:
    """PostgreSQL text holds neither NUL nor lone surrogates: refuse them here, naming the field."""
    if value is not None and ("\x00" in value or not value.isprintable() and _unencodable(value)):
        raise QueryError(f"{field}: contains a character text cannot hold (NUL or a lone surrogate)")
    return value


def _unencodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def build_query(since: str | None, until: str | None, by: str | None, drills: bool = False,
                project: str | None = None, region: str | None = None, now: datetime | None = None) -> MetricsQuery:
    now = now or datetime.now(UTC)
    end = parse_when(until, now, "until") if until else now
    start = parse_when(since or DEFAULT_SINCE, end, "since")  # a duration counts back from `until`
    if by is not None and by not in GROUP_FIELDS:
        raise QueryError(f"by: {by!r} is not a field to group by; choose one of {', '.join(GROUP_FIELDS)}")
    if start >= end:
        raise QueryError(f"since: {start.isoformat()} is not before until ({end.isoformat()})")
    return MetricsQuery(since=start, until=end, by=by, scope="drill" if drills else "real",
                        project=_plain(project, "project"), region=_plain(region, "region"))
