"""`crisis customer …`: the reporter's link to their page (issue 24), to paste into a chat or read out.

`crisis customer link CASE` prints the reporter's link (CRISIS_PUBLIC_URL + /c/<token>); `--all` prints
every joined reporter's too, `--new` replaces a link (the old one stops working); `crisis customer revoke
CASE` stops them all. Needs `case:act`, as the API's GET /cases/{case_id}/customer-link.
"""

import asyncio

import typer
from temporalio.client import Client

from crisisdesk.customerlinks import reporter_id
from crisisdesk.permissions import Permission
from starter.commands.common import fail, load_settings, run, with_pool

app = typer.Typer(help="the customer's page: the reporter's link", no_args_is_help=True)
CASE = typer.Argument(..., help="crisis-<intake_id> or the intake id")


async def link_body(settings, case: str, everyone: bool = False, fresh: bool = False, reporter: str | None = None,
                    client: Client | None = None) -> list[tuple[str, str]]:
    """(reporter, link) for the case's reporter (or each one); the caller needs case:act."""
    from activities import customer_links
    from starter import client as cases
    from starter.auth import cli_principal

    from starter.scope import check_place

    who = await cli_principal(settings, Permission.act)
    client = client or await cases.connect(settings)
    status = await cases.status(client, case)
    check_place(who, status.case_id, status.project)  # a case outside the caller's projects is no case
    ids = [status.intake_id, *(r.intake_id for r in status.reporters)]
    if reporter is not None:
        if reporter.removeprefix("reporter:") not in ids:
            raise LookupError(f"reporter {reporter} is not on case {status.case_id}")
        ids = [reporter.removeprefix("reporter:")]
    elif not everyone:
        ids = ids[:1]

    async def use(pool):
        try:
            return [(reporter_id(i), await customer_links.issue(pool, settings, status.case_id, reporter_id(i), fresh))
                    for i in ids]
        except customer_links.LinksOff as off:
            fail(str(off), 2)

    return await with_pool(settings, use)


@app.command("link")
def link(case: str = CASE, everyone: bool = typer.Option(False, "--all", help="every joined reporter's link too"),
         fresh: bool = typer.Option(False, "--new", help="replace the link: the old one stops working"),
         reporter: str | None = typer.Option(None, "--reporter", help="one joined report's intake id")) -> None:
    """Print the reporter's link to their page (the last word of each line)."""
    settings = load_settings()
    links = run(lambda: asyncio.run(link_body(settings, case, everyone, fresh, reporter)))
    for who, url in links:
        typer.echo(f"{who} {url}" if everyone or reporter else url)


@app.command("revoke")
def revoke(case: str = CASE, reporter: str | None = typer.Option(None, "--reporter", help="one report's intake id")) -> None:
    """Stop the case's customer links (a reporter's, or all): they answer 410 from now on."""
    from activities import customer_links
    from starter import client as cases
    from starter.auth import cli_principal

    settings = load_settings()

    async def body() -> int:
        await cli_principal(settings, Permission.act)
        case_id = cases.case_ref(case)
        who = reporter_id(reporter.removeprefix("reporter:")) if reporter else None
        return await with_pool(settings, lambda pool: customer_links.revoke(pool, case_id, who))

    typer.echo(f"{run(lambda: asyncio.run(body()))} link(s) revoked")
