"""The customer's page in words (issue 24): jinja2 templates (autoescaped) under templates/customer/,
every sentence through gettext domain `customer` (locale/{en,zh_CN}/LC_MESSAGES/customer.po, read with
babel), times in the project's zone as people write them. Pure: the route gathers a `CustomerView`
(what the case says, nothing personal: no staff ids, no other reporter, no contacts) and this writes it.
"""

import io
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from babel import Locale
from babel.dates import format_datetime, get_timezone, get_timezone_name
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

HERE = Path(__file__).parent
DOMAIN = "customer"
LOCALES = {"en": "en", "zh-CN": "zh_CN", "zh_CN": "zh_CN", "zh": "zh_CN"}
DEFAULT_LOCALE = "en"
# What the customer is asked, by the stage the case waits on (the forms shown) and the route that answers.
ASKS = {"awaiting_answer": "answer", "confirming": "confirm", "surveying": "survey"}
RATINGS = ("timeliness", "effectiveness", "attitude")


def locale_of(wanted: str | None, accept_language: str | None = None, default: str = DEFAULT_LOCALE) -> str:
    """`en` or `zh-CN`: the reporter's own locale, else the browser's, else the desk's default."""
    for candidate in [wanted, *((accept_language or "").replace(" ", "").split(","))]:
        tag = (candidate or "").split(";")[0]
        if tag in LOCALES or tag.split("-")[0] in LOCALES:
            return "zh-CN" if LOCALES.get(tag, LOCALES.get(tag.split("-")[0])) == "zh_CN" else "en"
    return "zh-CN" if LOCALES.get(default) == "zh_CN" else "en"


@cache
def translations(locale: str) -> Translations:
    """The `customer` catalogue of a locale, compiled from its .po in memory (no build step, no binaries)."""
    po = HERE / "locale" / LOCALES.get(locale, "en") / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=LOCALES.get(locale, "en"), domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@cache
def environment(locale: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates" / "customer"),
                             autoescape=True, extensions=["jinja2.ext.i18n"], undefined=jinja2.StrictUndefined)
    env.install_gettext_translations(translations(locale), newstyle=True)
    return env


def when(at: datetime | None, locale: str, zone: str) -> str:
    """A time as people write it in their language, in the project's zone: `8 Dec 2026, 14:30` / `2026年12月8日 14:30`."""
    if at is None:
        return ""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    pattern = "yyyy年M月d日 HH:mm" if locale == "zh-CN" else "d MMM yyyy, HH:mm"
    return format_datetime(at.astimezone(tz), pattern, locale=Locale.parse(LOCALES.get(locale, "en")))


def zone_name(zone: str, locale: str) -> str:
    """The zone as people name it (`China Time`, `中国时间`, `Coordinated Universal Time`), never an id."""
    try:
        tz = get_timezone(zone)
    except (LookupError, ValueError):
        tz, zone = get_timezone("UTC"), "UTC"
    variant = "standard" if zone in ("UTC", "Etc/UTC", "Etc/GMT", "GMT") else "generic"
    return get_timezone_name(tz, width="long", zone_variant=variant, locale=Locale.parse(LOCALES.get(locale, "en")))


@dataclass
class CustomerView:
    """What the reporter may see of their case."""

    reference: str  # the case's intake id: what they quote on the phone
    summary: str
    received_at: datetime | None
    stage: str
    plan: str | None = None
    promised: list[tuple[str, datetime]] = field(default_factory=list)  # (response|resolution, due)
    progress_at: datetime | None = None
    progress_count: int = 0
    closed: bool = False
    notice: str | None = None  # a message id to show at the top (answer_taken, not_awaited, …)
    notice_detail: str | None = None


def link_line(locale: str, link: str) -> str:
    """The line every message to a reporter ends with: their page."""
    return translations(locale).gettext("Your case page: %(link)s") % {"link": link}


def _n(text: str) -> str:
    """Marks a message for the catalogue (pybabel extracts `_n`); translated where it is used."""
    return text


# What a reporter is told, by the notification's kind: (subject, body), in the `customer` catalogue.
MESSAGES = {
    "acknowledgement": (_n("We received your report"),
                        _n("Thank you for telling us. Your case page shows what we promised and by when.")),
    "acknowledgement+respond_by": (_n("We received your report"),
                                   _n("Thank you for telling us. We will respond by %(respond_by)s.")),
    "customer_plan": (_n("Our plan for your case"),
                      _n("We have a plan for your case. Please tell us on your case page whether you accept it.")),
    "customer_explaining": (_n("About the plan for your case"),
                            _n("We cannot change the plan as you asked. Customer service will contact you to "
                               "explain why.")),
    "customer_executing": (_n("Work on your case has started"),
                           _n("The work agreed with you has started. We will keep you informed.")),
    "customer_progress": (_n("Progress on your case"), _n("There is news on your case: see your case page.")),
    "customer_confirm": (_n("Is the problem solved?"),
                         _n("The work is done. Please tell us on your case page whether the problem is solved.")),
    "customer_reminder": (_n("We are waiting for your answer"),
                          _n("We are still waiting for your answer. Please reply on your case page.")),
    "survey": (_n("How did we do?"), _n("Please rate our timeliness, effectiveness and attitude on your case page.")),
}


def message(kind: str, locale: str, case_ref: str, facts: dict[str, str] | None = None,
            zone: str = "UTC") -> tuple[str, str] | None:
    """A reporter's (subject, body) for a notification kind in their language, with the facts it carries
    (times written in the reader's way and zone); None: not one of theirs."""
    facts = facts or {}
    shown = {}
    known = {name for key in MESSAGES for name in key.split("+")[1:]}  # the case sends staff facts beside them
    for name, value in facts.items():
        if name not in known:
            continue
        try:
            shown[name] = when(datetime.fromisoformat(value), locale, zone)
        except (TypeError, ValueError):
            continue
    keyed = "+".join([kind, *sorted(shown)])
    if keyed not in MESSAGES and kind not in MESSAGES:
        return None
    words = translations(locale)
    subject, body = MESSAGES.get(keyed) or MESSAGES[kind]
    body = words.gettext(body)
    return f"[{case_ref}] {words.gettext(subject)}", body % shown if keyed in MESSAGES and shown else body


def page(view: CustomerView, locale: str, zone: str, action_base: str, query: str = "") -> str:
    """The page; `query` (`?lang=en`) is kept on the forms' addresses, so the answer comes back in it."""
    env = environment(locale)
    return env.get_template("page.html").render(
        v=view, lang=locale, ask=ASKS.get(view.stage), ratings=RATINGS, action_base=action_base, query=query,
        when=lambda at: when(at, locale, zone), zone=zone_name(zone, locale))


def plain(status: int, reason: str, locale: str) -> str:
    """The page a refused link shows: what happened and what to do, no case, no trace."""
    return environment(locale).get_template("refused.html").render(status=status, reason=reason, lang=locale)


def outcome(done: str, locale: str, back: str, detail: str | None = None) -> str:
    """After a form: taken, or not (the case was not waiting for it, a rating out of range)."""
    return environment(locale).get_template("done.html").render(done=done, lang=locale, back=back, detail=detail)
