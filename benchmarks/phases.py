"""A failing benchmark says where: every phase runs under `phase(name)`, and an error inside becomes
BenchFailed naming it (the stack is stopped on the way out, so nothing is left running)."""

import contextlib


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
