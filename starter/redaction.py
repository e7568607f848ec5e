"""Personal data out of the answers of callers without `personal:read` (issue 21, docs/access.md).

The case names people by directory id; reporters', stakeholders' and customers' own names and
contacts, their concerns and survey comments are personal data. An answer to a caller without
`personal:read` (`GET /cases/{id}`, its timeline, `crisis status`, `crisis timeline` with
CRISIS_AUTH on) goes through `redact_status` / `redact_events`: the values of personal fields are
replaced by `REDACTED`, a recipient written `Name <contact>` loses both, and an e-mail address or a
phone number in any other text (a summary, a note, a reason) is masked. Staff ids (`by`, roles,
`identity`) stay: they are how the record says who acted.
"""

import re
from typing import Any

from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk.permissions import Permission

REDACTED = "(redacted: needs personal:read)"
# Fields whose value is someone's personal data wherever they appear in an answer.
PERSONAL_FIELDS = frozenset({
    "reporter", "name_of_reporter", "contact", "contacts", "phone", "email", "address", "recipients",
    "household", "employer", "unit", "intermediary", "concerns", "comment", "comments", "stakeholder_name",
})
# Fields that hold staff ids: never masked (a person id may well look like an e-mail address).
STAFF_FIELDS = frozenset({"by", "identity", "person", "to", "granted_by", "decided_by", "owner", "roles", "experts",
                          "next_owner", "alerted"})
# Lists of people the case reached: directory ids, but a reporter may be written `Name <contact>`.
PEOPLE_FIELDS = frozenset({"people", "unresolved"})
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<!\w)(?:\+\d[\d ()./-]{5,}\d|1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\w)")
ADDRESSED = re.compile(r"^.*<[^<>]*>\s*$")  # `Zhang Wei <+8613912345678>`: a recipient as the case wrote it


def masked(text: str) -> str:
    if ADDRESSED.match(text):
        return REDACTED
    return PHONE.sub("(phone)", EMAIL.sub("(e-mail)", text))


def _clean(value: Any, key: str | None = None) -> Any:
    if key in STAFF_FIELDS:
        return value
    if key in PEOPLE_FIELDS and isinstance(value, list):
        return [REDACTED if isinstance(v, str) and ADDRESSED.match(v) else v for v in value]
    if key in PERSONAL_FIELDS and value is not None and not isinstance(value, bool):
        return REDACTED
    if isinstance(value, str):
        return masked(value)
    if isinstance(value, dict):
        return {k: _clean(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, key) for v in value]
    return value


def redact_value(value: Any) -> Any:
    """Any JSON value as an answer to a caller without `personal:read` (the codec endpoint's decode for
    callers without `payload:decode`)."""
    return _clean(value)


def needs_redaction(who: Any) -> bool:
    return not who.can(Permission.read_personal)


def redact_events(events: list[TimelineEvent]) -> list[TimelineEvent]:
    return [e.model_copy(update={"detail": _clean(e.detail)}) for e in events]


def redact_status(status: CaseStatus) -> CaseStatus:
    data = status.model_dump()
    keep = {k: data.pop(k) for k in ("case_id", "intake_id", "roles", "delegation", "deadlines", "counts")}
    return CaseStatus.model_validate({**_clean(data), **keep})
