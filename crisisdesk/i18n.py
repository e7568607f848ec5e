"""Words in the reader's language: the message catalogues, local times and durations (issue 23).

The workflow records facts (a kind, names, times, figures, and `said(id, **args)` values for its
refusals and reasons); everything a person reads is written from them here, in a locale (`en`,
`zh-CN`) and a time zone (IANA). The catalogues are gettext `.po` files under `crisisdesk/locale/`,
domain `messages`, read once at import with babel, so a fresh clone needs no compile step and a
change of wording is not a workflow change.

Pure after import: the catalogues, babel's locale data and the zones are loaded when this module is
imported (outside the workflow sandbox, `crisisdesk` is passed through), so rendering the case sheet
inside the workflow does no I/O.

Placeholders are `{name}` (str.format). A fact whose name ends in `_at` is an ISO time and is shown
as local time ("12月3日（周四）14:00" / "Thu 3 Dec, 14:00"); `_seconds` a duration ("3小时20分" /
"3 h 20 min"); a list is joined ("、" / ", "); a `said` value is rendered in turn.
"""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.dates import format_datetime
from babel.messages.pofile import read_po

LOCALES = ("en", "zh-CN")
DEFAULT_LOCALE = "en"
DOMAIN = "messages"
HERE = Path(__file__).resolve().parent / "locale"
_BABEL = {"en": "en", "zh-CN": "zh_CN"}
# How a sentence shows a time: the weekday and day as people write them, never ISO or "UTC".
_PATTERN = {"en": "EEE d MMM, HH:mm", "zh-CN": "M月d日（EEE）HH:mm"}
_DAY = {"en": "d MMM y", "zh-CN": "y年M月d日"}
_SEP = {"en": ", ", "zh-CN": "、"}


def _load(locale: str) -> dict[str, str]:
    with open(HERE / _BABEL[locale] / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as f:
        catalog = read_po(f, locale=_BABEL[locale], domain=DOMAIN)
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and m.string}


CATALOGUES: dict[str, dict[str, str]] = {loc: _load(loc) for loc in LOCALES}


def said(msg_id: str, **args: Any) -> dict[str, Any]:
    """A sentence as facts: its message id and arguments, rendered where it is read."""
    return {"id": msg_id, "args": {k: v for k, v in args.items() if v is not None}}


def is_said(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and isinstance(value.get("args", {}), dict)


# -- locales and zones ---------------------------------------------------------------------------
def normal_locale(value: str | None) -> str | None:
    """`zh-CN`, `zh_CN`, `zh-cn`, `zh` → `zh-CN`; `en`, `en-US`, `en_GB` → `en`; anything else None."""
    if not isinstance(value, str):
        return None
    v = value.strip().replace("_", "-").lower()
    if v in ("zh", "zh-cn", "zh-hans", "zh-hans-cn"):
        return "zh-CN"
    if v == "en" or v.startswith("en-"):
        return "en"
    return None


def check_locale(value: str | None, field: str) -> str | None:
    """The supported locale `value` names, or None for None; else a ValueError naming the field."""
    if value is None or value == "":
        return None
    found = normal_locale(value)
    if found is None:
        raise ValueError(f"{field}: {value!r} is not a supported locale; use one of {', '.join(LOCALES)}")
    return found


@cache
def zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(value: str | None, field: str) -> str | None:
    """An IANA zone name, or None for None; else a ValueError naming the field."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in zones():
        raise ValueError(f"{field}: {value!r} is not an IANA time zone; use a name such as UTC, Asia/Shanghai, "
                         "Asia/Hong_Kong, Europe/London")
    return value


@cache
def zone(name: str | None) -> ZoneInfo | timezone:
    if not name or name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


# Who is being answered, where that is known per request (the API from Accept-Language, else CRISIS_LOCALE;
# the CLI from CRISIS_LOCALE): a refusal is written in their locale.
READER: ContextVar[str | None] = ContextVar("crisisdesk_reader_locale", default=None)
READER_ZONE: ContextVar[str | None] = ContextVar("crisisdesk_reader_zone", default=None)


def from_accept_language(header: str | None, default: str | None = None) -> str | None:
    """The first supported locale an `Accept-Language` header names (`zh-CN,zh;q=0.9,en;q=0.8` → zh-CN)."""
    for part in (header or "").split(","):
        found = normal_locale(part.split(";")[0].strip())
        if found:
            return found
    return default


def loc(locale: str | None) -> str:
    return normal_locale(locale) or DEFAULT_LOCALE


# -- times and durations ----------------------------------------------------------------------
def when(at: datetime | str | None, locale: str | None = None, tz: str | None = None) -> str:
    """`12月3日（周四）14:00` / `Thu 3 Dec, 14:00`, in the zone `tz`."""
    if at is None:
        return ""
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            return at
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    lc = loc(locale)
    return format_datetime(at.astimezone(zone(tz)), _PATTERN[lc], locale=_LOCALE[lc])


def listing(values: list[str] | tuple[str, ...], locale: str | None = None) -> str:
    """`a、b、c` / `a, b, c`."""
    return _SEP[loc(locale)].join(values)


def day(at: datetime, locale: str | None = None, tz: str | None = None) -> str:
    """`2026年12月3日` / `3 Dec 2026`: the day `at` falls on in the zone `tz`."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    lc = loc(locale)
    return format_datetime(at.astimezone(zone(tz)), _DAY[lc], locale=_LOCALE[lc])


def duration(delta: timedelta | int | float, locale: str | None = None) -> str:
    """`3小时20分` / `3 h 20 min`; `2天5小时` / `2 d 5 h` (to the minute, never negative)."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if loc(locale) == "zh-CN":
        parts = [f"{days}天"] * bool(days) + [f"{hours}小时"] * bool(hours) + [f"{mins}分"] * bool(mins or not (days or hours))
        return "".join(parts)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{mins} min"] * bool(mins or not (days or hours))
    return " ".join(parts)


def left(delta: timedelta, locale: str | None = None) -> str:
    """`还剩3小时20分` / `3 h 20 min left`; past due: `已超时5分` / `overdue by 5 min`."""
    if delta.total_seconds() >= 0:
        return text(locale, "time.left", duration=duration(delta, locale))
    return text(locale, "time.overdue", duration=duration(-delta, locale))


# -- sentences --------------------------------------------------------------------------------
def text(locale: str | None, msg_id: str, /, tz: str | None = None, **args: Any) -> str:
    """The message `msg_id` in `locale`, its placeholders filled from `args` (see the module doc).
    A message missing in `locale` falls back to English; one missing everywhere shows its arguments,
    never its id (tests/test_catalogue.py fails first)."""
    lc = loc(locale)
    template = CATALOGUES[lc].get(msg_id) or CATALOGUES[DEFAULT_LOCALE].get(msg_id)
    filled = {k: shown(k, v, lc, tz) for k, v in args.items()}
    if template is None:
        return " ".join(str(v) for v in filled.values())
    try:
        return template.format_map(_Blank(filled))
    except (ValueError, IndexError, AttributeError):
        return template


def say(value: Any, locale: str | None = None, tz: str | None = None) -> str:
    """A `said` value (or plain text, which is the person's own words) in `locale`."""
    if is_said(value):
        return text(locale, value["id"], tz=tz, **value.get("args", {}))
    return "" if value is None else str(value)


# Facts that name a term of the trade: shown in the reader's words when the catalogue has them
# (`deadline.response` → "响应"), else as given (a playbook's own deadline names, a person's id).
TERMS = {"deadline": "deadline.", "stage": "stage.", "path": "path.", "action_path": "path.", "severity": "severity.",
         "party": "party.", "scope": "scope.", "kind": "kind.", "status": "status.", "role": "role.", "roles": "role.",
         "what": "wait.", "revision": "revision.", "stages": "stage.", "category": "category."}


LINES = ("tasks",)


def term(name: str, value: str, locale: str | None = None) -> str:
    prefix = TERMS.get(name)
    if prefix is None:
        return value
    lc = loc(locale)
    if lc == DEFAULT_LOCALE and name in ("role", "roles") and value != "reporter":
        return value  # English names a role by its id, as operators type it
    key = prefix + (value.split(":", 1)[0] if name in ("role", "roles") and value.startswith("department:") else value)
    found = CATALOGUES[lc].get(key) or CATALOGUES[DEFAULT_LOCALE].get(key)
    if found and name in ("role", "roles") and ":" in value:
        return f"{found}（{value.split(':', 1)[1]}）" if lc == "zh-CN" else f"{found} ({value.split(':', 1)[1]})"
    return found or value


def shown(name: str, value: Any, locale: str, tz: str | None) -> str:
    if is_said(value):
        return say(value, locale, tz)
    if value is None:
        return ""
    if name.endswith("_at") and isinstance(value, (str, datetime)):
        return when(value, locale, tz)
    if name.endswith("_seconds") and isinstance(value, (int, float)):
        return duration(value, locale)
    if isinstance(value, (list, tuple)):  # `lines`-like facts one a line, others in a sentence
        return ("\n" if name in LINES else _SEP[locale]).join(shown(name, v, locale, tz) for v in value)
    if isinstance(value, str) and name in TERMS:
        return term(name, value, locale)
    if isinstance(value, timedelta):
        return duration(value, locale)
    if isinstance(value, datetime):
        return when(value, locale, tz)
    return str(value)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


# Load babel's data for both locales now, outside any sandbox: rendering later does no I/O.
_LOCALE = {lc: Locale.parse(_BABEL[lc]) for lc in LOCALES}
for _lc in LOCALES:
    when(datetime(2026, 12, 3, 6, 0, tzinfo=timezone.utc), _lc, "Asia/Shanghai")
    day(datetime(2026, 12, 3, 6, 0, tzinfo=timezone.utc), _lc, "Asia/Shanghai")
