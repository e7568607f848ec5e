"""Plan revision (000 §十八, 001 应急演练): a new playbook version is validated and played against every
drill in `drills/` before a case can pin it.

The candidate runs from a private directory (beside a provisional record, so the drill's worker may
load it), every drill on one throw-away stack (`starter.drill.DrillStack`). A drill passes when
every step was played and answered (accepted or refused with a reason) and the case did not fail;
its breaches and refusals are reported so a reviewer can compare versions. When every drill passes
and the file lies in CRISIS_PLAYBOOK_DIR, the check is recorded there (`.checks/<file>`), which is
what lets cases pin this exact version (`crisisdesk.playbooks.load_playbook`).
"""

import asyncio
import contextlib
import json
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from crisisdesk.models.actions import describe_validation_error
from crisisdesk.holiday_sets import pin
from crisisdesk.playbooks import Playbook, PlaybookError, parse_playbook, record_check
from crisisdesk.settings import Settings
from starter.drill import Drill, DrillResult, DrillStack

DRILLS_DIR = Path(__file__).resolve().parent.parent / "drills"
DRILL_TIMEOUT = timedelta(minutes=3)

Runner = Callable[[Drill, Settings], Awaitable[DrillResult]]


class DrillVerdict(BaseModel):
    drill: str
    title: str = ""
    passed: bool
    stage: str | None = None
    breaches: list[str] = Field(default_factory=list)
    targets: dict[str, str] = Field(default_factory=dict, description="SLA due times as set at opening (local, "
                                                                      "and the working time when counted so)")
    refused: int = 0
    steps: int = 0
    error: str | None = None


class CheckResult(BaseModel):
    file: str
    name: str | None = None
    version: int | None = None
    digest: str | None = None
    calendar: str | None = None  # the working calendar and the holiday dates a case opened now would pin
    valid: bool
    error: str | None = None
    drills: list[DrillVerdict] = Field(default_factory=list)
    passed: bool = False
    recorded: str | None = None  # the check record that lets cases pin this version


async def play_drill(path: Path, candidate: str, settings: Settings, runner: Runner) -> DrillVerdict:
    try:
        drill = Drill.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        reason = describe_validation_error(err) if isinstance(err, ValidationError) else str(err)
        return DrillVerdict(drill=path.name, passed=False, error=f"unreadable drill: {reason}")
    drill = drill.model_copy(update={"intake": drill.intake.model_copy(update={"playbook": candidate})})
    try:
        result = await asyncio.wait_for(runner(drill, settings), DRILL_TIMEOUT.total_seconds())
    except TimeoutError:
        return DrillVerdict(drill=path.name, title=drill.title, passed=False,
                            error=f"no answer within {DRILL_TIMEOUT}: the case is stuck under this playbook")
    except Exception as err:  # the drill's own failure is the finding, not a crash of the check
        return DrillVerdict(drill=path.name, title=drill.title, passed=False, error=f"{type(err).__name__}: {err}")
    played = len(result.outcomes) == len(drill.steps)
    targets = {e.name: str(e.detail.get("due_local") or e.detail.get("due_at"))
               + (f" ({e.detail['working_time']} working)" if "working_time" in e.detail else "") for e in result.targets}
    return DrillVerdict(drill=path.name, title=drill.title, passed=played, stage=result.status.stage.value,
                        breaches=sorted({e.name for e in result.breaches}), targets=targets,
                        refused=sum(1 for o in result.outcomes if not o.accepted), steps=len(result.outcomes),
                        error=None if played else "not every step was played")


def calendar_summary(playbook: Playbook, now: datetime) -> str | None:
    """What a case opened now would count by: the calendar, and the holiday dates it would pin, per year (a
    year with no make-up working days may be one whose official notice the library does not have yet)."""
    calendar = playbook.calendar
    if calendar is None:
        return None
    pinned = pin(playbook, now, now).calendar.pinned
    years = [f"{y}: {sum(d.year == y for d in pinned.holidays)} days off, "
             f"{sum(d.year == y for d in pinned.workdays)} make-up working days"
             for y in range(pinned.first_year, pinned.last_year + 1)]
    return (f"{calendar.timezone}, {calendar.days if isinstance(calendar.days, str) else ','.join(calendar.days)} "
            f"{calendar.hours}; {pinned.source}" + (f" ({'; '.join(years)})" if calendar.holidays else "")
            + f"; working time: {', '.join(playbook.business_time) or 'none'}")


async def check_playbook(file: Path, settings: Settings, drills_dir: Path = DRILLS_DIR,
                         on_drill: Callable[[DrillVerdict], None] | None = None,
                         runner: Runner | None = None) -> CheckResult:
    try:
        playbook = parse_playbook(file.read_bytes(), str(file))
    except OSError as err:
        return CheckResult(file=str(file), valid=False, error=f"{file}: cannot read: {err.strerror or err}")
    except PlaybookError as err:
        return CheckResult(file=str(file), valid=False, error=str(err))
    result = CheckResult(file=str(file), name=playbook.name, version=playbook.version, digest=playbook.digest,
                         calendar=calendar_summary(playbook, datetime.now(UTC)), valid=True)
    drills = sorted(drills_dir.glob("*.json"))
    if not drills:
        result.error = f"no drills in {drills_dir}: a playbook is checked against at least one"
        return result
    with tempfile.TemporaryDirectory(prefix="crisis-check-") as tmp:
        private = Path(tmp) / "playbooks"
        private.mkdir()
        candidate = private / f"{playbook.name}.json"
        shutil.copyfile(file, candidate)
        record_check(candidate, playbook, drills=[], checked_at="under check")  # the drill worker may load it
        drill_settings = settings.model_copy(update={"playbook_dir": private})
        async with contextlib.AsyncExitStack() as stack:
            if runner is None:  # every drill on one private stack
                drill_stack = await stack.enter_async_context(DrillStack(drill_settings))
                runner = lambda drill, _settings: drill_stack.play(drill)  # noqa: E731
            for path in drills:
                verdict = await play_drill(path, playbook.name, drill_settings, runner)
                result.drills.append(verdict)
                if on_drill:
                    on_drill(verdict)
    result.passed = all(v.passed for v in result.drills)
    directory = settings.playbook_dir
    if result.passed and directory is not None and file.resolve().parent == Path(directory).resolve():
        recorded = record_check(file, playbook, [v.drill for v in result.drills], datetime.now(UTC).isoformat())
        result.recorded = str(recorded)
    return result
