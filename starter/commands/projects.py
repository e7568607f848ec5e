"""`crisis projects …`: each project's standing team (002 §4.1), as the intake and alerts use it."""

import asyncio

import typer
from rich.table import Table
from starter.commands.common import BadInput, load_settings, run, with_pool

app = typer.Typer(help="projects' standing teams: who holds each role, and their deputy", no_args_is_help=True)


@app.command("set-team")
def set_team_command(project: str = typer.Argument(..., help="the project id intakes name"),
                     seats: list[str] = typer.Argument(..., help="ROLE=PERSON, ROLE=PERSON/DEPUTY or ROLE=@ROSTER[/DEPUTY], one per role")) -> None:
    """Replace the project's team (people must be in the directory: `crisis users add`)."""
    from pydantic import ValidationError

    from activities.teams import TeamInvalid, set_team
    from crisisdesk.models.actions import describe_validation_error
    from crisisdesk.models.teams import Team

    def body() -> int:
        parsed = {}
        for seat in seats:
            role, sep, people = seat.partition("=")
            if not sep or not people:
                raise BadInput(f"SEATS: {seat!r} is not ROLE=PERSON[/DEPUTY] or ROLE=@ROSTER[/DEPUTY]")
            person, _, deputy = people.partition("/")
            holder = {"roster": person[1:]} if person.startswith("@") else {"person": person}
            parsed[role] = {**holder, **({"deputy": deputy} if deputy else {})}
        try:
            team = Team.model_validate(parsed)
        except ValidationError as err:
            raise BadInput(f"SEATS: {describe_validation_error(err)}") from None

        async def use(pool) -> int:
            try:
                return len(await set_team(pool, project, team))
            except TeamInvalid as err:
                raise BadInput(str(err)) from None

        return asyncio.run(with_pool(load_settings(), use))

    print(f"{project}: {run(body)} role(s) set")


@app.command("show")
def show(project: str = typer.Argument(..., help="the project id"),
         as_json: bool = typer.Option(False, "--json", help="machine-readable JSON on stdout")) -> None:
    """The project's team: role, person, deputy."""
    from activities.teams import team_for
    from starter.views import emit_json, out

    seats = run(lambda: asyncio.run(with_pool(load_settings(), lambda pool: team_for(pool, project))))
    if as_json:
        emit_json({role: seat.model_dump(exclude_none=True) for role, seat in seats.items()})
        return
    table = Table("role", "person", "deputy")
    for role, seat in sorted(seats.items()):
        table.add_row(role, seat.person or f"on duty in roster {seat.roster}", seat.deputy or "–")
    out.print(table)


@app.command("set")
def set_settings(project: str = typer.Argument(..., help="the project id intakes name"),
                 locale: str | None = typer.Option(None, "--locale", help="the project's language: en or zh-CN"),
                 timezone: str | None = typer.Option(None, "--timezone", help="an IANA zone, e.g. Asia/Shanghai")) -> None:
    """The project's language and time zone (issue 23): the case sheet, staff alerts and reports of its new
    cases read in them (a person's own locale wins for their alerts; a reporter's for theirs)."""
    from activities.teams import set_project_settings
    from crisisdesk import i18n

    def body() -> dict:
        try:
            checked = i18n.check_locale(locale, "--locale"), i18n.check_timezone(timezone, "--timezone")
        except ValueError as err:
            raise BadInput(str(err)) from None
        if checked == (None, None):
            raise BadInput("give --locale and/or --timezone")
        return asyncio.run(with_pool(load_settings(), lambda pool: set_project_settings(pool, project, *checked)))

    saved = run(body)
    print(f"{project}: locale {saved['locale'] or '(CRISIS_LOCALE)'}, timezone {saved['timezone'] or '(CRISIS_TIMEZONE)'}")
