"""py-spy beside a phase (`python -m benchmarks --profile DIR`): where a process spends its CPU.

py-spy (PyPI, a dev dependency) samples a running Python process from outside; the raw output is
one line per distinct stack with its sample count. The summary keeps the frames that take the most
samples, counted once per stack they appear in (inclusive), and the leaves (self): enough to say
what bounds a figure; the raw file and a flame graph stay in DIR for a closer look.
"""

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Sampler:
    """Samples `pid` (and its children) while the `with` block runs; `summary()` afterwards."""

    def __init__(self, pid: int, out: Path, rate: int = 100) -> None:
        self.pid, self.out, self.rate = pid, out, rate
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Sampler":
        binary = py_spy()
        if binary is None:
            raise RuntimeError("--profile needs py-spy: `pip install py-spy` (it is in the dev dependencies)")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([binary, "record", "--pid", str(self.pid), "--format", "raw", "--rate",
                                      str(self.rate), "--nonblocking", "--output", str(self.out)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def summary(self, top: int = 15) -> dict:
        return summarise(self.out, top)


def summarise(raw: Path, top: int = 15, within: str | None = None) -> dict:
    """`within`: only the stacks with a frame that names it (a thread's or a function's work)."""
    inclusive: Counter = Counter()
    leaves: Counter = Counter()
    total = 0
    with contextlib.suppress(OSError):
        for line in raw.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            if within and within not in stack:
                continue
            frames = [short(f) for f in stack.split(";") if f and not f.startswith("process ") and not f.startswith("thread ")]
            total += n
            for frame in set(frames):
                inclusive[frame] += n
            if frames:
                leaves[frames[-1]] += n
    share = (lambda n: round(n / total, 3) if total else None)
    return {"samples": total, "file": str(raw),
            "inclusive": {f: share(n) for f, n in inclusive.most_common(top)},
            "self": {f: share(n) for f, n in leaves.most_common(top)}}


def short(frame: str) -> str:
    """`name (path/to/module.py:123)` → `name (module.py)`: one entry per function, whatever the line."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    return f"{name} ({'/'.join(parts[-2:]) if parts else path})"
