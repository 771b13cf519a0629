"""What the console shows about one variant, folded from its events (see `core.live`).

Kept apart from `LiveState` so the per-engine picture (start-up, KV cache, queue, memory,
throughput and latency windows, log tail) reads as one small record with its own updates.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass

from quanttui.core.engine_log import PHASE_ORDER
from quanttui.core.events import EngineCapacity, EngineSample, InstanceState, RequestResult, VariantRetired
from quanttui.core.literal import safe_text
from quanttui.core.log_view import is_scrape_line
from quanttui.core.series import RollingWindow, SecondSeries
from quanttui.core.stats import to_ms

PHASES: tuple[str, ...] = tuple(str(p) for p in PHASE_ORDER)  # launching .. ready


@dataclass(frozen=True)
class LatencyView:
    """Percentiles over the rolling window of completed, successful requests (ms)."""

    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    e2e_p50_ms: float | None = None
    e2e_p95_ms: float | None = None
    slo_p95_ms: float | None = None  # p95 of the SLO metric (e2e, ttft, tpot or itl)
    samples: int = 0


@dataclass(frozen=True)
class LogEntry:
    t: float
    text: str  # already made literal with safe_text
    stream: str = "stdout"


class VariantLive:
    """One engine's live picture; every update comes from one event."""

    def __init__(self, name: str, *, history_s: int, window_s: float, log_lines: int) -> None:
        self.name = name
        self.url = ""
        self.model = ""
        self.precision = ""
        self.pids: tuple[int, ...] = ()
        self.state = ""  # "" until the first InstanceState; "attached" for endpoints not launched here
        self.state_detail = ""
        self.phase_index = -1  # position of the start-up phase in PHASES
        self.kv_capacity_log: int | None = None  # what the start-up log said
        self.kv_capacity_metrics: int | None = None  # what /metrics says (the base of kv_usage)
        self.kv_tokens_per_request: int | None = None
        self.kv_max_concurrency: float | None = None
        self.kv_usage: float | None = None  # 0..1
        self.running: float | None = None
        self.waiting: float | None = None
        self.preemptions: float | None = None  # since the first scrape of this session
        self._preempt_base: float | None = None
        self._preempt_last: float | None = None
        self._preempt_carry = 0.0
        self.server_tok_s: float | None = None
        self.metrics_unavailable: str | None = None
        self.requests = 0
        self.ok = 0
        self.errors_by_class: Counter[str] = Counter()
        self.step_done = 0  # measured requests finished in the current step
        self.step_errors = 0
        self.gpu_mem_mib: float | None = None
        self.gpu_processes: tuple[tuple[int, float], ...] = ()
        self.rss_mib: float | None = None
        self.cpu_pct: float | None = None
        self.process_count: int | None = None
        self.retired: VariantRetired | None = None
        self.bend_conc: int | None = None  # where p95 starts to blow up (even below the SLO)
        self.last_result_t: float | None = None
        self.client_tok = SecondSeries("sum", history_s)
        self.server_tok = SecondSeries("last", history_s)
        self.kv_pct = SecondSeries("last", history_s)
        self.slo_p95 = SecondSeries("last", history_s)
        self.ttft = RollingWindow(window_s)
        self.e2e = RollingWindow(window_s)
        self.tpot = RollingWindow(window_s)
        self.itl = RollingWindow(window_s, maxlen=100_000)
        self.logs: deque[LogEntry] = deque(maxlen=log_lines)
        self.log_count = 0
        # quanttui's own GET /metrics lines: counted, not kept (they would crowd out the rest).
        self.scrape_lines = 0

    # -- folding -----------------------------------------------------------------------------
    def on_state(self, event: InstanceState) -> None:
        self.state = event.state
        self.state_detail = safe_text(event.detail)
        if event.state in PHASES:
            self.phase_index = PHASES.index(event.state)

    def on_capacity(self, event: EngineCapacity) -> None:
        if event.kv_cache_tokens is not None:
            self.kv_capacity_log = event.kv_cache_tokens
        if event.tokens_per_request is not None:
            self.kv_tokens_per_request = event.tokens_per_request
        if event.max_concurrency is not None:
            self.kv_max_concurrency = event.max_concurrency

    def on_sample(self, event: EngineSample) -> None:
        self.metrics_unavailable = None
        if not self.state:
            self.state = "attached"
        self.kv_usage = event.kv_cache_usage
        self.running, self.waiting = event.running, event.waiting
        self.server_tok_s = event.generation_tok_s
        if event.kv_cache_size_tokens:
            self.kv_capacity_metrics = event.kv_cache_size_tokens
        self._fold_preemptions(event.preemptions_total)
        if event.kv_cache_usage is not None:
            self.kv_pct.add(event.t, event.kv_cache_usage * 100.0)
        if event.generation_tok_s is not None:
            self.server_tok.add(event.t, event.generation_tok_s)

    def _fold_preemptions(self, total: float | None) -> None:
        if total is None:
            return
        if self._preempt_base is None:
            self._preempt_base = total
        elif self._preempt_last is not None and total < self._preempt_last:
            # The counter went back: the engine restarted. Keep what was counted before.
            self._preempt_carry += self._preempt_last - self._preempt_base
            self._preempt_base = 0.0
        self._preempt_last = total
        self.preemptions = self._preempt_carry + total - self._preempt_base

    def on_result(self, event: RequestResult, current_step: int | None) -> None:
        self.requests += 1
        self.last_result_t = event.t
        if event.step == current_step and not event.warmup:
            self.step_done += 1
            if not event.ok:
                self.step_errors += 1
        if not event.ok:
            self.errors_by_class[str(event.error)] += 1
            return
        self.ok += 1
        for second, tokens in token_seconds(event):
            self.client_tok.add(second, tokens)
        if event.ttft is not None:
            self.ttft.add(event.t, event.ttft)
        if event.e2e is not None:
            self.e2e.add(event.t, event.e2e)
        if (tpot := event.tpot) is not None:
            self.tpot.add(event.t, tpot)
        for gap in event.itl_us:
            self.itl.add(event.t, gap / 1e6)

    def on_log(self, t: float, line: str, stream: str) -> None:
        if is_scrape_line(line):
            self.scrape_lines += 1
            return
        self.logs.append(LogEntry(t, safe_text(line), stream))
        self.log_count += 1

    def on_gpu(self, processes: list[tuple[int, float]], mib: float | None = None) -> None:
        """Its processes on NVML's GPUs, and its GPU memory over every GPU that is its (NVML and
        DCGM, core/gpu_usage.py); None when none is known to be its."""
        self.gpu_processes = tuple(processes)
        self.gpu_mem_mib = mib if mib is not None else (sum(m for _, m in processes) if processes else None)

    def on_process(self, rss_mib: float | None, cpu_pct: float | None, processes: int | None) -> None:
        self.rss_mib, self.cpu_pct, self.process_count = rss_mib, cpu_pct, processes

    # -- reading -----------------------------------------------------------------------------
    @property
    def errors(self) -> int:
        return sum(self.errors_by_class.values())

    @property
    def kv_capacity_tokens(self) -> int | None:
        """KV capacity in tokens: /metrics' own when it reports one (usage is a fraction of it)."""
        return self.kv_capacity_metrics or self.kv_capacity_log

    @property
    def kv_headroom_tokens(self) -> float | None:
        if self.kv_usage is None or self.kv_capacity_tokens is None:
            return None
        return max(0.0, 1.0 - self.kv_usage) * self.kv_capacity_tokens

    @property
    def starting(self) -> bool:
        """Still on its way to ready (a progress bar is worth showing)."""
        return 0 <= self.phase_index < PHASES.index("ready")

    def trim(self, now: float) -> None:
        for window in (self.ttft, self.e2e, self.tpot, self.itl):
            window.trim(now)

    def slo_window(self, metric: str) -> RollingWindow:
        return {"ttft": self.ttft, "tpot": self.tpot, "itl": self.itl}.get(metric, self.e2e)

    def latency(self, metric: str) -> LatencyView:
        return LatencyView(
            ttft_p50_ms=to_ms(self.ttft.percentile(50)),
            ttft_p95_ms=to_ms(self.ttft.percentile(95)),
            e2e_p50_ms=to_ms(self.e2e.percentile(50)),
            e2e_p95_ms=to_ms(self.e2e.percentile(95)),
            slo_p95_ms=to_ms(self.slo_window(metric).percentile(95)),
            samples=len(self.e2e),
        )


def token_seconds(event: RequestResult) -> list[tuple[float, float]]:
    """A request's output tokens spread over the seconds they streamed in, not piled on its end.

    Counting them at completion made the client tok/s plot spike when many requests ended
    together (the end of every step). Chunk times are start + TTFT + the inter-token gaps; the
    request's token count (usage) is shared evenly over its chunks.
    """
    tokens = float(event.output_tokens or 0)
    if not tokens or event.ttft is None:
        return [(event.t, tokens)] if tokens else []
    per_chunk = tokens / (len(event.itl_us) + 1)
    at = event.start + event.ttft
    buckets: dict[int, float] = {math.floor(at): per_chunk}
    for gap_us in event.itl_us:
        at += gap_us / 1e6
        second = math.floor(min(at, event.t))
        buckets[second] = buckets.get(second, 0.0) + per_chunk
    return [(float(second), value) for second, value in sorted(buckets.items())]
