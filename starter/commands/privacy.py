"""`crisis privacy …`: erase personal data after retention, or on a person's request; the case
records (what was done, when, by whom) stay whole, and each run says how many rows it changed."""

import asyncio
import getpass
import sys

import typer

from crisisdesk.sealing import Sealer
from starter.commands.common import BadInput, load_settings, run, with_pool

app = typer.Typer(help="personal data: retention and erasure requests", no_args_is_help=True)


def _days(duration: str) -> float:

    units = {"d": 1, "w": 7, "h": 1 / 24}
    number, unit = duration[:-1], duration[-1:]
    try:
        value = float(number) * units[unit]
    except (KeyError, ValueError):
        raise BadInput(f"--older-than: {duration!r} is not a duration like 365d, 52w or 48h") from None
    if value <= 0:
        raise BadInput("--older-than: must be longer than zero")
    return value


@app.command("purge")
def purge(older_than: str = typer.Option(None, "--older-than",
                                         help="closed or cancelled longer ago than this: 365d, 52w, 48h (default: CRISIS_RETENTION)")) -> None:
    """Erase the personal data of cases closed longer ago than the retention period (what the daily Schedule
    crisis-privacy-purge runs), free text included; cases under legal hold are left alone and named."""
    from datetime import timedelta
    from pathlib import Path

    from activities.retention import purge_expired

    def body():
        settings = load_settings()
        age = timedelta(days=_days(older_than)) if older_than else settings.retention
        sealer, reports = Sealer.from_settings(settings), Path(settings.report_dir).resolve()
        return asyncio.run(with_pool(settings, lambda pool: purge_expired(pool, sealer, age, getpass.getuser(), reports)))

    done = run(body)
    print(f"{done.cases} case(s) past retention: {done.stakeholders} stakeholder row(s), {done.notifications} "
          f"notification(s) and {done.survey_responses} survey comment(s) erased; {done.text_fields} text field(s) "
          f"scrubbed ({done.scrubbed_phone} phone number(s), {done.scrubbed_email} e-mail address(es), "
          f"{done.scrubbed_id} ID number(s), {done.scrubbed_name} name(s))")
    for hold in done.held:
        print(f"kept: {hold}")


@app.command("erase")
def erase(person: str = typer.Argument(..., help="the name or contact the request gives")) -> None:
    """Serve an erasure request: every stakeholder or reporter entry naming this person."""
    from activities.privacy import erase_person

    def body() -> dict:
        settings = load_settings()
        sealer = Sealer.from_settings(settings)
        return asyncio.run(with_pool(settings, lambda pool: erase_person(pool, sealer, person, getpass.getuser())))

    counts = run(body)
    print(f"{counts['stakeholders']} stakeholder row(s) erased")


@app.command("rotate")
def rotate_key() -> None:
    """After a new key was put first in CRISIS_ENCRYPTION_KEY: re-seal every personal field an older key
    (or no key) wrote, with progress; the old keys can leave the list once it has run."""
    from activities.privacy import rotate

    def progress(done: int, total: int) -> None:
        print(f"re-sealed {done}/{total} stakeholder row(s)", file=sys.stderr, flush=True)

    def body() -> dict:
        settings = load_settings()
        sealer = Sealer.from_settings(settings)
        if not sealer.on:
            raise BadInput("CRISIS_ENCRYPTION_KEY: not set; rotation needs the new key first and the old ones after it")
        return asyncio.run(with_pool(settings, lambda pool: rotate(pool, sealer, getpass.getuser(), progress)))

    counts = run(body)
    print(f"{counts['stakeholders']} stakeholder row(s) and {counts['contacts']} contact(s) re-sealed with the first key"
          + (f"; {counts['unreadable']} sealed by a key CRISIS_ENCRYPTION_KEY does not hold, left as they are"
             if counts["unreadable"] else ""))
