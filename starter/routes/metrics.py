"""`GET /metrics/cases` (the service metrics as JSON, like `crisis metrics --json`) and `GET /metrics`
(Prometheus text: business gauges from PostgreSQL, via the `prometheus_client` library).

They read through the app's one pool (starter/pools.py).
"""

from collections.abc import Awaitable, Callable
from typing import Literal

import asyncpg
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from activities.gauges import business_gauges
from activities.metrics import compute_metrics
from crisisdesk.models.metrics import GROUP_FIELDS, MetricsReport
from crisisdesk.permissions import Permission
from crisisdesk.settings import Settings
from starter.auth import Principal, require
from starter.metrics_query import QueryError, build_query

LEVELS = {"no_data": -1, "ok": 0, "warning": 1, "missed": 2}


def metrics_router(settings: Settings, pool: Callable[[], Awaitable[asyncpg.Pool | None]]) -> APIRouter:
    """The routes, reading through the app's pool (`starter.pools.LoopPools.get`)."""
    router = APIRouter(tags=["metrics"])

    def unavailable() -> JSONResponse | None:
        if settings.database_url is None:
            return JSONResponse({"detail": "metrics need PostgreSQL: set DATABASE_URL"}, status_code=503)
        return None

    @router.get("/metrics/cases", response_model=MetricsReport)
    async def metrics_cases(
        since: str = Query("30d", description="a duration back from `until` (7d, 12h, P30D) or a date"),
        until: str | None = Query(None, description="a date or a duration back from now; default now"),
        by: Literal[GROUP_FIELDS] | None = Query(None, description="group by this field"),  # type: ignore[valid-type]
        drills: bool = Query(False, description="the drill cases instead of the real ones"),
        project: str | None = None, region: str | None = None,
        who: Principal = require(Permission.reports),
    ):
        """Service metrics over the cases reported in the period (the JSON of `crisis metrics --json`).
        A caller scoped to projects or regions names one of theirs (admins and managers see all)."""
        if (down := unavailable()) is not None:
            return down
        if not who.every_case and not (project in who.projects or region in who.regions):
            return JSONResponse({"detail": f"{who.person_id} sees the cases of projects "
                                           f"{', '.join(who.projects) or '(none)'} and regions {', '.join(who.regions) or '(none)'}: "
                                           "name one of them with project= or region="}, status_code=403)
        try:
            query = build_query(since, until, by, drills, project, region)
        except QueryError as err:
            field = str(err).split(":", 1)[0]
            return JSONResponse({"detail": [{"loc": ["query", field], "msg": str(err), "type": "value_error"}],
                                 "message": str(err)}, status_code=422)
        report = await compute_metrics(await pool(), query)
        return JSONResponse(report.model_dump(mode="json"))

    @router.get("/metrics", response_class=Response,
                responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}, "description": "Prometheus text"}})
    async def prometheus(who: Principal = require(Permission.reports)) -> Response:
        """Prometheus text: open cases by stage and severity, breached now, the oldest overdue deadline
        (every project's: not for a caller scoped to some)."""
        if (down := unavailable()) is not None:
            return down
        if not who.every_case:
            return JSONResponse({"detail": f"{who.person_id} is scoped to some projects or regions: "
                                           "the Prometheus figures cover them all"}, status_code=403)
        gauges = await business_gauges(await pool())
        registry = CollectorRegistry()
        open_cases = Gauge("crisis_open_cases", "Open cases (real, not drills) by stage and severity",
                           ["stage", "severity"], registry=registry)
        for row in gauges.open_cases:
            open_cases.labels(stage=row.stage, severity=row.severity).set(row.cases)
        Gauge("crisis_breached_cases", "Open cases with a deadline breached now", registry=registry).set(gauges.breached_now)
        Gauge("crisis_oldest_overdue_seconds", "How long the most overdue open deadline is past due (0: none)",
              registry=registry).set(gauges.oldest_overdue_seconds)
        level = Gauge("crisis_quality_target_level", "Quality target level: -1 no data, 0 ok, 1 warning, 2 missed",
                      ["target"], registry=registry)
        for target, name in gauges.quality_levels.items():
            level.labels(target=target).set(LEVELS.get(name, -1))
        Gauge("crisis_unreached_alert_cases", "Open cases whose last alert reached nobody: seat someone now",
              registry=registry).set(len(gauges.unreached_cases))
        unreached = Gauge("crisis_unreached_alert", "1 for each open case whose last alert reached nobody",
                          ["case_id"], registry=registry)
        for case_id in gauges.unreached_cases:
            unreached.labels(case_id=case_id).set(1)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
