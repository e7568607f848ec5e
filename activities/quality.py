"""The quality watch: judge every target on the record, alert management once per crossing.

A crossing is a target's level getting worse (ok → warning, ok or warning → missed). It is recorded
in `quality_crossings` under a transaction-scoped advisory lock, so two evaluations at once (the
hourly watch and a report) never record it twice; its alert goes out through the `Notifier` under
the key `quality:<crossing id>`, so a retry never sends it twice either. A level that improves is
noted without an alert; slipping again later is a new crossing. Too few cases is `no_data`, which
keeps the level it had.
"""

from datetime import datetime, timedelta

import asyncpg
from temporalio import activity

from activities.metrics import compute_metrics
from activities.notify import Notifier
from activities.service_report_render import Words
from crisisdesk.logs import log
from crisisdesk.models.effects import Notification, Recipient
from crisisdesk.models.metrics import CaseMetrics, MetricsQuery
from crisisdesk.models.service import QualityChecked, TargetResult, WatchQuality
from crisisdesk.quality import QualityTarget, QualityTargetsError, load_targets, worse
from crisisdesk.settings import Settings

# An arbitrary constant naming "crisisdesk quality watch" among advisory locks.
QUALITY_LOCK_ID = 0x0C15_0A11
MANAGEMENT_ROLE = "department:management"


def management(settings: Settings) -> list[Recipient]:
    """The management recipients (CRISIS_MANAGEMENT_RECIPIENTS); personal data, never logged."""
    return [Recipient(role=MANAGEMENT_ROLE, person=p) for p in settings.management_recipients]


def alert_words(crossing: dict, w: Words) -> tuple[str, str]:
    """A crossing's alert (subject, body) in management's words."""
    # A crossing lies beyond its threshold: below a floor (at_least) or above a ceiling (at_most).
    side = "at_least" if crossing["value"] < crossing["threshold"] else "at_most"
    level = "missed" if crossing["level"] == "missed" else "warning"
    value = w.figure(crossing["value"], crossing["metric"])
    subject = w(f"quality.subject.{level}", target=crossing["target"], value=value)
    body = w(f"quality.body.{side}", target=crossing["target"], metric=crossing["metric"], value=value,
             since_at=crossing["window_since"], until_at=crossing["window_until"],
             threshold=w.figure(crossing["threshold"], crossing["metric"]),
             previous=w(f"service.level.{crossing['previous']}"), level=w(f"service.level.{crossing['level']}"))
    return subject, body


class QualityWatch:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, notifier: Notifier) -> None:
        self.pool, self.settings, self.notifier = pool, settings, notifier

    async def judge(self, at: datetime) -> list[tuple[QualityTarget, float | None, datetime]]:
        """Each target with its value over its own window ending at `at`."""
        try:
            targets = load_targets(self.settings.quality_targets)
        except QualityTargetsError as err:  # a broken file is a configuration error: say so, do not retry forever
            from temporalio.exceptions import ApplicationError

            raise ApplicationError(str(err), type="QualityTargetsError", non_retryable=True) from None
        cache: dict[tuple[timedelta, str | None, str | None], CaseMetrics] = {}
        judged = []
        for target in targets.targets:
            window = (target.window, target.project, target.region)
            if window not in cache:
                cache[window] = await compute_metrics(self.pool, MetricsQuery(
                    since=at - target.window, until=at, project=target.project, region=target.region))
            judged.append((target, target.value_of(cache[window]), at - target.window))
        return judged

    @activity.defn(name="watch_quality")
    async def watch_quality(self, req: WatchQuality) -> QualityChecked:
        judged = await self.judge(req.at)
        results, crossings = [], 0
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", QUALITY_LOCK_ID)
            for target, value, since in judged:
                level = target.judge(value)
                previous = await conn.fetchval("SELECT level FROM quality_target_states WHERE target = $1", target.name)
                crossed = worse(previous, level)
                if level == "no_data" and previous is not None:
                    await conn.execute("UPDATE quality_target_states SET value = NULL, updated_at = now() "
                                       "WHERE target = $1", target.name)
                else:
                    await conn.execute(
                        """INSERT INTO quality_target_states (target, level, value, since) VALUES ($1, $2, $3, $4)
                           ON CONFLICT (target) DO UPDATE SET value = EXCLUDED.value, updated_at = now(),
                               since = CASE WHEN quality_target_states.level = EXCLUDED.level
                                            THEN quality_target_states.since ELSE EXCLUDED.since END,
                               level = EXCLUDED.level""",
                        target.name, level, value, req.at)
                if crossed:
                    threshold = target.bound if level == "missed" else target.warning
                    await conn.execute(
                        """INSERT INTO quality_crossings (target, metric, level, previous, value, threshold,
                                                          window_since, window_until, at)
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                        target.name, target.metric, level, previous or "ok", value, threshold, since, req.at, req.at)
                    crossings += 1
                    log.info("quality target crossed", target=target.name, level=level, previous=previous or "ok")
                results.append(TargetResult(
                    name=target.name, metric=target.metric, value=value, level=level, bound=target.bound,
                    warning=target.warning, direction="at_least" if target.at_least is not None else "at_most",
                    crossed=crossed))
        alerted = await self.alert_pending()
        return QualityChecked(results=results, crossings=crossings, alerted=alerted)

    async def alert_pending(self) -> int:
        """Send every crossing not yet alerted (new ones, and any a failed attempt left behind)."""
        async with self.pool.acquire() as conn:
            pending = await conn.fetch("SELECT * FROM quality_crossings WHERE alerted_at IS NULL ORDER BY crossing_id")
        w = Words(self.settings.locale, self.settings.reports_zone)
        for row in pending:
            subject, body = alert_words(dict(row), w)
            await self.notifier.notify(Notification(
                key=f"quality:{row['crossing_id']}", case_id="quality-targets", kind="quality_alert",
                subject=subject, body=body, recipients=management(self.settings), at=row["at"]))
            async with self.pool.acquire() as conn:
                await conn.execute("UPDATE quality_crossings SET alerted_at = now() WHERE crossing_id = $1",
                                   row["crossing_id"])
        return len(pending)
