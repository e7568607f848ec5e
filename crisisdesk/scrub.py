"""Personal data in free text: what retention can recognise and replace, and nothing else.

Summaries, descriptions, notes and reports are written by people, and people paste phone numbers,
e-mail addresses, ID card numbers and names into them. `Scrubber` replaces what it can recognise:

- Chinese resident ID numbers (18 characters: 6-digit area, birth date, 3 digits, check digit or X);
- phone numbers: mainland mobiles (`139 1234 5678`, `+86-139-1234-5678`), landlines with an area code
  (`021-6123 4567`), and international numbers written with a leading `+`;
- e-mail addresses;
- the names it is given (the case's stakeholders and reporters), matched ignoring case.

A run of digits glued to letters or other digits is never taken for a number (a SHA-256, an id), so
the record's structure survives. Pure and deterministic: safe anywhere, the same text always gives
the same result, so scrubbing twice changes nothing.
"""

import re
from collections.abc import Iterable
from typing import Any

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
                       r"(?![0-9A-Za-z])")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?:"
    r"(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}"          # mainland mobile
    r"|0\d{2,3}[\s-]\d{3,4}[\s-]?\d{4}"                       # landline with its area code
    r"|\+\d{1,3}(?:[\s-]?\d){6,14}"                           # international, written with +
    r")(?![0-9A-Za-z])")
MARKS = {"id": "[ID number]", "phone": "[phone]", "email": "[e-mail]", "name": "[name]"}
MIN_NAME = 2  # a one-character "name" would blank out ordinary words


class Scrubber:
    """Replaces recognisable personal data; counts what it replaced, by kind."""

    def __init__(self, names: Iterable[str | None] = ()) -> None:
        wanted = sorted({n.strip() for n in names if n and len(n.strip()) >= MIN_NAME}, key=len, reverse=True)
        self.names = re.compile("|".join(re.escape(n) for n in wanted), re.IGNORECASE) if wanted else None
        self.counts = {kind: 0 for kind in MARKS}

    def text(self, value: str) -> str:
        for kind, pattern in (("id", ID_NUMBER), ("email", EMAIL), ("phone", PHONE), ("name", self.names)):
            if pattern is not None:
                value, n = pattern.subn(MARKS[kind], value)
                self.counts[kind] += n
        return value

    def value(self, value: Any) -> Any:
        """Every string inside a JSON-like value (keys stay as they are)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    @property
    def total(self) -> int:
        return sum(self.counts.values())
