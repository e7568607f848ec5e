"""Where in a project a report is: phase or batch, building, entrance (单元) and flat, read from the way
people write a location.

    "二期3栋2单元201"          phase 2, building 3, entrance 2, flat 201
    "3号楼1单元502室"          building 3, entrance 1, flat 502
    "Building 3, unit 201"    building 3, flat 201
    "Block B, Flat 1203"      building B, flat 1203
    "3-2-201" / "3-201"       building 3 (entrance 2), flat 201: the structured `unit` of an intake
    "第2批交付" / "batch 2"    batch 2

Group complaints match on the building (or, without one, the batch): two owners of different flats of
one building reporting the same leak are one problem. Pure functions; nothing here does I/O.
"""

import re
import unicodedata
from typing import NamedTuple

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"[0-9]+|[零〇一二两三四五六七八九十]+"
_ID = rf"(?:{_NUM}|[A-Za-z])"

_PHASE = re.compile(rf"(?:({_NUM})\s*期|\bphase\s*({_NUM}|[ivx]+)\b)", re.IGNORECASE)
_BATCH = re.compile(rf"(?:第\s*({_NUM})\s*批|批次\s*({_NUM})|\bbatch\s*({_NUM})\b)", re.IGNORECASE)
_BUILDING = re.compile(rf"(?:({_ID})\s*(?:号楼|号|栋|幢|座|#\s*楼|#)|\b(?:building|bldg\.?|block|tower|blk\.?)\s*({_ID})\b)",
                       re.IGNORECASE)
_ENTRANCE = re.compile(rf"(?:({_NUM})\s*单元|\b(?:entrance|stair(?:case)?)\s*({_NUM})\b)", re.IGNORECASE)
_FLAT = re.compile(rf"(?:({_NUM})\s*室|单元\s*([0-9]+)|\b(?:flat|room|rm\.?|apt\.?|apartment|unit|no\.?)\s*([0-9]+[A-Za-z]?)\b)", re.IGNORECASE)
_COMPACT = re.compile(r"^\s*([0-9]+|[A-Za-z])\s*-\s*(?:([0-9]+)\s*-\s*)?([0-9]+[A-Za-z]?)\s*$")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}


class Place(NamedTuple):
    phase: str | None = None
    batch: str | None = None
    building: str | None = None
    entrance: str | None = None
    flat: str | None = None

    @property
    def known(self) -> bool:
        return any(self)


def number(text: str) -> str:
    """`12` for "12", "十二", "一二" (as written on doors: one-two); letters upper-cased."""
    text = text.strip()
    if text.isdigit():
        return str(int(text))
    if re.fullmatch(r"[A-Za-z]", text):
        return text.upper()
    if text.lower() in _ROMAN:
        return str(_ROMAN[text.lower()])
    if "十" in text:  # 十 = 10, 十二 = 12, 二十 = 20, 二十三 = 23
        tens, _, ones = text.partition("十")
        return str((_DIGITS.get(tens, 1) if tens else 1) * 10 + (_DIGITS.get(ones, 0) if ones else 0))
    if all(c in _DIGITS for c in text):
        return str(int("".join(str(_DIGITS[c]) for c in text)))
    return text


def _first(pattern: re.Pattern, text: str) -> str | None:
    match = pattern.search(text)
    if not match:
        return None
    return number(next(g for g in match.groups() if g is not None))


def parse_place(text: str | None) -> Place:
    """What a location or unit names; an empty `Place` when it names nothing recognisable."""
    if not text:
        return Place()
    text = unicodedata.normalize("NFKC", text)
    compact = _COMPACT.match(text)
    if compact:
        building, entrance, flat = compact.groups()
        return Place(building=number(building), entrance=number(entrance) if entrance else None, flat=number(flat))
    return Place(phase=_first(_PHASE, text), batch=_first(_BATCH, text), building=_first(_BUILDING, text),
                 entrance=_first(_ENTRANCE, text), flat=_first(_FLAT, text))


def place_of(location: str | None, unit: str | None = None) -> Place:
    """An intake's place: its structured `unit` first, filled in from its `location`."""
    given, written = parse_place(unit), parse_place(location)
    return Place(*(a if a is not None else b for a, b in zip(given, written)))


def _agree(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def same_place(a: Place, b: Place, match: str) -> bool:
    """Whether two reports are at the same place at the `match` level: `building` (or, where neither names
    a building, the same batch), `entrance` (the same building and 单元), or `project` (anywhere)."""
    if match == "project":
        return True
    if not (_agree(a.phase, b.phase) and _agree(a.batch, b.batch)):
        return False
    if a.building and b.building:
        return a.building == b.building and (match != "entrance" or (a.entrance is not None and a.entrance == b.entrance))
    if a.building or b.building:
        return False
    return match == "building" and a.batch is not None and a.batch == b.batch
