"""`crisis evidence get`: one evidence file of a case, checked against its SHA-256, read on the record."""

import asyncio
from pathlib import Path

import typer

from crisisdesk.permissions import Permission
from starter.commands.common import BadInput, load_settings, run, with_pool

app = typer.Typer(help="a case's evidence, with its chain of custody", no_args_is_help=True)


@app.command("get")
def get(case: str = typer.Argument(..., help="crisis-<intake_id> or the intake id"),
        sha256: str = typer.Argument(..., help="the item's SHA-256 (its evidence event and the bundle list it)"),
        out_file: Path = typer.Option(..., "--out", help="where to write the file"),
        reason: str | None = typer.Option(None, "--reason", help="why (kept on the custody trail)")) -> None:
    """Write one evidence file (case:read), byte for byte as captured; the read goes on the custody trail
    and, while the case is open, on its timeline as an `evidence_read` event."""
    from starter import handover
    from starter.client import connect
    from starter.commands.case import caller

    def body():
        if not handover.SHA256.match(sha256):
            raise BadInput(f"SHA256: {sha256[:80]!r} is not 64 hexadecimal digits")
        settings = load_settings()

        async def use(pool):
            who = await caller(settings, Permission.read_case)
            item, data, on_timeline = await handover.read_evidence(await connect(settings), pool, settings, who, case,
                                                                   sha256, "cli", reason)
            tmp = out_file.with_name(f".{out_file.name}.part")
            tmp.write_bytes(data)
            tmp.replace(out_file)
            return item, on_timeline

        return asyncio.run(with_pool(settings, use))

    item, on_timeline = run(body)
    where = "on the case's timeline and custody trail" if on_timeline else "on the custody trail (the case is closed)"
    print(f"wrote {out_file}: {item.size} bytes, {item.media_type}, sha256 {item.sha256} verified; the read is {where}")
