"""How the CLI prints: case ids never cut, plain text into pipes, the timeline in words; and how its
commands find the stack `crisis dev` runs (.data/stack.json). Fast: no servers."""

import io
import os
import re
from datetime import datetime, timezone

from rich.table import Table

from crisisdesk.models.case import TimelineEvent
from crisisdesk.words import FULL_TIME, in_words
from starter import views
from starter.discovery import apply_stack, remove_stack, write_stack
from starter.stuck import StuckCase
from workflows import sheet

AT = datetime(2026, 11, 25, 10, 47, 31, tzinfo=timezone.utc)
LONG_ID = "crisis-BARS-S-1-20261125-0042-owners"  # longer than rich would keep at 80 columns
EVENTS = [
    TimelineEvent(seq=1, at=AT, kind="opened", name="intake", by="owner"),
    TimelineEvent(seq=2, at=AT, kind="action", name="triage", by="Chen", detail={"via": "cli"}),
    TimelineEvent(seq=3, at=AT, kind="rejected", name="decide_plan", by="Zhang",
                  detail={"reason": "decide_plan: only the head (Wang) may do this, not Zhang", "via": "ui-update"}),
    TimelineEvent(seq=4, at=AT, kind="stage", name="alerting", by="Chen"),
    TimelineEvent(seq=5, at=AT, kind="path", name="crisis", by="Chen"),
    TimelineEvent(seq=6, at=AT, kind="deadline_set", name="first_contact", detail={"due_at": "2026-11-25T22:47:31+00:00"}),
    TimelineEvent(seq=7, at=AT, kind="deadline_met", name="first_contact", detail={"late_by_seconds": 60}),
    TimelineEvent(seq=8, at=AT, kind="breach", name="first_contact", detail={"notified": ["head", "regional_cs"]}),
    TimelineEvent(seq=9, at=AT, kind="reminder", name="revision"),
    TimelineEvent(seq=10, at=AT, kind="escalated", name="alert", detail={"notified": ["head"]}),
    TimelineEvent(seq=11, at=AT, kind="notification", name="report", detail={"roles": ["head"], "status": "sent"}),
    TimelineEvent(seq=12, at=AT, kind="delegation_expired", name="Wang"),
]
ANSI = re.compile(r"\x1b\[")
BOX = re.compile(r"[─-╿]")  # U+2500-U+257F, rich's box drawing


def test_the_words_are_the_case_sheets_words():
    """crisisdesk/words.py and the case sheet say the same; the sheet can import it from there."""
    for e in EVENTS:
        assert in_words(e) == sheet.in_words(e), e


def test_the_timeline_in_words_has_the_minute_who_and_how():
    line = in_words(EVENTS[2], FULL_TIME, channel=True)
    assert line == ("2026-11-25 10:47 UTC decide_plan refused by Zhang (via ui-update): "
                    "decide_plan: only the head (Wang) may do this, not Zhang")


def printed(console_file: io.StringIO, show, *args, terminal: bool, width: int = 80) -> str:
    console = views.CliConsole(file=console_file, width=width, force_terminal=terminal, soft_wrap=True,
                               **({} if terminal else {"color_system": None}))
    saved, views.out = views.out, console
    try:
        show(*args)
    finally:
        views.out = saved
    return console_file.getvalue()


def test_a_case_id_is_never_cut_at_80_columns():
    rows = [StuckCase(case_id=LONG_ID, reason="overdue", stage="contacting", why="first_contact due 2 h ago " * 3,
                      unstick="record customer_contacted, or a note saying why it waits " * 2)]
    text = printed(io.StringIO(), views.show_stuck, rows, terminal=True)
    assert LONG_ID in text and "…" not in text, text
    plain = printed(io.StringIO(), views.show_stuck, rows, terminal=False)
    assert LONG_ID in plain


def test_piped_output_is_plain_text():
    rows = [StuckCase(case_id=LONG_ID, reason="idle", stage="alerting", why="no change for 30 h", unstick="note")]
    plain = printed(io.StringIO(), views.show_stuck, rows, terminal=False)
    assert not BOX.search(plain) and not ANSI.search(plain), plain
    [header, row] = plain.strip().splitlines()
    assert row.split()[:3] == [LONG_ID, "idle", "alerting"]  # columns an awk script can read
    timeline = printed(io.StringIO(), views.show_timeline, EVENTS, terminal=False)
    assert len(timeline.strip().splitlines()) == len(EVENTS) and not ANSI.search(timeline)
    other = Table("name", "value")  # any command's table, e.g. crisis metrics
    other.add_row("x" * 50, "y" * 60)
    buffer = io.StringIO()
    views.CliConsole(file=buffer, width=80, color_system=None).print(other)
    assert not BOX.search(buffer.getvalue()) and "x" * 50 + "  " + "y" * 60 in buffer.getvalue()


def test_commands_find_the_running_stack_and_what_is_set_wins(tmp_path):
    write_stack(tmp_path, {"temporal_address": "127.0.0.1:17233", "namespace": "default", "task_queue": "crisis",
                           "database_url": "postgresql://postgres:@/postgres?host=/x/pg", "encrypted": False})
    assert oct((tmp_path / "stack.json").stat().st_mode & 0o777) == "0o600"
    env = {"TEMPORAL_NAMESPACE": "mine"}
    info = apply_stack(env, tmp_path / "stack.json")
    assert info is not None and info["pid"] == os.getpid()
    assert env == {"TEMPORAL_ADDRESS": "127.0.0.1:17233", "TEMPORAL_NAMESPACE": "mine", "CRISIS_TASK_QUEUE": "crisis",
                   "DATABASE_URL": "postgresql://postgres:@/postgres?host=/x/pg"}
    # A stack whose `crisis dev` is gone is ignored.
    write_stack(tmp_path, {"temporal_address": "127.0.0.1:1"})
    path = tmp_path / "stack.json"
    path.write_text(path.read_text().replace(f'"pid": {os.getpid()}', '"pid": 999999999'))
    env = {}
    assert apply_stack(env, path) is None and env == {}
    remove_stack(tmp_path)
    assert not path.exists() and apply_stack({}, path) is None


def test_the_timeline_reads_in_the_operators_language_and_zone():
    """`crisis timeline` under CRISIS_LOCALE / CRISIS_TIMEZONE (issue 23): local time, the event in words."""
    assert in_words(EVENTS[3], channel=True, locale="en", tz="Asia/Shanghai").startswith("Wed 25 Nov, 18:47 stage → alerting")
    assert in_words(EVENTS[3], channel=True, locale="zh-CN", tz="Asia/Shanghai") == "11月25日（周三）18:47 阶段 → 预警中（Chen）"
