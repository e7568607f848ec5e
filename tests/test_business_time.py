"""Business time (issue 25): working hours, days, China's holidays with their make-up working days, in
every SLA clock; crisis timers stay on the clock; a case keeps the holiday dates it opened with."""

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from crisisdesk import holiday_sets
from crisisdesk.holiday_sets import pin
from crisisdesk.models.intake import Intake
from crisisdesk.names import SA_NEXT_DEADLINE
from crisisdesk.playbooks import Calendar, PlaybookError, load_playbook, parse_playbook, record_check
from workflows.casefile import CaseFile
from workflows.deadlines import add_working, working_amount, working_between
from workflows.case import ENGINE
from workflows.sheet import render

HISTORY = Path(__file__).parent / "histories" / f"business_time_e{ENGINE}.json"

SHANGHAI = {"timezone": "Asia/Shanghai", "hours": "09:00-18:00", "days": "mon-fri", "holidays": "CN"}
SLA = ["acknowledgement", "response", "resolution"]
H = timedelta(hours=1)


def local(y, m, d, hour, minute=0) -> datetime:
    """A Shanghai wall-clock time (UTC+8, no daylight saving) as a UTC instant."""
    return datetime(y, m, d, hour, minute, tzinfo=UTC) - 8 * H


def playbook_json(base: str = "delivery", **changes) -> str:
    data = json.loads(load_playbook(base).model_dump_json())
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not None})


def pinned(at: datetime = local(2026, 12, 2, 12), **calendar) -> Calendar:
    book = parse_playbook(playbook_json(calendar={**SHANGHAI, **calendar}, business_time=SLA))
    return pin(book, at, at).calendar


# -- the calendar in the playbook: checked, naming the field ----------------------------------------
@pytest.mark.parametrize("changes, field", [
    ({"calendar": {**SHANGHAI, "timezone": "Mars/Olympus"}}, "calendar.timezone: .*unknown time zone"),
    ({"calendar": {**SHANGHAI, "hours": "09:00-12:00,11:00-13:00"}}, "calendar.hours: .*overlap"),
    ({"calendar": {**SHANGHAI, "hours": " , "}}, "calendar.hours: .*no working time"),
    ({"calendar": {**SHANGHAI, "hours": "18:00-09:00"}}, "calendar.hours: .*ends before it starts"),
    ({"calendar": {**SHANGHAI, "days": []}}, "calendar.days: .*no working day"),
    ({"calendar": {**SHANGHAI, "days": "mon-fry"}}, "calendar.days: .*name days as"),
    ({"calendar": {**SHANGHAI, "holidays": "XX"}}, "calendar.holidays: .*unknown holiday set 'XX'"),
    ({"calendar": {**SHANGHAI, "extra_holidays": ["2026-12-07"], "extra_workdays": ["2026-12-07"]}},
     "calendar: .*extra_holidays and extra_workdays both name 2026-12-07"),
    ({"calendar": SHANGHAI, "business_time": ["first_contact"]}, "business_time: .*first_contact is a crisis timer"),
    ({"calendar": SHANGHAI, "business_time": ["alert_acknowledgement"]}, "alert_acknowledgement is a crisis timer"),
    ({"calendar": SHANGHAI, "business_time": ["lunch"]}, "business_time: .*unknown deadline 'lunch'"),
    ({"business_time": ["acknowledgement"]}, "business_time: .*needs a calendar"),
    ({"calendar": {**SHANGHAI, "pinned": {"source": "x", "first_year": 2026, "last_year": 2026,
                                          "offsets": [{"since": "2026-01-01T00:00:00Z", "minutes": 480}]}}},
     "calendar.pinned: the holiday dates are pinned by each case"),
])
def test_a_bad_calendar_is_refused_naming_the_field(changes, field):
    with pytest.raises(PlaybookError, match=field):
        parse_playbook(playbook_json(**changes), "book.json")


def test_calendars_take_several_spans_a_day_and_day_lists():
    book = parse_playbook(playbook_json(calendar={**SHANGHAI, "hours": "13:30-18:00,09:00-12:00",
                                                  "days": ["mon-wed", "fri", "sun"]}, business_time=SLA))
    assert book.calendar.spans == [(540, 720), (810, 1080)] and book.calendar.weekdays == {0, 1, 2, 4, 6}
    assert book.calendar.day_length == timedelta(hours=7, minutes=30)
    assert parse_playbook(playbook_json(calendar={**SHANGHAI, "days": "sun-thu"})).calendar.weekdays == {6, 0, 1, 2, 3}


def test_a_playbook_without_a_calendar_keeps_its_digest_and_a_pinned_one_keeps_the_files():
    delivery = load_playbook("delivery")
    deadlines = {k: v for k, v in delivery.deadlines.items() if k != "execution_start"}
    before_tasks = delivery.model_copy(update={"contingency_tasks": None, "deadlines": deadlines})
    assert before_tasks.digest == "b1a10c515b38fb48"  # its digest before calendars (and contingency tasks) existed
    assert "calendar" not in load_playbook("delivery").model_dump() and "business_time" not in load_playbook("delivery").model_dump()
    service = load_playbook("service")
    carried = pin(service, local(2026, 12, 2, 12), local(2026, 12, 2, 12))
    assert carried.calendar.pinned is not None and carried.digest == service.digest
    assert carried.as_written().model_dump() == service.model_dump()


def test_the_shipped_after_sales_and_service_playbooks_count_sla_targets_in_working_time():
    for name in ("after_sales", "service"):
        book = load_playbook(name)
        assert book.business_time == SLA and book.calendar.holidays == "CN"
        assert book.calendar.timezone == "Asia/Shanghai"
    assert load_playbook("after_sales").customer_waits.pause_sla == ["resolution"]
    assert load_playbook("delivery").calendar is None


# -- China's holidays and 调休, from the library, pinned ----------------------------------------------
def test_chinese_holidays_and_make_up_working_days_2026_and_2027_are_pinned():
    calendar = pinned(local(2026, 12, 2, 12))
    dates = calendar.pinned
    assert (dates.first_year, dates.last_year) == (2026, 2027) and dates.source == f"{holiday_sets.SOURCE} CN"
    workday = calendar.is_workday()
    # National Day 2026: 1-7 October off; Sunday 20 September and Saturday 10 October worked (调休).
    assert not any(workday(date(2026, 10, d)) for d in range(1, 8)) and workday(date(2026, 10, 8))
    assert workday(date(2026, 9, 20)) and workday(date(2026, 10, 10)) and not workday(date(2026, 10, 11))
    # Spring Festival 2026: 15-23 February off; Saturdays 14 and 28 February worked.
    assert not any(workday(date(2026, 2, d)) for d in range(15, 24)) and workday(date(2026, 2, 24))
    assert workday(date(2026, 2, 14)) and workday(date(2026, 2, 28))
    assert {date(2026, 9, 20), date(2026, 10, 10), date(2026, 2, 14), date(2026, 2, 28)} <= set(dates.workdays)
    # 2027 (the State Council's notice is not in holidays 0.108: the statutory days, by rule).
    assert not workday(date(2027, 2, 8)) and not workday(date(2027, 10, 1)) and not workday(date(2027, 1, 1))
    assert workday(date(2027, 10, 8))
    assert [d for d in dates.workdays if d.year == 2027] == []


def test_a_holiday_week_and_its_make_up_saturday_in_working_time():
    calendar = pinned()
    # Wednesday 30 September 2026, 17:00: one hour that day, then the National Day week, then 8 October.
    assert calendar.local(add_working(calendar, local(2026, 9, 30, 17), 4 * H)) == datetime.fromisoformat("2026-10-08T12:00+08:00")
    # Saturday 10 October 2026 is a make-up working day: a report at 9:00 is due at 13:00 that day.
    assert add_working(calendar, local(2026, 10, 10, 9), 4 * H) == local(2026, 10, 10, 13)
    # Friday 13 February 2026, 17:00: the make-up Saturday counts, the Spring Festival does not.
    assert add_working(calendar, local(2026, 2, 13, 17), 4 * H) == local(2026, 2, 14, 12)
    assert add_working(calendar, local(2026, 2, 14, 17), 4 * H) == local(2026, 2, 24, 12)
    assert working_between(calendar, local(2026, 2, 14, 17), local(2026, 2, 24, 12)) == 4 * H


def test_working_time_skips_nights_weekends_and_extra_holidays():
    calendar = pinned(extra_holidays=["2026-12-07"], extra_workdays=["2026-12-12"])
    friday = local(2026, 12, 4, 19)
    assert add_working(calendar, friday, 4 * H) == local(2026, 12, 8, 13)  # Monday the 7th is an extra holiday
    assert add_working(calendar, local(2026, 12, 11, 19), 4 * H) == local(2026, 12, 12, 13)  # an extra Saturday
    assert add_working(calendar, local(2026, 12, 4, 14), 4 * H) == local(2026, 12, 4, 18)  # due at the day's end
    lunch = pinned(hours="09:00-12:00,13:30-18:00")
    assert add_working(lunch, local(2026, 12, 2, 11), 2 * H) == local(2026, 12, 2, 14, 30)
    # A whole day of a target is a working day: PT48H is two working days, 18 working hours here.
    assert working_amount(calendar, timedelta(hours=48)) == 18 * H
    for start in (friday, local(2026, 12, 2, 8), local(2026, 12, 2, 12, 17), local(2026, 9, 30, 17)):
        for amount in (H / 4, 4 * H, 18 * H, 90 * H):
            assert working_between(calendar, start, add_working(calendar, start, amount)) == amount


def test_a_zone_with_daylight_saving_keeps_working_hours_local():
    berlin = pin(parse_playbook(playbook_json(calendar={"timezone": "Europe/Berlin"}, business_time=SLA)),
                 datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)).calendar
    assert len(berlin.pinned.offsets) > 2  # the changes of 2027 and 2028, pinned
    friday = datetime(2027, 3, 26, 16, tzinfo=UTC)  # 17:00 in Berlin (UTC+1); summer time from Sunday
    due = add_working(berlin, friday, 4 * H)
    assert berlin.local(due).isoformat() == "2027-03-29T12:00:00+02:00"


# -- the case file: SLA targets in working time, crisis timers on the clock -------------------------
ROLES = {"head": "Wang Head", "regional_cs": "Li Regional", "cs_owner": "Chen CS", "department:engineering": "Zhao Eng"}


def open_file(book_json: str, at: datetime, **intake) -> CaseFile:
    book = parse_playbook(book_json)
    data = {"intake_id": "bt-1", "channel": "phone", "summary": "Tiles do not load", "roles": ROLES, **intake}
    return CaseFile.open("crisis-bt-1", Intake.model_validate(data), pin(book, at, at), at)


def test_an_after_hours_case_file_is_due_in_working_time_and_reminds_in_it():
    friday = local(2026, 12, 4, 19)
    case = open_file(playbook_json(calendar={**SHANGHAI, "extra_holidays": ["2026-12-07"]}, business_time=SLA), friday,
                     severity="general")
    ack = case.state.deadlines["acknowledgement"]
    assert ack.due_at == local(2026, 12, 8, 13) and ack.working_time == 4 * H
    status = {d.name: d for d in case.status().deadlines}
    assert status["acknowledgement"].due_local.isoformat() == "2026-12-08T13:00:00+08:00"
    assert "4 working hours" in render(case, friday) and "local Tue 8 Dec, 13:00 Asia/Shanghai" in render(case, friday)
    set_event = next(e for e in case.state.events if e.kind == "deadline_set" and e.name == "acknowledgement")
    assert set_event.detail["working_time"] == "PT4H" and set_event.detail["due_local"].endswith("+08:00")
    every = case.state.playbook.sla_escalation.repeat_every
    case.tick(ack.due_at)  # breached at 13:00 Tuesday: reminded `repeat_every` of working time later
    assert ack.breached and ack.next_alert_at == add_working(case.state.playbook.calendar, ack.due_at, every)
    case.tick(local(2026, 12, 8, 17, 45))  # a reminder late in the day: the next one is the next morning
    assert ack.next_alert_at == local(2026, 12, 9, 9) + (every - 15 * H / 60)
    from crisisdesk.models.actions import parse_action
    from workflows.steps import apply

    wednesday = local(2026, 12, 9, 10)
    apply(case, "triage", parse_action("triage", {"by": "Chen CS", "severity": "general", "category": "technical"}),
          wednesday)
    met = next(e for e in case.state.events if e.kind == "deadline_met" and e.name == "acknowledgement")
    # Late by Tuesday 13:00-18:00 and Wednesday 9:00-10:00; taken: Tuesday and that hour (Monday was off).
    assert met.detail["late_by_seconds"] == 6 * 3600 and met.detail["working_seconds"] == 10 * 3600


def test_targets_in_working_time_read_as_people_say_them():
    from workflows.sheet import working_words

    assert working_words(4 * H) == "4 working hours" and working_words(H) == "1 working hour"
    assert working_words(timedelta(days=2)) == "2 working days" and working_words(timedelta(minutes=30)) == "30 working minutes"
    assert working_words(timedelta(days=1, hours=4)) == "1 working day 4 working hours"


def test_a_crisis_alert_stays_thirty_minutes_on_the_clock():
    friday = local(2026, 12, 4, 19)
    case = open_file(playbook_json(calendar=SHANGHAI, business_time=SLA), friday, potential_crisis=True)
    alert = case.state.deadlines["alert_acknowledgement"]
    assert alert.due_at == friday + timedelta(minutes=30) and alert.working_time is None
    assert case.state.deadlines["acknowledgement"].due_at > friday + timedelta(days=2)


def test_a_pause_in_business_time_keeps_the_working_time_left():
    """Paused Friday 17:00 with 2 working hours left; resumed Monday 10:00: due at 12:00, not Friday 19:00 + 65 h."""
    from workflows import waits
    from crisisdesk.models.case import Stage

    thursday = local(2026, 12, 3, 16)
    case = open_file(playbook_json(calendar=SHANGHAI, business_time=SLA,
                                   customer_waits={"pause_sla": ["acknowledgement"]}), thursday, severity="general")
    assert case.state.deadlines["acknowledgement"].due_at == local(2026, 12, 4, 11)
    case.state.stage = Stage.confirming
    waits.start(case, local(2026, 12, 4, 9), Stage.confirming)  # paused with 2 working hours left
    waits.stop(case, local(2026, 12, 7, 10))
    assert case.state.deadlines["acknowledgement"].due_at == local(2026, 12, 7, 12)


def test_the_promise_to_the_reporter_counts_working_time_as_the_case_will():
    from crisisdesk.settings import Settings
    from starter.client import promise_for

    friday = local(2026, 12, 4, 19)
    intake = Intake(intake_id="p-1", summary="Tiles do not load", playbook="service", received_at=friday)
    _, level, ack, respond, resolve = promise_for(intake, Settings())
    assert (level, ack, respond) == ("三级响应", local(2026, 12, 7, 11), local(2026, 12, 7, 18))  # PT2H, PT24H
    assert resolve == local(2026, 12, 15, 18)  # P7D: seven working days


# -- through the workflow: opened after hours, and replayed after the library changed ----------------
def next_friday_evening() -> datetime:
    """The next Friday 19:00 in Shanghai at least a day ahead (a case opens then, in simulated time)."""
    now = datetime.now(UTC) + timedelta(days=1)
    shanghai = now + 8 * H
    friday = shanghai.date() + timedelta(days=(4 - shanghai.weekday()) % 7)
    return local(friday.year, friday.month, friday.day, 19)


@pytest.fixture
def friday() -> datetime:
    return next_friday_evening()


@pytest.fixture
def settings(settings, tmp_path, friday):
    """`office`: the delivery plan with a Shanghai calendar and the Monday after `friday` off."""
    monday = (friday + 8 * H).date() + timedelta(days=3)
    book = parse_playbook(playbook_json(name="office", calendar={**SHANGHAI, "extra_holidays": [monday.isoformat()]},
                                        business_time=SLA))
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "office.json").write_text(book.model_dump_json())
    record_check(tmp_path / "playbooks" / "office.json", book, drills=[], checked_at="test fixture")
    return settings.model_copy(update={"playbook_dir": tmp_path / "playbooks"})


async def test_a_general_case_opened_on_friday_evening_is_due_after_four_working_hours(open_case, friday, settings):
    case = await open_case(playbook="office", severity="general", opens_at=friday)
    crisis = await open_case(playbook="office", potential_crisis=True, opens_at=friday)
    status = await case.status()
    assert status.received_at == friday
    ack = next(d for d in status.deadlines if d.name == "acknowledgement")
    calendar = pin(load_playbook("office", settings.playbook_dir), friday, friday).calendar
    assert ack.due_at == add_working(calendar, friday, 4 * H) and ack.working_time == 4 * H
    monday = (friday + 8 * H).date() + timedelta(days=3)
    assert ack.due_local.date() > monday and ack.due_local.hour == 13  # nights, the weekend, the extra Monday
    assert working_between(calendar, friday, ack.due_at) == 4 * H
    alert = next(d for d in (await crisis.status()).deadlines if d.name == "alert_acknowledgement")
    # On the clock: 30 minutes from the alert (the case's first moment, a few ms after the report), that evening.
    assert timedelta(minutes=30) <= alert.due_at - friday < timedelta(minutes=31) and alert.working_time is None
    await case.skip(seconds=(ack.due_at - friday).total_seconds() + 3600)
    breach = (await case.wait_for("breach", "acknowledgement"))[0]
    assert breach.at >= ack.due_at  # breached at Tuesday 13:00, not Friday 23:00


@pytest.fixture
def changed_library(monkeypatch):
    """Make the holiday library answer differently (one more day off), and forget what it said before."""
    real = holiday_sets.holiday_library.country_holidays
    extra: list[date] = []

    def country_holidays(*args, **kwargs):
        found = real(*args, **kwargs)
        for day in extra:
            found[day] = "a day off the library added later"
        return found

    holiday_sets.holiday_dates.cache_clear()
    monkeypatch.setattr(holiday_sets.holiday_library, "country_holidays", country_holidays)
    yield extra
    holiday_sets.holiday_dates.cache_clear()


async def test_replay_gives_the_same_due_times_after_the_holiday_data_changes(open_case, friday, settings,
                                                                              changed_library):
    from tests.helpers import due_probe

    case = await open_case(playbook="office", severity="general", opens_at=friday)
    due = {d.name: d.due_at for d in (await case.status()).deadlines}
    await case.act("note", by="Chen CS", text="called back")
    await case.act("cancel", by="Wang Head", reason="drill over")
    await case.handle.result()
    history = await case.handle.fetch_history()
    if os.environ.get("CRISIS_RECORD_HISTORIES"):  # kept, and replayed by tests/test_replay.py too
        HISTORY.write_text(history.to_json())

    changed_library.append((due["acknowledgement"] + 8 * H).date())  # the library now says that day is off
    holiday_sets.holiday_dates.cache_clear()
    later_case = await open_case(playbook="office", severity="general", opens_at=friday)
    moved = next(d for d in (await later_case.status()).deadlines if d.name == "acknowledgement")
    assert moved.due_at > due["acknowledgement"]  # a case opened now counts the new day off

    due_probe.SEEN.clear()
    result = await due_probe.probing_replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    open_ = [seen for seen in due_probe.SEEN if seen]  # (a cancelled case has no open deadlines)
    assert open_ and all(seen == due for seen in open_)  # replayed: the dates it pinned


def nearest_due_in(history: WorkflowHistory) -> datetime:
    """The nearest due time the case published when it opened (its CrisisNextDeadline search attribute)."""
    for event in history.events:
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            if SA_NEXT_DEADLINE.name in fields:
                return datetime.fromisoformat(json.loads(fields[SA_NEXT_DEADLINE.name].data))
    raise AssertionError("the history never published a next deadline")


async def test_a_case_recorded_under_holidays_0_108_replays_with_the_dates_it_pinned(changed_library):
    """tests/histories/business_time_e1.json: a Friday-evening case recorded with holidays 0.108's data. Its
    replay computes the due times it had then, whatever the library says now (here: that day is off)."""
    from tests.helpers import due_probe

    history = WorkflowHistory.from_json(HISTORY.stem, HISTORY.read_text())
    nearest = nearest_due_in(history)
    changed_library.append((nearest + 8 * H).date())
    due_probe.SEEN.clear()
    result = await due_probe.probing_replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    assert due_probe.SEEN and due_probe.SEEN[0]["acknowledgement"] == nearest == min(due_probe.SEEN[0].values())
