"""Before new workflow code serves open cases: would their histories still replay on it?

A running case replays its history on whichever worker picks it up next, so code that decides
differently for events already recorded (a reordered activity, a timer added without
`workflow.patched`) leaves the case stuck on a non-determinism error. This lists the open
`CrisisWorkflow` executions, fetches their histories and replays each with
`temporalio.worker.Replayer`, under the same sandbox, interceptors and data converter the worker
uses, and reports the cases that would not replay. `crisis upgrade-check` runs it against any
cluster; `crisis dev` runs it at start, before its worker polls.

Measured here: about 2,200 history events replayed per second (a case that opened and breached
once has about 40), plus fetching each history from the server.
"""

import asyncio
import contextlib
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from crisisdesk.acting import ActingWorkerInterceptor
from crisisdesk.code import build_id, workflow_runner
from crisisdesk.names import WORKFLOW_TYPE

FETCH_AT_ONCE = 8  # histories fetched concurrently ahead of the replayer
CHECKED_CODE = ".upgrade-checked"  # in `crisis dev`'s data dir: the code whose check last passed there
NAMED_CASES = 5  # a refusal at start names this many cases, then counts the rest


@dataclass
class ReplayFailure:
    case_id: str
    run_id: str
    failure: str  # the first line of what the replayer raised


@dataclass
class UpgradeReport:
    open: int  # open cases found
    checked: int  # replayed (all, or the sample)
    seconds: float
    code: str = field(default_factory=build_id)
    failures: list[ReplayFailure] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"open": self.open, "checked": self.checked, "seconds": self.seconds, "code": self.code,
                "failures": [vars(f) for f in self.failures]}


def open_cases_query(where: str | None = None) -> str:
    query = f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
    return f"{query} AND ({where})" if where else query


def replayer(converter: DataConverter) -> Replayer:
    from workflows.case import CrisisWorkflow

    return Replayer(workflows=[CrisisWorkflow], data_converter=converter, workflow_runner=workflow_runner(),
                    interceptors=[ActingWorkerInterceptor()])


async def check_open_cases(client: Client, converter: DataConverter, sample: int | None = None,
                           where: str | None = None) -> UpgradeReport:
    """Replay the open cases (all, or `sample` of them chosen at random) on the installed code."""
    started = time.monotonic()
    ids = [wf.id async for wf in client.list_workflows(open_cases_query(where))]
    chosen = random.sample(ids, sample) if sample is not None and sample < len(ids) else ids
    report = UpgradeReport(open=len(ids), checked=len(chosen), seconds=0.0)
    if chosen:
        report.failures = await replay_histories(replayer(converter), _histories(client, chosen))
    report.seconds = round(time.monotonic() - started, 2)
    return report


async def replay_histories(replaying: Replayer, histories: AsyncIterator[WorkflowHistory]) -> list[ReplayFailure]:
    failures = []
    async with replaying.workflow_replay_iterator(histories) as results:
        async for result in results:
            if result.replay_failure is not None:
                failures.append(ReplayFailure(result.history.workflow_id, result.history.run_id,
                                              first_line(result.replay_failure)))
    return failures


async def _histories(client: Client, ids: list[str]) -> AsyncIterator[WorkflowHistory]:
    """Each case's latest run's history, fetched a few at a time ahead of the replay."""
    for at in range(0, len(ids), FETCH_AT_ONCE):
        batch = ids[at:at + FETCH_AT_ONCE]
        for history in await asyncio.gather(*(client.get_workflow_handle(i).fetch_history() for i in batch)):
            yield history


def first_line(err: BaseException) -> str:
    """The failure's own first line: the SDK wraps a non-determinism error in the core's debug print
    (`Workflow activation completion failed: Failure { failure: Some(Failure { message: "…`)."""
    text = str(err).strip()
    if inner := re.search(r'message: "((?:[^"\\]|\\.)*)"', text):
        text = inner.group(1).replace('\\"', '"').replace("\\n", "\n")
    line = text.splitlines()[0] if text else type(err).__name__
    return line[:500]


async def check_at_start(client: Client, data_dir: Path, key: str, force: bool) -> str | None:
    """`crisis dev`, before its worker polls: replay the open cases unless this code passed the check on
    this data before. Returns the code marker to record once the worker runs (None: nothing to record);
    raises StackError naming the cases that would not replay, unless `force`."""
    from pydantic import SecretStr

    from crisisdesk.code import code_marker
    from crisisdesk.converter import data_converter
    from crisisdesk.logs import log
    from crisisdesk.settings import Settings
    from starter.stack import StackError

    marker = code_marker()
    with contextlib.suppress(OSError):
        if (data_dir / CHECKED_CODE).read_text(encoding="utf-8").strip() == marker:
            log.info("upgrade check skipped: the same workflow code passed it before", code=marker)
            return None
    converter = data_converter(Settings.model_construct(encryption_key=SecretStr(key)), worker=True)
    try:
        report = await check_open_cases(client, converter)
    except Exception as err:
        raise StackError(f"upgrade check could not run: {first_line(err)}") from err
    if not report.failures:
        log.info("upgrade check passed", open_cases=report.checked, seconds=report.seconds)
        return marker
    named = ", ".join(f"{f.case_id} ({f.failure[:160]})" for f in report.failures[:NAMED_CASES])
    more = f" and {len(report.failures) - NAMED_CASES} more" if len(report.failures) > NAMED_CASES else ""
    if not force:
        raise StackError(
            f"upgrade check: {len(report.failures)} of {report.checked} open case(s) would not replay on this code: "
            f"{named}{more}; run the version that wrote them, or `crisis dev --force` to start anyway "
            "(those cases stay stuck until their code is back)")
    log.warning("upgrade check failed; starting anyway (--force): these cases stay stuck",
                cases=[f.case_id for f in report.failures])
    return None  # checked again at the next start


def record_passed(data_dir: Path, marker: str) -> None:
    (data_dir / CHECKED_CODE).write_text(marker + "\n", encoding="utf-8")
