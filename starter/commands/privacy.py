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
def purge(older_than: str = typer.Option(..., "--older-than", help="closed or cancelled longer ago than this: 365d, 52w, 48h")) -> None:
    """Erase the personal data of cases closed longer ago than the retention period."""
    from activities.privacy import purge_closed

    def body() -> dict:
        days = _days(older_than)
        return asyncio.run(with_pool(load_settings(), lambda pool: purge_closed(pool, days, getpass.getuser())))

    counts = run(body)
    print(f"{counts['cases']} case(s) past retention: {counts['stakeholders']} stakeholder row(s), "
          f"{counts['notifications']} notification(s) and {counts['survey_responses']} survey comment(s) erased")


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
