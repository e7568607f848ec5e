"""The case file as a case opens: pure, so the `open_case` activity can build the very same file and put
it on the record in the round trip that loads the playbook, instead of a record of its own.

Deterministic: everything comes from the arguments (the workflow's clock among them), nothing does I/O.
"""

from datetime import datetime, timedelta

from crisisdesk.models.effects import CaseOpened
from crisisdesk.models.intake import Intake
from workflows import deadlines
from workflows.casefile import CaseFile

# An intake dated this far ahead of the server's clock is a clock error: the SLA clock starts at opening.
CLOCK_SKEW = timedelta(minutes=5)


def longest_target(playbook) -> timedelta:
    return max(t.resolution for t in playbook.severity.values())


def last_due(playbook, received_at: datetime) -> datetime:
    """When the longest resolution target counted from `received_at` falls due (in working time when the
    playbook counts resolution so)."""
    return deadlines.later(playbook.working_calendar("resolution"), received_at, longest_target(playbook))


def open_case_file(case_id: str, intake: Intake, opened: CaseOpened, now: datetime, started_at: datetime) -> CaseFile:
    """The new case: `opened` is what `open_case` loaded (playbook, team), `started_at` the start event's
    time. The SLA clock starts when the customer reported, or when the server accepted the case: never
    when a worker happened to run its first task (an outage would move it). A case started with a delay
    (a drill that opens on a Friday evening) may be dated up to its first task's time."""
    received_at, correction = intake.received_at or started_at, None
    if received_at > max(started_at, now) + CLOCK_SKEW:
        received_at, correction = started_at, "received_at was in the future: the SLA clock starts at opening"
    elif not intake.late_entry and last_due(opened.playbook, received_at) < started_at:
        received_at, correction = started_at, ("received_at is older than every deadline and the intake is "
                                               "not a late entry: the SLA clock starts at opening")
    project = intake.project
    if (opened.locale and not project.locale) or (opened.timezone and not project.timezone):
        # The project's language and zone (issue 23), pinned by the case like its playbook.
        intake = intake.model_copy(update={"project": project.model_copy(update={
            "locale": project.locale or opened.locale, "timezone": project.timezone or opened.timezone})})
    case = CaseFile.open(case_id, intake, opened.playbook, now, received_at, opened.team)
    case.state.candidates = dict(opened.candidates)
    if opened.stamps is not None:
        case.state.auth_required, case.state.stamp_keys = opened.stamps.auth_required, opened.stamps.keys
        case.state.stamp_keys_at = now
    for problem in filter(None, [correction, opened.problem]):
        case.record(now, "intake_corrected", "intake", reason=problem)
    return case
