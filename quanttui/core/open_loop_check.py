"""Was an open-loop step sent as scheduled, and did the server keep up? (issue 19)

Two checks on a rate step's requests, from the recording alone (a replay re-derives them):

- *Behind*: each request's lag is its start (stamped where it was sent) minus its scheduled time.
  A step whose lag p99 exceeds `BEHIND_MS` or a tenth of the mean gap between arrivals did not
  offer the load it names (the client, or the cap on requests in flight, held sends back): it is
  marked, never reported as if the rate had been met.
- *Queue growing*: past its saturation a server completes fewer requests per second than arrive,
  so the queue, and every latency, grows for as long as the step runs: there is no steady state to
  report. The check counts, over the second half of the sending window (and at least two of the
  step's first latencies after its start, past the fill), the requests sent and those completed:
  in a steady state both run at the arrival rate; fewer completed than sent, by more than 10 % and
  more than two Poisson standard deviations, means the queue was still growing when the step
  ended. A step capped by --max-concurrency sends only as fast as requests complete: it shows as
  behind (its sends waited), not as a growing queue.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from quanttui.core.events import RequestResult
from quanttui.core.stats import percentile

BEHIND_MS = 5.0
BEHIND_GAP_SHARE = 0.1
QUEUE_SHORTFALL = 0.9
MIN_QUEUE_SENDS = 10


@dataclass(frozen=True)
class OpenLoopCheck:
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    behind: bool | None  # None: no scheduled send times (closed loop, or before schema 6)
    sent_req_s: float | None  # what was actually sent, over the sending window
    completed_req_s: float | None  # completions over the window the queue check used
    queue_growing: bool | None  # None: not an open-loop step, still running, or too short to tell
    queue_detail: str = ""


def behind_threshold_ms(rate: float) -> float:
    return max(BEHIND_MS, BEHIND_GAP_SHARE * 1000.0 / rate)


def check_open_loop(rate: float, results: Sequence[RequestResult], finished: bool) -> OpenLoopCheck:
    """`results`: every request of the step on one variant, warm-up included (the schedule is one)."""
    scheduled = [r for r in results if r.intended is not None]
    if not scheduled:
        return OpenLoopCheck(None, None, None, None, None, None)
    lags = [(r.lag_s or 0.0) * 1000.0 for r in scheduled]
    p50, p99 = percentile(lags, 50) or 0.0, percentile(lags, 99) or 0.0
    behind = p99 > behind_threshold_ms(rate)
    starts = sorted(r.start for r in scheduled)
    span = starts[-1] - starts[0]
    sent = (len(starts) - 1) / span if span > 0 else None
    if not finished:
        return OpenLoopCheck(round(p50, 3), round(p99, 3), behind, _r(sent), None, None)
    growing, completed, detail = _queue(rate, scheduled, starts)
    return OpenLoopCheck(round(p50, 3), round(p99, 3), behind, _r(sent), _r(completed), growing, detail)


def _queue(
    rate: float, results: Sequence[RequestResult], starts: list[float]
) -> tuple[bool | None, float | None, str]:
    first, last = starts[0], starts[-1]
    by_start = sorted(results, key=lambda r: r.start)
    early = by_start[: max(5, len(by_start) // 10)]
    settle = statistics.median(r.t - r.start for r in early)  # before any queue could build up
    begin = max(first + (last - first) / 2, first + 2 * settle)
    if last - begin < 2.0 / rate:
        return None, None, "too short to tell: the step sent for less than four of its first latencies"
    ends = sorted(r.t for r in results)
    completed = bisect.bisect_right(ends, last) - bisect.bisect_left(ends, begin)
    sent = bisect.bisect_right(starts, last) - bisect.bisect_left(starts, begin)
    if sent < MIN_QUEUE_SENDS:
        return None, None, f"too few requests to tell ({sent} in the window)"
    per_s = completed / (last - begin)
    growing = completed < QUEUE_SHORTFALL * sent and sent - completed > max(2.0, 2.0 * math.sqrt(sent))
    detail = (
        f"completed {per_s:.2f} req/s while {rate:g} req/s arrived: the queue was still growing"
        if growing
        else f"completed {per_s:.2f} req/s of {rate:g} req/s offered"
    )
    return growing, per_s, detail


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
