"""`crisis oncall set NAME FILE.json`, `crisis oncall show ROLE-OR-ROSTER [--at TIME] [--project P]`,
and `crisis users contact PERSON --channel C --address A [--position N]` (issue 10).

A roster is JSON (crisisdesk.models.rosters.Roster): a rotation (`people`, `handover` daily|weekly,
`handover_at`, `tz`, `starts`) or explicit `shifts`, plus `overrides` for leave and swaps. Gaps,
overlaps, unknown time zones and people outside the directory are refused, naming the field.
"""

import asyncio
from datetime import datetime, timezone
from pathlib import Path

import typer
from starter.commands.common import BadInput, load_settings, parse_json, run, with_pool

app = typer.Typer(help="on-call rosters: set one from a JSON file, see who is on duty", no_args_is_help=True)


@app.command("set")
def set_command(name: str = typer.Argument(..., help="the roster's name (what a team seat's `roster` names)"),
                file: Path = typer.Argument(..., help="the roster as JSON")) -> None:
    """Validate and store a roster (replacing the one of the same name)."""
    from pydantic import ValidationError

    from activities.rosters import set_roster
    from activities.teams import TeamInvalid
    from crisisdesk.models.actions import describe_validation_error
    from crisisdesk.models.rosters import Roster

    def body():
        try:
            roster = Roster.model_validate(parse_json(file.read_text(encoding="utf-8"), str(file)))
        except OSError as err:
            raise BadInput(f"FILE: {file}: {err.strerror or err}") from None
        except ValidationError as err:
            raise BadInput(f"FILE: {file}: {describe_validation_error(err)}") from None

        async def use(pool):
            try:
                return await set_roster(pool, name, roster)
            except TeamInvalid as err:
                raise BadInput(f"FILE: {file}: {err}") from None

        return asyncio.run(with_pool(load_settings(), use))

    saved = run(body)
    print(f"roster {name}: {len(saved.everyone())} people")


@app.command("show")
def show(role: str = typer.Argument(..., help="a roster's name, or a role of --project's team"),
         at: str | None = typer.Option(None, "--at", help="RFC 3339 time with an offset (default now)"),
         project: str | None = typer.Option(None, "--project", help="the project whose team seat holds ROLE")) -> None:
    """Who is on duty for ROLE (or the roster) at TIME."""
    from activities.rosters import get_roster
    from activities.teams import team_for

    def body():
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00")) if at else datetime.now(timezone.utc)
        except ValueError:
            raise BadInput(f"--at: {at!r} is not an RFC 3339 time (e.g. 2025-03-01T02:00:00+08:00)") from None
        if when.tzinfo is None:
            raise BadInput("--at: give a time zone offset (e.g. +08:00 or Z)")

        async def lookup(pool):
            name = role
            if project:
                seat = (await team_for(pool, project)).get(role)
                if seat is None:
                    raise BadInput(f"ROLE: project {project} has no seat {role!r}")
                if seat.roster is None:
                    return role, seat.person
                name = seat.roster
            roster = await get_roster(pool, name)
            if roster is None:
                raise BadInput(f"ROLE: no roster named {name!r} (give --project to look a role up in a team)")
            return name, roster.on_duty(when)

        return when, *asyncio.run(with_pool(load_settings(), lookup))

    when, name, person = run(body)
    print(f"{name} at {when.isoformat()}: {person or 'nobody (the roster does not cover that time)'}")


def contact(person: str = typer.Argument(..., help="the person's id in the directory"),
            channel: str = typer.Option(..., "--channel", help="email, sms, voice, wecom, dingtalk or feishu"),
            address: str = typer.Option(..., "--address", help="e-mail, E.164 mobile number, or Feishu open_id"),
            position: int | None = typer.Option(None, "--position", min=0,
                                                help="0 = tried first (default: after the person's other channels)")
            ) -> None:
    """Add or move one of a person's channels (`crisis users contact`)."""
    from pydantic import ValidationError

    from activities.teams import TeamInvalid, contacts_of, set_contacts
    from crisisdesk.sealing import Sealer
    from crisisdesk.models.actions import describe_validation_error
    from crisisdesk.models.rosters import ContactPoint, Contacts

    def body():
        async def use(pool):
            sealer = Sealer.from_settings(load_settings())
            current = [c for c in (await contacts_of(pool, [person], sealer)).get(person, []) if c.channel != channel]
            try:
                new = ContactPoint(channel=channel, address=address)
                contacts = Contacts(contacts=[*current[:position], new, *current[position:]] if position is not None
                                    else [*current, new]).contacts
                await set_contacts(pool, person, contacts, sealer)
            except ValidationError as err:
                raise BadInput(f"--channel/--address: {describe_validation_error(err)}") from None
            except TeamInvalid as err:
                raise BadInput(f"PERSON: {err}") from None
            return [c.channel for c in contacts]

        return asyncio.run(with_pool(load_settings(), use))

    print(f"{person}: {', '.join(run(body))}")
