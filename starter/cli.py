"""`crisis`: the operator's command line (docs/contract.md, "Commands").

Tables for people, `--json` for scripts. Every failure is one line on stderr and a non-zero exit:
2 bad input, 3 case not found, 4 action refused, 5 Temporal, a worker or PostgreSQL unavailable,
1 anything else. `CRISIS_DEBUG=1` adds the traceback.
"""

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any, TypeVar

import structlog
import typer
from pydantic import ValidationError
from temporalio.client import Client

from crisisdesk import i18n
from crisisdesk.acting import carrying_acting
from crisisdesk.logs import configure_logging
from crisisdesk.models.actions import describe_validation_error
from crisisdesk.permissions import Permission
from crisisdesk.models.case import ActionResult, CaseStatus, TimelineEvent
from crisisdesk.models.intake import Intake
from crisisdesk.settings import Settings
from starter import client as cases
from starter.client import ActionInvalid, CaseNotFound, StartedCase, TemporalUnavailable
from starter.commands import backup as backup_command, upgrade as upgrade_command
from starter.commands import case as case_command, engines as engines_command, evidence as evidence_command
from starter.commands import customer as customer_command
from starter.commands import metrics as metrics_command, oncall as oncall_command, playbook as playbook_command
from starter.commands import privacy as privacy_command, projects as projects_command, users as users_command
from starter.commands.common import (
    JSON_OPTION, KEY_MISSING, BadInput, KeyMissing, err_console, fail, load_settings, parse_json, run, with_pool,
)
from starter.stuck import StuckCase, find_stuck
from starter.views import (
    emit_json, out, show_articles, show_contingency, show_started, show_status, show_stuck, show_timeline,
)

T = TypeVar("T")

app = typer.Typer(help="crisisdesk: crisis and after-sales cases as durable Temporal workflows.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
kb_app = typer.Typer(help="The knowledge base built from case reviews.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")



@app.callback()
def _setup() -> None:
    """Log lines go to stderr, warnings and up: stdout is for the answer (and `--json`)."""
    # Refusals and words written from the catalogue in the operator's language (issue 23).
    i18n.READER.set(i18n.normal_locale(os.environ.get("CRISIS_LOCALE")))
    i18n.READER_ZONE.set(os.environ.get("CRISIS_TIMEZONE") if os.environ.get("CRISIS_TIMEZONE") in i18n.zones() else None)
    if not structlog.is_configured():
        configure_logging(os.environ.get("LOG_FORMAT", "console"), level=logging.WARNING)
        structlog.configure(cache_logger_on_first_use=False)


# --- the async bodies: each takes an optional client, so tests call what users call -------------

async def _client(settings: Settings, client: Client | None) -> Client:
    if client is None and settings.encryption_key is None:
        from starter.discovery import read_stack

        stack = read_stack() or {}
        if stack.get("encrypted") and stack.get("temporal_address") == settings.temporal_address:
            raise KeyMissing(KEY_MISSING)  # say so before sending anything in clear
    return client or await cases.connect(settings)


async def start_body(settings: Settings, source: str, client: Client | None = None) -> StartedCase:
    intake = read_intake(source)
    return await cases.start_case(await _client(settings, client), intake, settings)


async def status_body(settings: Settings, case: str, client: Client | None = None) -> CaseStatus:
    """With CRISIS_AUTH on: as the person of CRISIS_TOKEN, within their scope, redacted without personal:read."""
    from starter.auth import cli_principal
    from starter.redaction import needs_redaction, redact_status
    from starter.scope import check_place

    who = await cli_principal(settings, Permission.read_case)
    state = await cases.status(await _client(settings, client), case)
    check_place(who, state.case_id, state.project)
    return redact_status(state) if needs_redaction(who) else state


async def timeline_body(settings: Settings, case: str, client: Client | None = None, after_seq: int = 0,
                        limit: int = 1000) -> list[TimelineEvent]:
    """The whole record from PostgreSQL (when DATABASE_URL is set) with what the case has not recorded yet;
    with CRISIS_AUTH on, as `status_body` says."""
    from starter.auth import cli_principal
    from starter.redaction import needs_redaction, redact_events
    from starter.scope import CasePlaces

    who = await cli_principal(settings, Permission.read_case)
    client = await _client(settings, client)

    async def read(pool) -> list[TimelineEvent]:
        await CasePlaces().check(who, client, case, pool)
        return await cases.timeline_page(client, case, pool, after_seq, limit)

    events = await (read(None) if settings.database_url is None else with_pool(settings, read))
    return redact_events(events) if needs_redaction(who) else events


async def act_body(settings: Settings, case: str, action: str, raw: str, client: Client | None = None) -> ActionResult:
    """Send the action; the case refuses (and records) what is wrong with it, from an excerpt: a payload
    larger than the action can be, or not fitting it, never reaches the case. With Temporal down, a
    malformed payload is still reported first, by its fields."""
    from starter.bodies import ACTION_NAME, action_limit

    if not ACTION_NAME.fullmatch(action):
        shown = action[:64] + (f"… ({len(action)} characters)" if len(action) > 64 else "")
        raise BadInput(f"ACTION: {shown!r} is not an action name (letters, digits and _, at most 64)")
    payload = parse_json(raw, f"the {action} payload")
    try:
        client = await _client(settings, client)
    except TemporalUnavailable:
        cases.validate_action(action, payload)
        raise
    from starter.auth import acting_as, cli_principal
    from starter.scope import CasePlaces

    who = await cli_principal(settings, Permission.act)
    await CasePlaces().check(who, client, case)
    client = carrying_acting(client, settings.stamp_signer())  # the case believes who acts only from a signed stamp
    size, limit = len(raw.encode("utf-8", "surrogatepass")), action_limit(action, settings)
    refusal = None
    if size > limit:
        why = f"the payload is {size} bytes, more than {action} can be ({limit}): nothing of it was kept"
        refusal = ActionInvalid(f"{action}: {why}", [{"loc": ["body"], "msg": why, "type": "value_error"}])
    return await acting_as(client, who, "cli", case, action, payload, refusal=refusal, settings=settings)


async def stuck_body(settings: Settings, idle_hours: float, min_attempts: int, where: str | None = None,
                     client: Client | None = None) -> list[StuckCase]:
    """With CRISIS_AUTH on, only the cases of the caller's projects and regions."""
    from starter.auth import cli_principal
    from starter.scope import visibility_clause

    who = await cli_principal(settings, Permission.read_case)
    scope = visibility_clause(who)
    if scope == "":
        return []  # a person whose entry lists no project or region, with CRISIS_ACCESS_UNSCOPED=none
    if scope is not None:
        where = f"({scope}) AND ({where})" if where else scope
    client = await _client(settings, client)

    async def find(pool) -> list[StuckCase]:
        return await find_stuck(client, idle_hours=idle_hours, min_attempts=min_attempts, where=where, pool=pool)

    if settings.database_url is None:
        return await find(None)
    try:  # the record tells a terminated case that was open; without PostgreSQL, the run's last stage does
        return await with_pool(settings, find)
    except OSError:
        return await find(None)


# --- input ---------------------------------------------------------------------------------------

def read_intake(source: str) -> Intake:
    if source == "-":
        raw, name = sys.stdin.read(), "stdin"
    else:
        try:
            raw, name = Path(source).read_text(encoding="utf-8"), source
        except OSError as err:
            raise BadInput(f"cannot read {source}: {err.strerror or err}") from None
    data = parse_json(raw, name)
    try:
        return Intake.model_validate(data)
    except ValidationError as err:
        raise BadInput(f"{name} is not a valid intake: {describe_validation_error(err)}") from None


# --- running and failing -------------------------------------------------------------------------

# --- commands ------------------------------------------------------------------------------------

@app.command()
def start(file: str = typer.Argument(..., help="an intake as JSON, or - for stdin"), as_json: bool = JSON_OPTION) -> None:
    """Open the case for an intake (the same intake_id again finds the same case)."""
    started = run(lambda: asyncio.run(start_body(load_settings(), file)))
    emit_json(started) if as_json else show_started(started)


@app.command()
def status(case: str = typer.Argument(..., help="crisis-<intake_id> or the intake id"), as_json: bool = JSON_OPTION) -> None:
    """Where a case stands: stage, roles, deadlines, what it waits for."""
    state = run(lambda: asyncio.run(status_body(load_settings(), case)))
    emit_json(state) if as_json else show_status(state)


@app.command()
def timeline(case: str = typer.Argument(..., help="crisis-<intake_id> or the intake id"),
             after: int = typer.Option(0, "--after", min=0, help="only events after this seq"),
             limit: int = typer.Option(1000, "--limit", min=1, help="at most this many events"),
             as_json: bool = JSON_OPTION) -> None:
    """Everything that happened to a case, rejected actions included (a page at a time: --after, --limit)."""
    events = run(lambda: asyncio.run(timeline_body(load_settings(), case, after_seq=after, limit=limit)))
    emit_json(events) if as_json else show_timeline(events)


@app.command()
def act(case: str = typer.Argument(..., help="crisis-<intake_id> or the intake id"),
        action: str = typer.Argument(..., help="an action name, e.g. decide_plan (docs/operators.md)"),
        payload: str = typer.Argument(..., metavar="JSON", help='one JSON object, e.g. \'{"by": "Wang"}\''),
        as_json: bool = JSON_OPTION) -> None:
    """Take an action on a case; a refusal says why and is kept on the case's timeline."""
    result = run(lambda: asyncio.run(act_body(load_settings(), case, action, payload)))
    if as_json:
        emit_json(result)
    else:
        out.print(f"{action}: {result.message} (stage {result.stage})", markup=False)


@app.command()
def stuck(idle_hours: float = typer.Option(24, "--idle-hours", min=0, help="idle when nothing happened for this long"),
          min_attempts: int = typer.Option(3, "--min-attempts", min=1, help="failing from this activity attempt on"),
          where: str | None = typer.Option(None, "--where", help="more visibility query, e.g. \"CrisisProject = 'P-7'\""),
          as_json: bool = JSON_OPTION) -> None:
    """Running cases that are overdue, idle, or whose activities keep failing; and what would move them."""
    rows = run(lambda: asyncio.run(stuck_body(load_settings(), idle_hours, min_attempts, where)))
    emit_json(rows) if as_json else show_stuck(rows)


@app.command()
def report(case: str = typer.Argument(..., help="crisis-<intake_id> or the intake id"),
           html: bool = typer.Option(False, "--html", help="HTML instead of text"),
           out_file: Path | None = typer.Option(None, "--out", help="write to this file instead of stdout")) -> None:
    """The case report (progress, deadlines, decisions) from PostgreSQL."""
    def body() -> str:
        from activities.reports import render_case_report
        from starter.auth import cli_principal
        from starter.redaction import needs_redaction, redact_events, redact_status

        async def use(pool) -> dict:
            who = await cli_principal(settings, Permission.read_case)
            if not who.every_case:  # within the person's scope, from the record (as for a case Temporal no longer holds)
                row = await pool.fetchrow("SELECT project_id, region FROM cases WHERE case_id = $1", cases.case_ref(case))
                if row is None or not who.sees(row["project_id"], row["region"]):
                    raise CaseNotFound(cases.case_ref(case))
            if needs_redaction(who):
                return await render_case_report(pool, cases.case_ref(case),
                                                clean=lambda status, events: (redact_status(status), redact_events(events)),
                                                locale=settings.locale, tz=settings.timezone)
            return await render_case_report(pool, cases.case_ref(case), locale=settings.locale, tz=settings.timezone)

        settings = load_settings()
        rendered = asyncio.run(with_pool(settings, use))
        return rendered["html" if html else "markdown"]

    text = run(body)
    if out_file:
        out_file.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {out_file}", markup=False)
    else:
        print(text)


@kb_app.command("search")
def kb_search(words: list[str] = typer.Argument(..., help="words to look for"), as_json: bool = JSON_OPTION) -> None:
    """Knowledge articles matching the words (from closed cases' reviews)."""
    def body() -> Any:
        from activities.knowledge import search_knowledge

        async def use(pool) -> list[dict]:
            return await search_knowledge(pool, " ".join(words))

        return asyncio.run(with_pool(load_settings(), use))

    found = run(body)
    rows = [dict(r) for r in found]
    if as_json:
        emit_json(rows)
        return
    show_articles(rows)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})
def dev(ctx: typer.Context) -> None:
    """The whole embedded stack in the foreground (what `make run` runs); `crisis dev --help` for its options."""
    def body() -> Any:
        from starter import dev as stack  # its own parser owns the options: nothing to keep in step here

        parse = getattr(stack, "parse_args", None) or stack._parse
        return stack.main(**vars(parse(list(ctx.args))))

    code = run(body)
    raise typer.Exit(code if isinstance(code, int) else 0)


def main() -> None:
    """The console script. It leaves by `os._exit` once its output is flushed: the Temporal client's
    Rust threads can outlive the event loop and abort interpreter finalisation ("Fatal Python error:
    PyGILState_Release", temporalio/sdk-python#300), which a cron job would read as a failure."""
    try:
        app()  # typer answers usage errors and --help itself, and leaves by SystemExit
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)



@app.command()
def drill(files: list[Path] = typer.Argument(..., help="drill scenarios as JSON (see drills/); several share one stack"),
          as_json: bool = JSON_OPTION) -> None:
    """Run a playbook against scenarios in simulated time, on a private throw-away stack."""
    from starter.drill import Drill, DrillStack

    scenarios = []
    for file in files:
        try:
            scenarios.append(Drill.model_validate(parse_json(file.read_text(encoding="utf-8"), str(file))))
        except OSError as err:
            fail(f"{file}: {err.strerror}", 2)
        except ValidationError as err:
            fail(f"{file}: {describe_validation_error(err)}", 2)

    def step_done(outcome, total: int) -> None:
        mark = "ok" if outcome.accepted else "REFUSED"
        err_console.print(f"[{outcome.step}/{total}] {outcome.what}: {mark} {outcome.message}", markup=False)

    async def play_all():
        async with DrillStack(load_settings()) as stack:
            return [await stack.play(scenario, on_step=step_done) for scenario in scenarios]

    results = run(lambda: asyncio.run(play_all()))
    if as_json:
        dumped = [result.model_dump(mode="json") for result in results]
        emit_json(dumped[0] if len(dumped) == 1 else dumped)
        return
    for result in results:
        show_timeline([e for e in result.timeline if e.kind in ("deadline_set", "deadline_met", "breach", "escalated",
                                                                 "rejected", "report", "path", "contingency",
                                                                 "contingency_task", "stage")])
        show_contingency(result.status)
        for target in result.targets:  # business time: where the working calendar moved the SLA targets
            counted = target.detail.get("working_time")
            out.print(f"  {target.name} due {target.detail.get('due_local') or target.detail.get('due_at')} "
                      f"({f'{counted} of working time' if counted else 'on the clock'})", markup=False)
        met = sum(1 for e in result.timeline if e.kind == "deadline_met")
        refused = sum(1 for o in result.outcomes if not o.accepted)
        out.print(f"{result.title}: stage {result.status.stage.value}, {met} deadlines met, "
                  f"{len(result.breaches)} breached, {refused} steps refused", markup=False)


app.command("metrics")(metrics_command.metrics)
app.command("engines")(engines_command.engines)
app.add_typer(playbook_command.app, name="playbook")
app.add_typer(users_command.app, name="users")
app.add_typer(projects_command.app, name="projects")
app.add_typer(privacy_command.app, name="privacy")
app.add_typer(case_command.app, name="case")
app.add_typer(evidence_command.app, name="evidence")
app.add_typer(oncall_command.app, name="oncall")
app.add_typer(customer_command.app, name="customer")
users_command.app.command("contact")(oncall_command.contact)
app.command("backup")(backup_command.backup)
app.command("restore")(backup_command.restore)
app.command("upgrade-check")(upgrade_command.upgrade_check)


if __name__ == "__main__":  # last: `python -m starter.cli` must see every command registered above
    main()
