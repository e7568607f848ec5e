"""`crisis case …`: one case's records and their keeping (issue 27): the stakeholder register, the signed
bundle to hand over, legal holds, and correcting what the group-complaint matcher joined.

Each command acts as the CLI's caller (`CRISIS_TOKEN` with authentication on; the operating-system
user on the embedded stack) and needs the permission the API route needs.
"""

import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from crisisdesk.permissions import Permission
from starter.commands.common import BadInput, err_console, fail, load_settings, run, with_pool

app = typer.Typer(help="one case's records: stakeholder register, export, legal hold, link and unlink",
                  no_args_is_help=True)
CASE = typer.Argument(..., help="crisis-<intake_id> or the intake id")
BY = typer.Option(None, "--by", help="who acts (default: your credential's person, or your user name)")


async def caller(settings, permission: Permission):
    """The authenticated caller holding `permission`; on the embedded stack, the local user by name."""
    from starter.auth import cli_principal

    who = await cli_principal(settings, permission)
    return who.model_copy(update={"person_id": getpass.getuser()}) if who.method == "local" else who


async def _temporal(settings):
    from starter import client as cases

    return await cases.connect(settings)


@app.command("stakeholders")
def stakeholders(case: str = CASE, as_csv: bool = typer.Option(False, "--csv", help="CSV on stdout, one row per person"),
                 reason: str | None = typer.Option(None, "--reason", help="why you read it (kept in privacy_log)"),
                 as_json: bool = typer.Option(False, "--json", help="the register as JSON")) -> None:
    """The stakeholder register (personal:read): everyone affected, by unit, employer, household,
    intermediary, key contact, with the positions taken. Each read is logged with who and why."""
    from activities.register import register_csv
    from starter import handover
    from starter.views import emit_json, out

    def body():
        settings = load_settings()

        async def use(pool):
            return await handover.stakeholders(pool, settings, await caller(settings, Permission.read_personal),
                                               case, reason, "cli")

        return asyncio.run(with_pool(settings, use))

    register = run(body)
    if as_csv:
        sys.stdout.write(register_csv(register))
        return
    if as_json:
        emit_json(register)
        return
    table = Table("id", "role", "name", "contact", "unit", "employer", "household", "intermediary", "key", "concerns")
    for p in register.stakeholders:
        table.add_row(str(p.stakeholder_id), p.role, p.name or ("(erased)" if p.purged else "–"), p.contact or "–",
                      p.unit or "–", p.employer or "–", p.household or "–", p.intermediary or "–",
                      "yes" if p.key_contact else "", p.concerns or "")
    out.print(table)
    for title, segments in (("units", register.units), ("employers", register.employers),
                            ("households", register.households), ("intermediaries", register.intermediaries)):
        if segments:
            out.print(f"{title}: " + "; ".join(f"{s.value} ({len(s.stakeholders)})" for s in segments), markup=False)
    if register.key_contacts:
        out.print(f"key contacts: {', '.join(str(i) for i in register.key_contacts)}", markup=False)
    for position in register.positions:
        out.print(f"position #{position.seq} by {position.by}: "
                  + "; ".join(f"{k}: {v}" for k, v in position.detail.items()), markup=False)


@app.command("export")
def export(case: str = CASE, out_file: Path = typer.Option(..., "--out", help="the zip to write, e.g. case.zip")) -> None:
    """The signed case bundle (case:read): timeline, status, report as HTML and PDF, evidence with its
    manifest and custody; the stakeholder register only with personal:read."""
    from starter import handover
    from starter.client import TemporalUnavailable

    def body():
        settings = load_settings()

        async def use(pool):
            who = await caller(settings, Permission.read_case)
            try:
                client = await _temporal(settings)
            except TemporalUnavailable as err:
                err_console.print(f"warning: {err}; exporting PostgreSQL's record", markup=False)
                client = None
            tmp = out_file.with_name(f".{out_file.name}.part")
            try:
                with tmp.open("wb") as handle:
                    written = await handover.export(client, pool, settings, who, case, handle, "cli")
                tmp.replace(out_file)
            finally:
                tmp.unlink(missing_ok=True)
            return written

        return asyncio.run(with_pool(settings, use))

    written = run(body)
    print(f"wrote {out_file}: {written.files} files, {written.evidence} evidence item(s)"
          f"{', with the stakeholder register' if written.personal_data else ', without personal data'}; "
          f"manifest digest {written.digest}, signed by key {written.key_fingerprint}")


@app.command("verify")
def verify(bundle: Path = typer.Argument(..., help="a bundle from `crisis case export`")) -> None:
    """Check a case bundle as its recipient would: the signature, then every file against the manifest."""
    from activities.bundle import verify_bundle

    check = verify_bundle(str(bundle))
    if not check.ok:
        for problem in check.problems[:-1]:
            print(f"problem: {problem}", file=sys.stderr)
        fail(check.problems[-1], 4)
    print(f"{bundle}: case {check.case_id}, {check.files} files as signed by key {check.key_fingerprint}")


@app.command("hold")
def hold(case: str = CASE, reason: str = typer.Option(..., "--reason", help="why the records must be kept")) -> None:
    """Put the case under legal hold (privacy:erase): retention and erasure requests leave it whole."""
    from activities.holds import place_hold
    from starter import client as cases

    def body():
        settings = load_settings()

        async def use(pool):
            who = await caller(settings, Permission.erase)
            try:
                return await place_hold(pool, cases.case_ref(case), reason, who.person_id)
            except ValueError as err:
                raise BadInput(str(err)) from None

        return asyncio.run(with_pool(settings, use))

    held, created = run(body)
    print(("placed: " if created else "already in place: ") + held.describe())


@app.command("release")
def release(case: str = CASE) -> None:
    """End the case's legal hold (privacy:erase); retention applies to it again."""
    from activities.holds import release_hold
    from starter import client as cases

    def body():
        settings = load_settings()

        async def use(pool):
            return await release_hold(pool, cases.case_ref(case), (await caller(settings, Permission.erase)).person_id)

        return asyncio.run(with_pool(settings, use))

    released = run(body)
    print(f"released: {released.describe()}")


@app.command("link")
def link(case: str = CASE, other: str = typer.Argument(..., help="the open case it reports again"), by: str | None = BY) -> None:
    """CASE reports the same problem as OTHER (a match the intake missed): it joins OTHER as one more
    reporter and closes; both timelines record it."""
    from starter import handover

    def body():
        settings = load_settings()

        async def use():
            return await handover.link(await _temporal(settings), await caller(settings, Permission.act), case, other,
                                       "cli", by)

        return asyncio.run(use())

    result = run(body)
    print(f"link: {result.message}")


@app.command("reopen")
def reopen(case: str = CASE) -> None:
    """The customer called again about a closed CASE: opens a new case linked to it (the new case shows the
    old one's last events and playbook; metrics count it as a re-opening). An open case is refused."""
    def body():
        settings = load_settings()

        async def use():
            from starter import client as cases

            await caller(settings, Permission.open_case)
            return await cases.reopen_case(await _temporal(settings), case, settings)

        return asyncio.run(use())

    started = run(body)
    print(f"reopened: {started.case_id} (re-opens {case}); its sheet shows the old case's last events")


@app.command("unlink")
def unlink(case: str = CASE, report: str = typer.Argument(..., help="the intake id of the report joined by mistake"),
           reason: str = typer.Option(..., "--reason", help="why it is another problem"), by: str | None = BY) -> None:
    """A report the intake joined to CASE by mistake leaves it (recorded there) and opens its own case."""
    from starter import handover

    def body() -> Any:
        settings = load_settings()

        async def use(pool):
            return await handover.unlink(await _temporal(settings), pool, settings,
                                         await caller(settings, Permission.act), case, report, reason, "cli", by)

        return asyncio.run(with_pool(settings, use))

    result, started, note = run(body)
    print(f"unlink: {result.message}")
    print(f"opened {started.case_id}" if started else note)
