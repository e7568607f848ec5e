"""A notification's words, written from the case's facts when it is sent (issue 23).

The workflow sends `facts` and a `wording` (messages `note.<wording>.subject` / `.body` in
crisisdesk/locale); here they become the subject and body in the note's locale (the reporter's own
for a message to the customer, else the project's, else `CRISIS_LOCALE`) with times in the project's
zone (else `CRISIS_TIMEZONE`). A person with a locale of their own gets theirs (activities/reach.py).
"""

from crisisdesk import i18n
from crisisdesk.models.effects import Notification
from crisisdesk.settings import Settings


def words(note: Notification, locale: str | None, tz: str | None) -> tuple[str, str]:
    """(subject, body) of a note written from facts, in `locale`."""
    base = f"note.{note.wording or note.kind}" + (".customer" if note.customer else "")
    facts = note.facts or {}
    subject = i18n.text(locale, f"{base}.subject", tz=tz, **facts) or i18n.text(locale, f"note.{note.kind}.subject", tz=tz, **facts)
    body = i18n.text(locale, f"{base}.body", tz=tz, **facts)
    return f"[{note.case_id}] {subject}", body


def written(note: Notification, settings: Settings) -> Notification:
    """The note with its subject and body (unchanged when it came with words already)."""
    if note.facts is None:
        return note
    locale, tz = reader(note, settings)
    subject, body = words(note, locale, tz)
    return note.model_copy(update={"subject": subject, "body": body, "locale": locale, "timezone": tz})


def reader(note: Notification, settings: Settings) -> tuple[str, str]:
    return (i18n.loc(note.locale or settings.locale), note.timezone or settings.timezone)


def for_person(note: Notification, locale: str | None, settings: Settings) -> Notification:
    """The note in a person's own locale, when they have one and it differs."""
    if note.facts is None or not locale or i18n.loc(locale) == i18n.loc(note.locale):
        return note
    subject, body = words(note, i18n.loc(locale), note.timezone or settings.timezone)
    return note.model_copy(update={"subject": subject, "body": body, "locale": i18n.loc(locale)})
