"""How fast one caller may act on one case through the API (issue 21): a token bucket per (caller, case).

`CRISIS_ACTION_BURST` actions at once, then `CRISIS_ACTION_RATE` a minute; over that the API answers
429 with `Retry-After` (whole seconds) and sends nothing to the case, so a script, or an attacker with
an operator's token, cannot fill a case's history with refusals. Every action request counts,
refused ones too. The buckets live in the API process: N replicas allow N times the rate.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_BUCKETS = 100_000  # the least recently used bucket goes first


class RateLimit:
    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second, self.burst, self.clock = per_minute / 60, burst, clock
        self.buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    def wait(self, caller: str, case_id: str) -> int | None:
        """None when the caller may act now (and it is counted); else the whole seconds to wait."""
        if not self.enabled:
            return None
        now, key = self.clock(), (caller, case_id)
        tokens, at = self.buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            allowed = None
        else:
            self.buckets[key] = (tokens, now)
            allowed = max(1, math.ceil((1 - tokens) / self.per_second))
        while len(self.buckets) > MAX_BUCKETS:
            self.buckets.popitem(last=False)
        return allowed
