"""A failing benchmark says where: every phase runs under `phase(name)`, and an error inside becomes
BenchFailed naming it (the stack is stopped on the way out, so nothing is left running)."""

import contextlib
import sys


class BenchFailed(RuntimeError):
    def __init__(self, phase: str, reason: str):
        super().__init__(f"{phase}: {reason}")
        self.phase, self.reason = phase, reason


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


@contextlib.contextmanager
def phase(name: str):
    try:
        yield
    except BenchFailed:
        raise
    except Exception as err:
        reason = _first_line(err)
        child = getattr(err, "child", None)  # a stack part died: its last log lines say why
        if child is not None and (tail := child.log_tail(5)):
            reason += "; its log ends: " + " | ".join(line.strip() for line in tail.splitlines())
        raise BenchFailed(name, reason) from err


class Phases:
    """Phases run one after another: a failure is told at once (`bench failed in phase NAME: REASON`)
    and kept, and the next phase still runs (each measures on its own, so one failure does not cost
    the others' figures); the run exits 1 when any failed."""

    def __init__(self) -> None:
        self.failed: list[BenchFailed] = []

    @contextlib.contextmanager
    def run(self, name: str, diagnose=None):
        """`diagnose()`: more to say after an error (the stack parts that died, with their last lines)."""
        try:
            with phase(name):
                yield
        except BenchFailed as failure:
            if diagnose is not None and (more := diagnose()):
                failure = BenchFailed(failure.phase, f"{failure.reason}; {more}")
            self.failed.append(failure)
            print(f"\nbench failed in phase {failure.phase}: {failure.reason}", file=sys.stderr, flush=True)

    def report(self) -> list[dict]:
        return [{"phase": f.phase, "reason": f.reason} for f in self.failed]
