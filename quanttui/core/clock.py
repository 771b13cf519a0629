"""The session clock: seconds since session start on the monotonic performance counter.

Wall-clock time appears once, in the recording header; everything else uses this clock.
"""

from __future__ import annotations

import time


class SessionClock:
    def __init__(self) -> None:
        self._origin_ns = time.perf_counter_ns()

    def now(self) -> float:
        return (time.perf_counter_ns() - self._origin_ns) / 1e9

    def at(self, perf_counter_ns: int) -> float:
        """Session time of a raw perf_counter_ns() reading."""
        return (perf_counter_ns - self._origin_ns) / 1e9
