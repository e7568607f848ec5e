"""A crisisdesk worker: runs case workflows and their activities. Any number may run at once.

    python worker.py        # configured from the environment (docs/contract.md)

`build_worker` is the one worker factory (`python worker.py`, `crisis dev`, drills, the bench and the
tests use it); `main` is the process. worker.py at the project's root only calls `main`.
"""

import asyncio
import os
import signal
import sys

import asyncpg
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from crisisdesk.acting import ActingWorkerInterceptor
from crisisdesk.code import build_id, workflow_runner
from crisisdesk.logs import configure_logging, log
from crisisdesk.settings import Settings, get_settings
from starter.client import TemporalUnavailable, connect, process_runtime
from starter.readiness import (
    EXIT_SEARCH_ATTRIBUTES,
    missing_message,
    missing_search_attributes,
    unwritable_file_stores,
)
from workflows.backup import BackupWorkflow
from workflows.case import CrisisWorkflow
from workflows.case_audit import CaseAuditWorkflow
from workflows.follow_ups import FollowUpWorkflow
from workflows.retention import PrivacyPurgeWorkflow
from workflows.service_report import QualityWatchWorkflow, ServiceReportWorkflow

def build_worker(client: Client, settings: Settings, pool: asyncpg.Pool, task_queue: str | None = None) -> Worker:
    """The one worker factory, used by `python worker.py`, `crisis dev` and the tests."""
    from activities import build_activities

    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[CrisisWorkflow, ServiceReportWorkflow, QualityWatchWorkflow, FollowUpWorkflow, PrivacyPurgeWorkflow,
                   CaseAuditWorkflow, BackupWorkflow],
        activities=build_activities(pool, settings),
        workflow_runner=workflow_runner(),
        build_id=build_id(),
        interceptors=[ActingWorkerInterceptor()],
        graceful_shutdown_timeout=settings.worker_shutdown_grace,
        max_cached_workflows=settings.worker_cached_workflows,
        max_concurrent_workflow_tasks=settings.worker_workflow_tasks,
        max_concurrent_activities=settings.worker_activities,
        max_concurrent_local_activities=settings.worker_local_activities,
        max_concurrent_workflow_task_polls=settings.worker_workflow_pollers,
        max_concurrent_activity_task_polls=settings.worker_activity_pollers,
    )


async def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_format)
    from activities.db import create_pool, migrate

    if missing := settings.missing_stamp_key():
        log.error(missing)
        return 2
    if unwritable := unwritable_file_stores(settings):
        log.error(f"cannot write the file store: {', '.join(unwritable)}; mount the shared volume or fix its permissions")
        return 2
    process_runtime(settings.worker_metrics_address)  # the SDK's own Prometheus endpoint: task latencies, slots, failures
    try:
        client = await connect(settings, worker=True)
        missing = await missing_search_attributes(client, settings.temporal_namespace)
    except TemporalUnavailable as err:  # one clear line, not a traceback wall
        log.error(str(err))
        return 2
    except RPCError as err:  # e.g. the namespace does not exist
        log.error(f"Temporal refused the worker's start-up check: {err.message} (namespace {settings.temporal_namespace})")
        return 2
    if missing:
        log.error(missing_message(settings.temporal_namespace, missing))
        return EXIT_SEARCH_ATTRIBUTES
    try:
        await migrate(settings.dsn())
        pool = await create_pool(settings.dsn(), max_size=settings.db_pool_size)
    except Exception as err:
        log.error("postgresql unreachable", error=str(err).splitlines()[0] if str(err) else type(err).__name__)
        return 2

    try:  # the management schedules: created or brought up to date by every worker that starts
        from starter.schedules import ensure_schedules

        await ensure_schedules(client, settings)
    except Exception as err:  # a worker that cannot set them still serves cases; the next start tries again
        log.warning("schedules not ensured", error=str(err).splitlines()[0] if str(err) else type(err).__name__)
    worker = build_worker(client, settings, pool)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started", task_queue=settings.task_queue, namespace=settings.temporal_namespace,
             personal_data="sealed" if settings.encryption_key else "in clear: set CRISIS_ENCRYPTION_KEY to seal it")
    async with worker:
        await stop.wait()
        log.info("worker stopping: finishing running tasks")
    await pool.close()
    log.info("worker stopped")
    return 0


def run() -> None:
    """`python worker.py`. Interpreter finalization with the SDK's core threads still alive aborted the
    process now and then (SIGABRT in PyGILState_Release, seen when exiting right after a refused
    start-up check): every resource is closed by now, so leave without finalization once the logs are out."""
    code = asyncio.run(main())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
