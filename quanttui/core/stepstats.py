"""Statistics of one variant over one load step, computed from request results alone.

The session's fold (core/fold.py) calls it for everyone: the stop rules live, the summaries, the
report and the console, so a decision taken live is re-derived from the recording.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from quanttui.core.client_check import check_client, usage_chunk_mismatches
from quanttui.core.decisions import LookPlan, metric_samples, step_verdict
from quanttui.core.events import ClientSample, RequestResult, StepStarted
from quanttui.core.intervals import quantile_interval
from quanttui.core.levels import LevelKind, level_text
from quanttui.core.loadplan import LoadPlan, Slo, SloMetric
from quanttui.core.open_loop_check import OpenLoopCheck, check_open_loop
from quanttui.core.stats import percentile, to_ms


@dataclass(frozen=True)
class EngineWindow:
    """What the engine's /metrics and NVML said during the step (None where not observed)."""

    kv_cache_peak: float | None = None
    running_peak: float | None = None
    waiting_peak: float | None = None
    preemptions: float | None = None
    server_tok_s: float | None = None
    prefix_cache_hit_rate: float | None = None  # the engine's own: prompt tokens found / looked up
    gpu_mem_peak_mib: float | None = None
    host_others_cpu_pct: float | None = None
    host_busy: bool | None = None
    client_samples: tuple[ClientSample, ...] = ()


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
    trial: int = 0
    warmup: int = 0  # requests not measured: warm-up and the fill wave
    tail: int = 0  # requests that finished after the step was decided (not measured)
    decided_at: int | None = None  # measured requests at the look that decided the step
    slo_percentile: float | None = None  # of the primary SLO bound (95 unless said otherwise)
    slo_pct_ms: float | None = None  # that percentile of the SLO metric, and its interval
    slo_pct_ms_lo: float | None = None
    slo_pct_ms_hi: float | None = None
    design_effect: float | None = None  # closed-loop correlation measured on the primary bound
    goodput_req_s: float | None = None  # requests/s meeting every SLO bound (vllm bench's goodput)
    host_others_cpu_pct: float | None = None  # mean CPU of other processes on the host (100 = one core)
    host_busy: bool | None = None  # the step ran on a busy host (noise); None: not measured
    # The client's self-check (core/client_check.py; schema >= 4, else None): its loop's lateness,
    # its CPU, chunks read coalesced, and whether it could have bent this step's latencies.
    client_lag_p99_ms: float | None = None
    client_lag_max_ms: float | None = None
    client_cpu_pct: float | None = None
    client_coalesced_pct: float | None = None
    client_bound: bool | None = None
    usage_chunk_mismatch: int = 0  # requests whose usage tokens differ from the chunks counted
    intervals: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    bounds: dict[str, object] = field(default_factory=dict)  # further SLO bounds: value, interval, decision
    # Workloads (schema >= 6; None before). An open-loop step: its offered rate, what was sent and
    # completed, how late the sends were, and whether the queue was still growing at its end
    # (core/open_loop_check.py). A prompt-length step: the prompts' length in tokens.
    rate: float | None = None
    input_tokens: int | None = None
    sent_req_s: float | None = None
    completed_req_s: float | None = None
    lag_p50_ms: float | None = None
    lag_p99_ms: float | None = None
    behind: bool | None = None
    queue_growing: bool | None = None
    queue_detail: str = ""
    prompt_tokens: int = 0  # over the measured successful requests, as the engine counted them
    input_tok_s: float | None = None  # prefill throughput: prompt tokens / the step's busy time
    prefix_cache_hit_rate: float | None = None  # vLLM's prefix cache over the step: tokens hit / looked up

    @property
    def level_kind(self) -> LevelKind:
        if self.rate is not None:
            return LevelKind.RATE
        if self.input_tokens is not None:
            return LevelKind.INPUT_TOKENS
        return LevelKind.CONCURRENCY

    @property
    def level(self) -> float:
        """Where this step sits on its ramp: users, requests/s or prompt tokens."""
        if self.rate is not None:
            return self.rate
        if self.input_tokens is not None:
            return float(self.input_tokens)
        return float(self.conc)

    @property
    def level_text(self) -> str:
        return level_text(self.level_kind, self.level)

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
        intervals = data.pop("intervals")
        bounds = data.pop("bounds")
        for name, (lo, hi) in intervals.items():
            data[f"{name}_ms_lo"], data[f"{name}_ms_hi"] = lo, hi
        data |= bounds
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
    started: StepStarted,
    results: Sequence[RequestResult],
    plan: LoadPlan | None,
    engine: EngineWindow | None = None,
    finished: bool = True,
) -> StepStats:
    """One variant's step. The measured requests are those after the warm-up, up to the look that
    decided the step (core/decisions.py); later ones finished after the decision and are the tail."""
    everything = [r for r in results if not r.warmup]
    slo = plan.slo if plan else None
    confidence = plan.confidence if plan else started.confidence
    looks = LookPlan(started.looks, started.alpha_meets, started.alpha_breach)
    # Requests in flight together correlate; open loop has no fixed number of them, so the mean
    # number in flight (Little's law: their summed latency over the busy time) stands for it.
    together = started.concurrency if started.rate is None else _mean_in_flight(everything)
    verdict = step_verdict(everything, started.warmup_requests, looks, slo, together, confidence, finished)
    measured = sorted(everything, key=lambda r: r.index)[: verdict.measured]
    good = [r for r in measured if r.ok]
    errors = [r for r in measured if not r.ok]
    ttfts = metric_samples(measured, SloMetric.TTFT)
    e2es = metric_samples(measured, SloMetric.E2E)
    tpots = metric_samples(measured, SloMetric.TPOT)
    itls = metric_samples(measured, SloMetric.ITL)
    out_tokens = sum(r.output_tokens or 0 for r in good)
    duration = None
    if measured:
        # Like `vllm bench serve`'s dur_s (first dispatch to last completion of the measured requests),
        # less any gap in which none of them was in flight: an operator's pause is not throughput.
        duration = busy_time([(r.start, r.t) for r in measured])
    tok_s = out_tokens / duration if duration and duration > 0 else None
    prompt_tokens = sum(r.prompt_tokens or 0 for r in good)
    input_tok_s = prompt_tokens / duration if duration and duration > 0 and prompt_tokens else None
    open_loop = (
        check_open_loop(started.rate, results, finished)
        if started.rate is not None
        else OpenLoopCheck(None, None, None, None, None, None)
    )
    req_s = len(good) / duration if duration and duration > 0 else None
    goodput = None
    if slo is not None and duration and duration > 0:
        goodput = sum(1 for r in good if request_meets(r, slo)) / duration
    engine = engine or EngineWindow()
    error_rate = len(errors) / len(measured) if measured else 0.0
    samples = {"ttft": ttfts, "itl": itls, "tpot": tpots, "e2e": e2es}
    intervals: dict[str, tuple[float | None, float | None]] = {}
    for name, values in samples.items():
        for pct in (50, 95, 99):
            lo, hi = quantile_interval(values, pct / 100, confidence)
            intervals[f"{name}_p{pct}"] = (_round(to_ms(lo)), _round(to_ms(hi)))
    for bound in verdict.bounds:  # a percentile that is an SLO bound: its interval with the design effect
        key = f"{bound.bound.metric.value}_p{bound.bound.percentile:g}"
        if key in intervals:
            intervals[key] = (bound.lo_ms, bound.hi_ms)
    bounds: dict[str, object] = {}
    for b in verdict.bounds[1:]:  # the primary bound has its own columns
        bounds |= {f"{b.bound.key}_ms": b.value_ms, f"{b.bound.key}_ms_lo": b.lo_ms,
                   f"{b.bound.key}_ms_hi": b.hi_ms, f"{b.bound.key}_decision": b.decision}  # fmt: skip
    primary = verdict.bounds[0] if verdict.bounds else None
    itl_p50_ms = to_ms(percentile(itls, 50))
    client = check_client(engine.client_samples, itl_p50_ms)
    e2e_lo, e2e_hi = intervals["e2e_p95"]
    ttft_lo, ttft_hi = intervals["ttft_p95"]
    tpot_lo, tpot_hi = intervals["tpot_p95"]
    value = primary.value_ms if primary else None
    return StepStats(
        variant=variant,
        precision=precision,
        step=started.step,
        conc=started.concurrency,
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
        itl_p50_ms=_round(itl_p50_ms),
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
        slo_p95_ms=slo.p95_ms if slo else None,
        slo_metric=str(slo.metric) if slo else None,
        slo_met=None if slo is None else (value is not None and value <= slo.p95_ms),
        errors_by_class=dict(sorted(Counter(str(r.error) for r in errors).items())),
        p95_ms_lo=e2e_lo, p95_ms_hi=e2e_hi,
        ttft_p95_ms_lo=ttft_lo, ttft_p95_ms_hi=ttft_hi,
        tpot_p95_ms_lo=tpot_lo, tpot_p95_ms_hi=tpot_hi,
        slo_decision=verdict.decision,
        trial=started.trial,
        warmup=sum(1 for r in results if r.warmup),
        tail=len(everything) - len(measured),
        decided_at=verdict.look,
        slo_percentile=slo.percentile if slo else None,
        slo_pct_ms=value,
        slo_pct_ms_lo=primary.lo_ms if primary else None,
        slo_pct_ms_hi=primary.hi_ms if primary else None,
        design_effect=primary.design_effect if primary else None,
        goodput_req_s=_round(goodput, 4),
        host_others_cpu_pct=_round(engine.host_others_cpu_pct, 1),
        host_busy=engine.host_busy,
        client_lag_p99_ms=client.lag_p99_ms,
        client_lag_max_ms=client.lag_max_ms,
        client_cpu_pct=client.cpu_pct,
        client_coalesced_pct=client.coalesced_pct,
        client_bound=client.bound,
        usage_chunk_mismatch=usage_chunk_mismatches(good),
        intervals={k: v for k, v in intervals.items() if k not in _EXPLICIT_INTERVALS},
        bounds=bounds,
        rate=started.rate, input_tokens=started.input_tokens,
        sent_req_s=open_loop.sent_req_s, completed_req_s=open_loop.completed_req_s,
        lag_p50_ms=open_loop.lag_p50_ms, lag_p99_ms=open_loop.lag_p99_ms, behind=open_loop.behind,
        queue_growing=open_loop.queue_growing, queue_detail=open_loop.queue_detail,
        prompt_tokens=prompt_tokens, input_tok_s=_round(input_tok_s),
        prefix_cache_hit_rate=_round(engine.prefix_cache_hit_rate, 4),
    )  # fmt: skip


def _mean_in_flight(results: Sequence[RequestResult]) -> int:
    busy = busy_time([(r.start, r.t) for r in results])
    if busy <= 0:
        return 1
    return max(1, round(sum(r.t - r.start for r in results) / busy))


_EXPLICIT_INTERVALS = {"e2e_p95", "ttft_p95", "tpot_p95"}


def request_meets(result: RequestResult, slo: Slo) -> bool:
    """Goodput's test of one request, as `vllm bench serve --goodput` does: its own TTFT, TPOT and
    E2E within every bound on those metrics (an ITL bound judges steps, not single requests)."""
    own = {SloMetric.TTFT: result.ttft, SloMetric.TPOT: result.tpot, SloMetric.E2E: result.e2e}
    for bound in slo.bounds:
        if bound.metric is SloMetric.ITL:
            continue
        value = own[bound.metric]
        if value is None or value * 1000.0 > bound.ms:
            return False
    return True


def stop_rule(stats: StepStats, plan: LoadPlan) -> tuple[str, str] | None:
    """The stop rule a step broke, as (rule, detail), or None to go on."""
    if stats.requests and stats.error_rate > plan.max_error_rate:
        return (
            "error_rate",
            f"error rate {stats.error_rate:.1%} > {plan.max_error_rate:.1%} at {_at(stats)}",
        )
    if stats.queue_growing:
        return "saturated", f"saturated at {stats.level_text}: {stats.queue_detail}"
    if plan.slo and stats.slo_decision == "breaches":
        value = stats.slo_pct_ms_lo
        shown = "no successful request" if stats.slo_pct_ms is None else f"{stats.slo_pct_ms:.1f} ms"
        low = "" if value is None else f" (95 % lower bound {value:.1f} ms)"
        return (
            "slo",
            f"{_bound_name(plan)} {shown}{low} > SLO {plan.slo.p95_ms:g} ms at {_at(stats)}"
            + _other_breaches(stats),
        )
    return None


def _at(stats: StepStats) -> str:
    if stats.level_kind is LevelKind.CONCURRENCY:
        return f"concurrency {stats.conc}"
    return stats.level_text


def _bound_name(plan: LoadPlan) -> str:
    slo = plan.slo
    return "" if slo is None else f"p{slo.percentile:g} {slo.metric.value}"


def _other_breaches(stats: StepStats) -> str:
    keys = [
        k.removesuffix("_decision")
        for k, v in stats.bounds.items()
        if k.endswith("_decision") and v == "breaches"
    ]
    return f"; also breached: {', '.join(keys)}" if keys else ""
