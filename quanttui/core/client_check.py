"""Could the load client itself have bent a step's numbers? The self-check behind "client-bound".

Every latency starts as a stamp taken when the client's event loop reads a chunk, so a client
whose loop runs late stamps late, and a client at 100 % of a core cannot keep up with its streams.
From the `ClientSample`s that fall inside a step (io/loop_probe.py measures them) a step is
client-bound when its loop woke later at p99 than a quarter of the step's median inter-token gap
(a lag that size shows in ITL), but at least `LAG_FLOOR_MS` (the ticker's own millisecond
granularity) and at most `LAG_BOUND_MS`, in more than a tenth of the step's seconds (a lone stall
is not a bottleneck); or when its load processes used `CPU_BOUND_PCT` of a core or more on average. Coalesced chunks (several token
chunks in one read) are reported beside it: with a prompt client they are the server's doing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quanttui.core.events import ClientSample, RequestResult

LAG_BOUND_MS = 5.0
LAG_FLOOR_MS = 2.0
ITL_SHARE = 0.25
LATE_SHARE = 0.1  # a lone stall is not a bottleneck: more than this share of the step's seconds
CPU_BOUND_PCT = 90.0
ADVICE = "fewer streams per load process (--load-workers N) or a client on another machine"


@dataclass(frozen=True)
class ClientCheck:
    """What the client's samples say about one step; all None where it was not measured."""

    lag_p99_ms: float | None = None  # the worst second's p99 loop lag
    lag_max_ms: float | None = None
    cpu_pct: float | None = None  # the busiest client process's busiest second, % of one core
    coalesced_pct: float | None = None  # token chunks read together with an earlier one, % of all
    bound: bool | None = None
    reason: str = ""

    @property
    def measured(self) -> bool:
        return self.bound is not None


def check_client(samples: Sequence[ClientSample], itl_p50_ms: float | None) -> ClientCheck:
    if not samples:
        return ClientCheck()
    lag_p99 = max(s.lag_p99_ms for s in samples)
    lag_max = max(s.lag_max_ms for s in samples)
    cpu = max(s.cpu_pct for s in samples)
    chunks = sum(s.token_chunks for s in samples)
    coalesced = sum(s.coalesced for s in samples)
    limit = LAG_BOUND_MS
    if itl_p50_ms is not None and itl_p50_ms > 0:
        limit = min(limit, max(LAG_FLOOR_MS, ITL_SHARE * itl_p50_ms))
    late = sum(1 for s in samples if s.lag_p99_ms > limit)
    mean_cpu = sum(s.cpu_pct for s in samples) / len(samples)
    reasons = []
    if late > LATE_SHARE * len(samples):
        reasons.append(
            f"its event loop ran more than {limit:.1f} ms late at p99 in {late} of {len(samples)} s "
            f"(worst {lag_p99:.1f} ms)"
        )
    if mean_cpu >= CPU_BOUND_PCT:
        reasons.append(f"a load process used {mean_cpu:.0f} % of a core")
    return ClientCheck(
        lag_p99_ms=round(lag_p99, 3),
        lag_max_ms=round(lag_max, 3),
        cpu_pct=round(cpu, 1),
        coalesced_pct=round(100.0 * coalesced / chunks, 2) if chunks else None,
        bound=bool(reasons),
        reason="; ".join(reasons),
    )


def usage_chunk_mismatches(results: Sequence[RequestResult]) -> int:
    """Requests whose server-reported output tokens differ from the token chunks counted (the
    inter-token gaps plus one): their ITL is per chunk, not per token. Estimated counts (no usage)
    are the chunks themselves and are not compared."""
    return sum(
        1
        for r in results
        if r.ok
        and r.ttft is not None
        and r.output_tokens is not None
        and not r.output_tokens_estimated
        and r.output_tokens != len(r.itl_us) + 1
    )
