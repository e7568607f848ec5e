"""How the `crisis` CLI shows things: rich tables for people, JSON for scripts.

Two rules hold for every command: a case id is never cut (its column never wraps or shortens, the
other columns give way), and output into a pipe or a file is plain text: no colours, no box drawing,
no wrapping, columns separated by spaces, so `grep`, `cut` and `awk` work on it.
"""

import json
import sys
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk import i18n
from crisisdesk.words import in_words
from starter.client import StartedCase
from starter.stuck import StuckCase
from workflows.sheet import working_words

PLAIN_WIDTH = 10_000  # piped: lines as long as their content, never wrapped


class CliConsole(Console):
    """A console that prints tables plain when its output is not a terminal."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if not self.is_terminal:
            for table in objects:
                if isinstance(table, Table):
                    table.box, table.show_edge, table.pad_edge = None, False, False
                    for column in table.columns:
                        column.no_wrap, column.overflow = True, "ignore"
            saved, self.width = self._width, PLAIN_WIDTH  # print(width=) can only narrow the console
            try:
                return super().print(*objects, **kwargs)
            finally:
                self._width = saved
        super().print(*objects, **kwargs)


def _console() -> CliConsole:
    piped = not sys.stdout.isatty()
    return CliConsole(soft_wrap=True, **({"color_system": None, "highlight": False} if piped else {}))


out = _console()


def id_column(table: Table, header: str, ids: list[str]) -> None:
    """A column of case ids that is never wrapped or cut: the other columns shrink instead."""
    table.add_column(header, no_wrap=True, overflow="fold", min_width=max([len(i) for i in ids] + [len(header)]))


def emit_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        text = value.model_dump_json(indent=2)
    elif isinstance(value, list) and all(isinstance(v, BaseModel) for v in value):
        text = json.dumps([v.model_dump(mode="json") for v in value], indent=2, ensure_ascii=False)
    else:
        text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    print(text)


def _t(msg_id: str, **args) -> str:
    """The CLI's words in the operator's language (CRISIS_LOCALE), times in CRISIS_TIMEZONE."""
    return i18n.text(i18n.READER.get(), msg_id, tz=i18n.READER_ZONE.get(), **args)


def _when(value) -> str:
    return i18n.when(value, i18n.READER.get(), i18n.READER_ZONE.get()) if value else "-"


def _compact(detail: dict[str, Any], width: int = 80) -> str:
    text = json.dumps(detail, ensure_ascii=False, default=str) if detail else ""
    return text if len(text) <= width else text[: width - 1] + "…"


def show_started(started: StartedCase) -> None:
    out.print(_t("cli.opened" if started.created else "cli.already_open", case_id=started.case_id,
                 severity=str(started.severity), level=started.response_level), markup=False, highlight=False)
    table = Table(show_header=False, box=None)
    table.add_row(_t("cli.received"), _when(started.received_at))
    table.add_row(_t("cli.acknowledge_by"), _when(started.acknowledge_by))
    table.add_row(_t("cli.respond_by"), _when(started.respond_by))
    table.add_row(_t("cli.resolve_by"), _when(started.resolve_by))
    out.print(table)


def contingency_line(state: CaseStatus) -> str:
    """`on: 3 of 7 tasks open (1 breached)`, `stood down 12-03 10:00`, or `no`."""
    run = state.contingency
    if run is None:
        return "no"
    if run.stood_down_at is not None:
        return f"stood down {_when(run.stood_down_at)}"
    open_ = [t for t in run.tasks if t.done_at is None and t.closed_at is None]
    breached = sum(t.breached for t in open_)
    return f"on: {len(open_)} of {len(run.tasks)} tasks open" + (f" ({breached} breached)" if breached else "")


def show_contingency(state: CaseStatus) -> None:
    """The contingency's tasks: owner, due, and how each ended (done, late, closed by the stand-down)."""
    run = state.contingency
    if run is None or not run.tasks:
        return
    table = Table(title="contingency tasks" + (f" (stood down {_when(run.stood_down_at)}: {escape(run.reason or '')})"
                                               if run.stood_down_at else ""), title_justify="left")
    for column in ("task", "owner", "due", "outcome"):
        table.add_column(column)
    for t in run.tasks:
        if t.done_at is not None:
            outcome = f"done {_when(t.done_at)} by {escape(t.done_by or '')}" + (" (late, escalated)" if t.breached else "")
        elif t.closed_at is not None:
            outcome = "closed by the stand-down" + (" (breached)" if t.breached else "")
        else:
            outcome = "BREACHED" if t.breached else "open"
        table.add_row(t.name, t.owner + (f" ({escape(t.person)})" if t.person else ""), _when(t.due_at), outcome)
    out.print(table)


def show_status(state: CaseStatus) -> None:
    out.print(f"{state.case_id}: {state.summary}", markup=False, highlight=False)  # the id on a line of its own
    table = Table(show_header=False)
    table.add_row(_t("cli.stage"), _t("cli.stage_value", stage=str(state.stage), path=str(state.path)))
    lc = i18n.loc(i18n.READER.get())
    table.add_row(_t("cli.severity"), i18n.term("severity", str(state.severity), lc)
                  + (f", {i18n.term('category', str(state.category), lc)}" if state.category else ""))
    table.add_row(_t("cli.contingency"), contingency_line(state))
    table.add_row(_t("cli.roles"), ", ".join(f"{r}: {p}" for r, p in state.roles.items()) or "-")
    if state.unreached:  # issue 30: the last alert reached nobody
        table.add_row("[red]unreached[/]", f"the last alert reached nobody for {', '.join(state.unreached)}: "
                                           f"assign_role {state.unreached[0]} now")
    if state.reopens:
        table.add_row("re-opens", state.reopens)
    if state.delegation:
        d = state.delegation
        table.add_row(_t("cli.delegation"), _t("cli.delegation_value", to=d.to, scope=", ".join(d.scope), until_at=d.until))
    if state.plan:
        table.add_row(_t("cli.plan"), _t("cli.plan_value", summary=state.plan.summary, department=state.plan.department,
                                         revisions=state.plan.revisions))
    table.add_row(_t("cli.open_actions"), ", ".join(state.open_actions) or "-")
    table.add_row(_t("cli.playbook"), f"{state.playbook} v{state.playbook_version}")
    table.add_row(_t("cli.updated"), _when(state.updated_at))
    out.print(table)
    if state.deadlines:
        local = any(d.due_local for d in state.deadlines)  # business time: the calendar's zone, working time
        deadlines = Table(_t("cli.deadline"), _t("cli.due"), *([_t("cli.local"), _t("cli.counted")] if local else []),
                          _t("cli.state"), title=_t("cli.deadlines"), title_justify="left")
        for d in state.deadlines:
            counted = [f"{d.due_local:%Y-%m-%d %H:%M %z}" if d.due_local else "-",
                       (working_words(d.working_time) if lc == "en" else i18n.duration(d.working_time, lc))
                       if d.working_time else _t("cli.on_the_clock")] if local else []
            deadlines.add_row(i18n.term("deadline", d.name, lc), _when(d.due_at), *counted,
                              f"[red]{_t('cli.breached')}[/]" if d.breached else _t("cli.open"))
        out.print(deadlines)
    show_contingency(state)


def show_timeline(events: list[TimelineEvent]) -> None:
    """One sentence per event: when (to the minute), what happened, by whom; refusals in red on a terminal."""
    if not events:
        out.print(_t("cli.no_events"))
        return
    for e in events:
        line = f"{e.seq:>4}  {in_words(e, channel=True, locale=i18n.READER.get(), tz=i18n.READER_ZONE.get())}"
        out.print(line, style="red" if e.kind == "rejected" else None, markup=False, highlight=False)


def show_stuck(rows: list[StuckCase]) -> None:
    if not rows:
        out.print("no stuck cases")
        return
    table = Table()
    id_column(table, "case", [r.case_id for r in rows])
    for header in ("reason", "stage", "why", "what would unstick it"):
        table.add_column(header, overflow="fold")  # wrapped, never shortened with "…"
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
