"""`crisis upgrade-check`: would the open cases still replay on the installed workflow code?
(starter/upgrade_check.py says how; docs/deploy.md "Upgrading workflow code safely" when to run it.)"""

import asyncio

import typer
from starter.commands.common import load_settings, run
from starter.views import emit_json

EXIT_WOULD_NOT_REPLAY = 6


def upgrade_check(sample: int | None = typer.Option(None, "--sample", min=1, help="replay this many open cases, chosen at random"),
                  where: str | None = typer.Option(None, "--where", help="more visibility query, e.g. \"CrisisProject = 'P-7'\""),
                  as_json: bool = typer.Option(False, "--json", help="machine-readable JSON on stdout")) -> None:
    """Replay the histories of open cases against this code; exit 6 naming each case that would not replay."""
    from crisisdesk.converter import data_converter
    from starter import client as cases
    from starter.upgrade_check import check_open_cases

    async def body():
        settings = load_settings()
        client = await cases.connect(settings)
        return await check_open_cases(client, data_converter(settings, worker=True), sample=sample, where=where)

    report = run(lambda: asyncio.run(body()))
    if as_json:
        emit_json(report.as_json())
    else:
        for failure in report.failures:
            print(f"{failure.case_id}  {failure.failure}")
        verdict = (f"{len(report.failures)} would NOT replay: run the code that wrote them, or patch the change "
                   "(workflow.patched)" if report.failures else "all replay")
        print(f"checked {report.checked} of {report.open} open case(s) on {report.code} in {report.seconds} s: {verdict}")
    if report.failures:
        raise typer.Exit(EXIT_WOULD_NOT_REPLAY)
