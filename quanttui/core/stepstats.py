"""Statistics of one variant over one load step, computed from request results alone.

The session's fold (core/fold.py) calls it for everyone: the stop rules live, the summaries, the
report and the console, so a decision taken live is re-derived from the recording.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

from quanttui.core.events import RequestResult
from quanttui.core.intervals import quantile_interval, slo_decision
from quanttui.core.loadplan import LoadPlan, SloMetric
from quanttui.core.stats import percentile, to_ms


@dataclass(frozen=True)
class EngineWindow:
    """What the engine's /metrics and NVML said during the step (None where not observed)."""

    kv_cache_peak: float | None = None
    running_peak: float | None = None
    waiting_peak: float | None = None
    preemptions: float | None = None
    server_tok_s: float | None = None
    gpu_mem_peak_mib: float | None = None


@dataclass(frozen=True)
class StepStats:
    variant: str
    precision: str
    step: int
    conc: int
    requests: int  # measured requests (warm-up excluded), ok or not
    ok: int
    errors: int
    error_rate: float
    duration_s: float | None
    output_tokens: int
    tok_s: float | None
    req_s: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    ttft_p99_ms: float | None
    itl_p50_ms: float | None
    itl_p95_ms: float | None
    itl_p99_ms: float | None
    tpot_p50_ms: float | None
    tpot_p95_ms: float | None
    p50_ms: float | None  # end-to-end latency
    p95_ms: float | None
    p99_ms: float | None
    kv_cache_peak: float | None
    running_peak: float | None
    waiting_peak: float | None
    preemptions: float | None
    server_tok_s: float | None
    gpu_mem_peak_mib: float | None
    tokens_estimated: int  # requests whose token count came from chunks, not usage
    slo_p95_ms: float | None
    slo_metric: str | None
    slo_met: bool | None
    errors_by_class: dict[str, int] = field(default_factory=dict)
    # How sure the p95s are (core/intervals.py): two-sided 95 % distribution-free intervals, None
    # where the samples are too few for that end; and the SLO decided at 95 % one-sided.
    p95_ms_lo: float | None = None
    p95_ms_hi: float | None = None
    ttft_p95_ms_lo: float | None = None
    ttft_p95_ms_hi: float | None = None
    tpot_p95_ms_lo: float | None = None
    tpot_p95_ms_hi: float | None = None
    slo_decision: str | None = None  # "meets", "breaches", "undecided"; None without an SLO

    def slo_value_ms(self, metric: SloMetric) -> float | None:
        return {
            SloMetric.E2E: self.p95_ms,
            SloMetric.TTFT: self.ttft_p95_ms,
            SloMetric.TPOT: self.tpot_p95_ms,
            SloMetric.ITL: self.itl_p95_ms,
        }[metric]

    def row(self) -> dict[str, object]:
        """Flat dict for CSV: error classes become `err_<class>` columns."""
        data = asdict(self)
        by_class = data.pop("errors_by_class")
        for name, count in sorted(by_class.items()):
            data[f"err_{name}"] = count
        return data


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def busy_time(intervals: Sequence[tuple[float, float]]) -> float:
    """Length of the union of the intervals."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def compute_step_stats(
    variant: str,
    precision: str,
    step: int,
    concurrency: int,
    results: Sequence[RequestResult],
    plan: LoadPlan | None,
    engine: EngineWindow | None = None,
) -> StepStats:
    measured = [r for r in results if not r.warmup]
    good = [r for r in measured if r.ok]
    errors = [r for r in measured if not r.ok]
    ttfts = [r.ttft for r in good if r.ttft is not None]
    e2es = [r.e2e for r in good if r.e2e is not None]
    tpots = [tp for r in good if (tp := r.tpot) is not None]
    itls = [gap / 1e6 for r in good for gap in r.itl_us]
    out_tokens = sum(r.output_tokens or 0 for r in good)
    duration = None
    if measured:
        # Like `vllm bench serve`'s dur_s (first dispatch to last completion of the measured requests),
        # less any gap in which none of them was in flight: an operator's pause is not throughput.
        duration = busy_time([(r.start, r.t) for r in measured])
    tok_s = out_tokens / duration if duration and duration > 0 else None
    req_s = len(good) / duration if duration and duration > 0 else None
    engine = engine or EngineWindow()
    error_rate = len(errors) / len(measured) if measured else 0.0

    stats = StepStats(
        variant=variant,
        precision=precision,
        step=step,
        conc=concurrency,
        requests=len(measured),
        ok=len(good),
        errors=len(errors),
        error_rate=round(error_rate, 4),
        duration_s=_round(duration),
        output_tokens=out_tokens,
        tok_s=_round(tok_s),
        req_s=_round(req_s, 4),
        ttft_p50_ms=_round(to_ms(percentile(ttfts, 50))),
        ttft_p95_ms=_round(to_ms(percentile(ttfts, 95))),
        ttft_p99_ms=_round(to_ms(percentile(ttfts, 99))),
        itl_p50_ms=_round(to_ms(percentile(itls, 50))),
        itl_p95_ms=_round(to_ms(percentile(itls, 95))),
        itl_p99_ms=_round(to_ms(percentile(itls, 99))),
        tpot_p50_ms=_round(to_ms(percentile(tpots, 50))),
        tpot_p95_ms=_round(to_ms(percentile(tpots, 95))),
        p50_ms=_round(to_ms(percentile(e2es, 50))),
        p95_ms=_round(to_ms(percentile(e2es, 95))),
        p99_ms=_round(to_ms(percentile(e2es, 99))),
        kv_cache_peak=_round(engine.kv_cache_peak, 4),
        running_peak=engine.running_peak,
        waiting_peak=engine.waiting_peak,
        preemptions=engine.preemptions,
        server_tok_s=_round(engine.server_tok_s),
        gpu_mem_peak_mib=_round(engine.gpu_mem_peak_mib, 1),
        tokens_estimated=sum(1 for r in good if r.output_tokens_estimated),
        slo_p95_ms=plan.slo.p95_ms if plan and plan.slo else None,
        slo_metric=str(plan.slo.metric) if plan and plan.slo else None,
        slo_met=None,
        errors_by_class=dict(sorted(Counter(str(r.error) for r in errors).items())),
    )
    e2e_lo, e2e_hi = quantile_interval(e2es, 0.95)
    ttft_lo, ttft_hi = quantile_interval(ttfts, 0.95)
    tpot_lo, tpot_hi = quantile_interval(tpots, 0.95)
    stats = replace(
        stats,
        p95_ms_lo=_round(to_ms(e2e_lo)), p95_ms_hi=_round(to_ms(e2e_hi)),
        ttft_p95_ms_lo=_round(to_ms(ttft_lo)), ttft_p95_ms_hi=_round(to_ms(ttft_hi)),
        tpot_p95_ms_lo=_round(to_ms(tpot_lo)), tpot_p95_ms_hi=_round(to_ms(tpot_hi)),
    )  # fmt: skip
    if plan and plan.slo:
        value = stats.slo_value_ms(plan.slo.metric)
        met = value is not None and value <= plan.slo.p95_ms
        samples = {SloMetric.E2E: e2es, SloMetric.TTFT: ttfts, SloMetric.TPOT: tpots, SloMetric.ITL: itls}
        decision = slo_decision(samples[plan.slo.metric], 0.95, plan.slo.p95_ms / 1000.0)
        stats = replace(stats, slo_met=met, slo_decision=decision)
    return stats


def stop_rule(stats: StepStats, plan: LoadPlan) -> tuple[str, str] | None:
    """The stop rule a step broke, as (rule, detail), or None to go on."""
    if stats.requests and stats.error_rate > plan.max_error_rate:
        return (
            "error_rate",
            f"error rate {stats.error_rate:.1%} > {plan.max_error_rate:.1%} at concurrency {stats.conc}",
        )
    if plan.slo and stats.slo_met is False:
        value = stats.slo_value_ms(plan.slo.metric)
        shown = "no successful request" if value is None else f"{value:.1f} ms"
        return (
            "slo",
            f"p95 {plan.slo.metric} {shown} > SLO {plan.slo.p95_ms:g} ms at concurrency {stats.conc}",
        )
    return None
