"""`crisis playbook list | show NAME | diff A B | check FILE`: plan revision from the command line."""

import asyncio
import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from crisisdesk.playbooks import Playbook, PlaybookError, available, check_record, parse_playbook, read_playbook
from starter.commands.common import err_console, fail, load_settings, run

app = typer.Typer(help="Playbooks (contingency plans) and their revision: list, show, diff, check.",
                  no_args_is_help=True)
JSON_OPTION = typer.Option(False, "--json", help="machine-readable JSON on stdout")


def resolve(ref: str, directory: Path | None) -> tuple[Playbook, str]:
    """A playbook by name (organisation's directory first, then shipped) or by file path; not enforced."""
    path = Path(ref)
    if ref.endswith(".json") or path.is_file():
        try:
            return parse_playbook(path.read_bytes(), ref), str(path)
        except OSError as err:
            raise PlaybookError(f"{ref}: cannot read: {err.strerror or err}") from None
    playbook, source = read_playbook(ref, directory)
    return playbook, str(source)


def status_of(source: Any, playbook: Playbook, directory: Path | None) -> str:
    path = Path(str(source))
    if directory is None or path.parent != Path(directory):
        return "shipped"
    record = check_record(path)
    if record and record.get("digest") == playbook.digest:
        return f"checked {record.get('checked_at', '')[:10]}"
    return "NOT CHECKED: cases cannot use it"


def differences(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted path, value in A, value in B) for every leaf that differs."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b), key=str):
            found += differences(a.get(key, "∅"), b.get(key, "∅"), f"{path}.{key}" if path else str(key))
        return found
    return [] if a == b else [(path, a, b)]


@app.command("list")
def list_playbooks(as_json: bool = JSON_OPTION) -> None:
    """Every playbook a case may name, with its version, digest and whether it was checked."""
    from starter.views import emit_json, out

    def body() -> list[dict]:
        directory = load_settings().playbook_dir
        rows = []
        for name in available(directory):
            try:
                playbook, source = read_playbook(name, directory)
                rows.append({"name": name, "version": playbook.version, "digest": playbook.digest,
                             "title": playbook.title, "status": status_of(source, playbook, directory)})
            except PlaybookError as err:
                rows.append({"name": name, "version": None, "digest": None, "title": "", "status": f"INVALID: {err}"})
        return rows

    rows = run(body)
    if as_json:
        emit_json(rows)
        return
    table = Table("name", "version", "digest", "status", "title")
    for r in rows:
        table.add_row(r["name"], str(r["version"] or "–"), r["digest"] or "–", r["status"], r["title"])
    out.print(table)


@app.command("show")
def show(name: str = typer.Argument(..., help="a playbook name, or a file"), as_json: bool = JSON_OPTION) -> None:
    """A playbook's targets, timers and escalation chains (`--json`: the whole of it)."""
    from starter.views import emit_json, out

    playbook, source = run(lambda: resolve(name, load_settings().playbook_dir))
    if as_json:
        emit_json(playbook.model_dump(mode="json"))
        return
    out.print(f"{playbook.name} v{playbook.version} ({playbook.digest}) from {source}: {playbook.title}", markup=False)
    targets = Table("severity", "acknowledge", "respond", "resolve", "response level")
    for severity, t in playbook.severity.items():
        targets.add_row(severity.value, str(t.acknowledgement), str(t.response), str(t.resolution), t.response_level)
    out.print(targets)
    timers = Table("deadline", "due", "escalation levels", "reminders")
    for deadline_name, d in playbook.deadlines.items():
        timers.add_row(deadline_name, str(d.due), " → ".join("+".join(level) for level in d.escalation.levels),
                       f"{d.escalation.repeats} every {d.escalation.repeat_every}")
    out.print(timers)
    if playbook.calendar is not None:
        c = playbook.calendar
        out.print(f"calendar: {c.timezone}, {c.days if isinstance(c.days, str) else ','.join(c.days)} {c.hours}, "
                  f"holidays {c.holidays or 'none'}, extra days off {len(c.extra_holidays)}, extra working days "
                  f"{len(c.extra_workdays)}; counted in working time: {', '.join(playbook.business_time) or 'nothing'}",
                  markup=False)


@app.command("diff")
def diff(a: str = typer.Argument(..., help="a playbook name or file"),
         b: str = typer.Argument(..., help="another playbook name or file"), as_json: bool = JSON_OPTION) -> None:
    """What changes between two playbooks (or two versions of one), field by field."""
    from starter.views import emit_json, out

    def body() -> list[tuple[str, Any, Any]]:
        directory = load_settings().playbook_dir
        left, right = resolve(a, directory)[0], resolve(b, directory)[0]
        return differences(left.model_dump(mode="json"), right.model_dump(mode="json"))

    found = run(body)
    if as_json:
        emit_json([{"field": f, "a": x, "b": y} for f, x, y in found])
        return
    if not found:
        out.print(f"{a} and {b} do not differ", markup=False)
        return
    for field, x, y in found:
        out.print(f"{field}: {json.dumps(x, ensure_ascii=False)} → {json.dumps(y, ensure_ascii=False)}", markup=False)


@app.command("check")
def check(file: Path = typer.Argument(..., help="the playbook file to check"),
          drills: Path | None = typer.Option(None, "--drills", help="the drills directory (default: drills/)"),
          as_json: bool = JSON_OPTION) -> None:
    """Validate a playbook and play every drill against it; a pass in CRISIS_PLAYBOOK_DIR lets cases pin it."""
    from starter.playbook_check import DRILLS_DIR, check_playbook
    from starter.views import emit_json, out

    def progress(verdict) -> None:
        mark = "passed" if verdict.passed else f"FAILED ({verdict.error})"
        err_console.print(f"drill {verdict.drill}: {mark}; stage {verdict.stage}, breaches "
                          f"{', '.join(verdict.breaches) or 'none'}, {verdict.refused} step(s) refused", markup=False)
        if verdict.targets:
            err_console.print("  due: " + "; ".join(f"{n} {d}" for n, d in verdict.targets.items()), markup=False)

    result = run(lambda: asyncio.run(check_playbook(file, load_settings(), drills or DRILLS_DIR, on_drill=progress)))
    if as_json:
        emit_json(result)
    if not result.valid:
        fail(result.error or "invalid playbook", 2)
    if not result.passed:
        fail(result.error or f"{result.name} v{result.version}: "
             f"{sum(not v.passed for v in result.drills)} of {len(result.drills)} drill(s) failed", 6)
    if not as_json:
        if result.calendar:
            out.print(f"calendar: {result.calendar}", markup=False)
        out.print(f"{result.name} v{result.version} ({result.digest}) passed {len(result.drills)} drill(s)"
                  + (f"; recorded in {result.recorded}: cases may use it" if result.recorded else
                     "; put it in CRISIS_PLAYBOOK_DIR and check it there for cases to use it"), markup=False)
