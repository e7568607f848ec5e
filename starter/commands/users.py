"""`crisis users …`: the directory of people and their personal API tokens (CRISIS_AUTH=tokens|oidc).

`add` puts a person in the directory (or changes their roles and scope) and prints a new token once,
as the last word of its output: only its hash is stored. `--project` and `--region` scope what they
see and act on (docs/access.md "Scope"); admins and managers see every case. `revoke` ends every token a person holds and
disables them in the directory, so they can no longer act or be named for a role; their past
actions keep pointing at them.
"""

import asyncio
from typing import Any

import typer

from crisisdesk import i18n
from rich.table import Table

from crisisdesk.models.people import Person
from starter.commands.common import BadInput, load_settings, run, with_pool

app = typer.Typer(help="people who act on cases, their roles and their API tokens", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="machine-readable JSON on stdout")


def _roles(roles: list[str], service: bool) -> list[str]:
    from crisisdesk.permissions import valid_directory_role

    if not roles and not service:
        raise BadInput("--role: give at least one role (or --service for an intake service account)")
    try:
        return [valid_directory_role(r) for r in roles]
    except ValueError as err:
        raise BadInput(f"--role: {err}") from None


@app.command("add")
def add(person: str = typer.Argument(..., help="the person's id: what `by` will say"),
        role: list[str] = typer.Option([], "--role", help="a role they may hold (repeat for several)"),
        service: bool = typer.Option(False, "--service", help="an intake service: may open cases and nothing else"),
        name: str | None = typer.Option(None, "--name", help="display name (default: the id)"),
        email: str | None = typer.Option(None, "--email", help="where alerts reach them (personal data: never logged)"),
        expires_days: int = typer.Option(365, "--expires-days", min=1, help="days the token stays valid"),
        project: list[str] = typer.Option([], "--project", help="a project id whose cases they see (repeat for several)"),
        region: list[str] = typer.Option([], "--region", help="a region whose cases they see (repeat for several)"),
        locale: str | None = typer.Option(None, "--locale", help="the language of their alerts: en or zh-CN "
                                          "(default: their project's)")) -> None:
    """Add or change a person and print a new API token for them (shown once: keep it). Without --project
    or --region they see every case (CRISIS_ACCESS_UNSCOPED=all, the default) or none."""
    from datetime import timedelta

    from activities.channels import address_of
    from activities.credentials import issue_token

    def body() -> str:
        if email is not None and address_of(email) != email.strip():
            raise BadInput(f"--email: {email!r} is not an e-mail address")
        who = _person(person, name, _roles(role, service), service, project, region)
        try:
            language = i18n.check_locale(locale, "--locale")
        except ValueError as err:
            raise BadInput(str(err)) from None

        async def use(pool) -> str:
            from activities.directory import save_person

            from activities.teams import set_contact
            from crisisdesk.sealing import Sealer

            async with pool.acquire() as conn, conn.transaction():
                await save_person(conn, who)
                if language:
                    await conn.execute("UPDATE people SET locale = $2 WHERE person_id = $1", who.person_id, language)
                if email:
                    await set_contact(conn, who.person_id, email, Sealer.from_settings(load_settings()))
                token, _ = await issue_token(conn, who.person_id, timedelta(days=expires_days))
            return token

        return asyncio.run(with_pool(load_settings(), use))

    token = run(body)
    kind = "service account" if service else "roles " + ", ".join(role)
    scope = "; ".join(part for part in (", ".join(project) and f"projects {', '.join(project)}",
                                          ", ".join(region) and f"regions {', '.join(region)}") if part)
    print(f"{person} ({kind}{'; ' + scope if scope else ''}); token valid {expires_days} days, shown once: {token}")


def _person(person: str, name: str | None, roles: list[str], service: bool, projects: list[str],
            regions: list[str]) -> Person:
    """The directory entry, or BadInput naming the option that is wrong."""
    from pydantic import ValidationError

    from crisisdesk.models.actions import describe_validation_error

    try:
        return Person(person_id=person, display_name=name or person, roles=roles, service=service,
                      projects=[p.strip() for p in projects], regions=[r.strip() for r in regions])
    except ValidationError as err:
        first = err.errors()[0]["loc"][0] if err.errors() and err.errors()[0]["loc"] else "person"
        option = {"projects": "--project", "regions": "--region", "display_name": "--name"}.get(str(first), "PERSON")
        raise BadInput(f"{option}: {describe_validation_error(err)}") from None


@app.command("list")
def list_users(as_json: bool = JSON) -> None:
    """People in the directory with their roles and tokens (never the tokens' secrets)."""
    from activities.credentials import list_tokens
    from activities.directory import list_people
    from starter.views import emit_json, out

    def body() -> list[dict[str, Any]]:
        async def use(pool) -> list[dict[str, Any]]:
            tokens = await list_tokens(pool)
            return [{**p.model_dump(mode="json"),
                     "tokens": [{"token_id": t.token_id, "expires_at": t.expires_at, "revoked": t.revoked_at is not None,
                                 "last_used_at": t.last_used_at} for t in tokens if t.person_id == p.person_id]}
                    for p in await list_people(pool, include_disabled=True)]

        return asyncio.run(with_pool(load_settings(), use))

    rows = run(body)
    if as_json:
        emit_json(rows)
        return
    table = Table("person", "name", "roles", "scope", "kind", "live tokens", "state")
    for r in rows:
        live = sum(not t["revoked"] for t in r["tokens"])
        scope = ", ".join([*(f"project {p}" for p in r["projects"]), *(f"region {g}" for g in r["regions"])])
        table.add_row(r["person_id"], r["display_name"], ", ".join(r["roles"]) or "–", scope or "unscoped",
                      "service" if r["service"] else "person", str(live), "disabled" if r["disabled_at"] else "active")
    out.print(table)


@app.command("revoke")
def revoke(person: str = typer.Argument(..., help="the person's id")) -> None:
    """End every token of a person and disable them in the directory."""
    from activities.credentials import revoke_tokens
    from activities.directory import disable_person, get_person

    def body() -> tuple[int, bool]:
        async def use(pool) -> tuple[int, bool]:
            if await get_person(pool, person) is None:
                raise BadInput(f"PERSON: {person!r} is not in the directory (`crisis users list`)")
            async with pool.acquire() as conn, conn.transaction():
                return await revoke_tokens(conn, person), await disable_person(conn, person)

        return asyncio.run(with_pool(load_settings(), use))

    revoked, disabled = run(body)
    print(f"{person}: {revoked} token(s) revoked" + ("; disabled in the directory" if disabled else "; already disabled"))
