"""How the `crisis` CLI shows things: rich tables for people, JSON for scripts."""

import json
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from crisisdesk.models.case import CaseStatus, TimelineEvent
from starter.client import StartedCase
from starter.stuck import StuckCase

out = Console(soft_wrap=True)


def emit_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        text = value.model_dump_json(indent=2)
    elif isinstance(value, list) and all(isinstance(v, BaseModel) for v in value):
        text = json.dumps([v.model_dump(mode="json") for v in value], indent=2, ensure_ascii=False)
    else:
        text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    print(text)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _compact(detail: dict[str, Any], width: int = 80) -> str:
    text = json.dumps(detail, ensure_ascii=False, default=str) if detail else ""
    return text if len(text) <= width else text[: width - 1] + "…"


def show_started(started: StartedCase) -> None:
    verb = "opened" if started.created else "already open"
    out.print(f"[bold]{started.case_id}[/] {verb}: {started.severity} ({started.response_level})")
    table = Table(show_header=False, box=None)
    table.add_row("received", _when(started.received_at))
    table.add_row("acknowledge by", _when(started.acknowledge_by))
    table.add_row("respond by", _when(started.respond_by))
    table.add_row("resolve by", _when(started.resolve_by))
    out.print(table)


def show_status(state: CaseStatus) -> None:
    table = Table(title=f"{state.case_id}: {state.summary}", show_header=False, title_justify="left")
    table.add_row("stage", f"{state.stage} ({state.path} path)")
    table.add_row("severity", f"{state.severity}" + (f", {state.category}" if state.category else ""))
    table.add_row("contingency", "yes" if state.contingency else "no")
    table.add_row("roles", ", ".join(f"{r}: {p}" for r, p in state.roles.items()) or "-")
    if state.delegation:
        d = state.delegation
        table.add_row("delegation", f"{d.to} may {', '.join(d.scope)} until {_when(d.until)}")
    if state.plan:
        table.add_row("plan", f"{state.plan.summary} ({state.plan.department}, {state.plan.revisions} revisions)")
    table.add_row("open actions", ", ".join(state.open_actions) or "-")
    table.add_row("playbook", f"{state.playbook} v{state.playbook_version}")
    table.add_row("updated", _when(state.updated_at))
    out.print(table)
    if state.deadlines:
        deadlines = Table("deadline", "due", "state", title="deadlines", title_justify="left")
        for d in state.deadlines:
            deadlines.add_row(d.name, _when(d.due_at), "[red]breached[/]" if d.breached else "open")
        out.print(deadlines)


def show_timeline(events: list[TimelineEvent]) -> None:
    table = Table("#", "at", "kind", "name", "by", "detail")
    for e in events:
        style = "red" if e.kind == "rejected" else None
        table.add_row(str(e.seq), _when(e.at), e.kind, e.name, e.by or "", _compact(e.detail), style=style)
    out.print(table)


def show_stuck(rows: list[StuckCase]) -> None:
    if not rows:
        out.print("no stuck cases")
        return
    table = Table("case", "reason", "stage", "why", "what would unstick it")
    for r in rows:
        table.add_row(r.case_id, r.reason, r.stage or "-", r.why, r.unstick)
    out.print(table)


def show_articles(rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.print("nothing found")
        return
    table = Table(*rows[0].keys())
    for r in rows:
        table.add_row(*(_compact(v, 60) if isinstance(v, dict) else str(v)[:120] for v in r.values()))
    out.print(table)
