"""`crisis engines`: which engine the open cases run, and which old branches can go.

Every case upserts `CrisisEngine` (workflows.case.ENGINE). A behaviour change for running cases asks
`workflow.patched(<id>)` and moves ENGINE on (`PATCHES` maps each engine to the patch id it
introduced); a case on an older engine moves to the current code at its next quiet continue-as-new.
A patch's old branch can go (`workflow.deprecate_patch`, then delete it) once no open case runs an
engine below the one that introduced it. docs/deploy.md "Upgrades" has the whole policy.
"""

import asyncio

from pydantic import BaseModel
from temporalio.client import Client

from crisisdesk.names import SA_ENGINE
from starter.commands.common import JSON_OPTION, load_settings, run
from starter.stuck import running_query
from starter.views import emit_json, out
from workflows.case import ENGINE, PATCHES


class EngineCount(BaseModel):
    engine: int | None  # None: a case that never said (started before engines were counted)
    open_cases: int
    current: bool


class RetirableBranch(BaseModel):
    patch: str
    engine: int
    retirable: bool
    blocking_cases: int  # open cases on an engine below it


class EngineReport(BaseModel):
    current: int
    engines: list[EngineCount]
    branches: list[RetirableBranch]


async def engine_report(client: Client) -> EngineReport:
    async def count(extra: str) -> int:
        return (await client.count_workflows(running_query(extra))).count

    numbers = list(range(1, ENGINE + 1))
    counts = await asyncio.gather(*(count(f"{SA_ENGINE.name} = {n}") for n in numbers),
                                  count(f"{SA_ENGINE.name} IS NULL"))
    engines = [EngineCount(engine=n, open_cases=c, current=n == ENGINE) for n, c in zip(numbers, counts)]
    if counts[-1]:
        engines.append(EngineCount(engine=None, open_cases=counts[-1], current=False))
    branches = []
    for engine, patch in sorted(PATCHES.items()):
        below = sum(e.open_cases for e in engines if e.engine is None or e.engine < engine)
        branches.append(RetirableBranch(patch=patch, engine=engine, retirable=below == 0, blocking_cases=below))
    return EngineReport(current=ENGINE, engines=engines, branches=branches)


def engines(as_json: bool = JSON_OPTION) -> None:
    """How many open cases run each engine version, and which old code branches can be retired."""
    report = run(lambda: asyncio.run(_engines_body()))
    if as_json:
        emit_json(report)
        return
    for e in report.engines:
        label = "unknown (started before engines were counted)" if e.engine is None else f"engine {e.engine}"
        out.print(f"{label}{' (current)' if e.current else ''}: {e.open_cases} open case(s)", markup=False)
    if not report.branches:
        out.print("no old branches: the code runs one engine", markup=False)
    for b in report.branches:
        verdict = "can be retired" if b.retirable else f"still needed by {b.blocking_cases} open case(s)"
        out.print(f"patch {b.patch} (engine {b.engine}): old branch {verdict}", markup=False)


async def _engines_body() -> EngineReport:
    from starter.client import connect

    return await engine_report(await connect(load_settings()))
