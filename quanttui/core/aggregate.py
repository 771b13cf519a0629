"""The aggregator: folds the event stream into per-variant, per-step statistics.

It sees only events, so a live session and its replay produce the same numbers. Engine and GPU
samples are folded into the open step's window as they arrive (bounded memory); request results
are kept per step because percentiles need them all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from quanttui.core.events import (
    EndpointInfo,
    EngineSample,
    Event,
    GpuSample,
    GpuUnavailable,
    InstanceState,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
    VariantRetired,
)
from quanttui.core.loadplan import LoadPlan
from quanttui.core.stepstats import EngineWindow, StepStats, compute_step_stats


@dataclass
class _WindowAccumulator:
    kv_peak: float | None = None
    running_peak: float | None = None
    waiting_peak: float | None = None
    preempt_start: float | None = None
    preempt_end: float | None = None
    gen_first: tuple[float, float] | None = None  # (t, generation_tokens_total)
    gen_last: tuple[float, float] | None = None
    gpu_peak_mib: float | None = None

    def window(self) -> EngineWindow:
        preemptions = None
        if self.preempt_start is not None and self.preempt_end is not None:
            preemptions = max(0.0, self.preempt_end - self.preempt_start)
        server_tok_s = None
        if self.gen_first and self.gen_last and self.gen_last[0] > self.gen_first[0]:
            delta = self.gen_last[1] - self.gen_first[1]
            if delta >= 0:
                server_tok_s = delta / (self.gen_last[0] - self.gen_first[0])
        return EngineWindow(
            kv_cache_peak=self.kv_peak,
            running_peak=self.running_peak,
            waiting_peak=self.waiting_peak,
            preemptions=preemptions,
            server_tok_s=server_tok_s,
            gpu_mem_peak_mib=self.gpu_peak_mib,
        )


def _peak(current: float | None, value: float | None) -> float | None:
    if value is None:
        return current
    return value if current is None else max(current, value)


@dataclass
class StepWindow:
    step: int
    concurrency: int
    started: float
    finished: float | None = None
    variants: tuple[str, ...] = ()


@dataclass
class VariantState:
    info: EndpointInfo
    state: str = ""
    state_detail: str = ""
    retired: VariantRetired | None = None
    last_sample: EngineSample | None = None
    errors_by_class: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    warmup_requests: int = 0


class Aggregator:
    def __init__(self, plan: LoadPlan | None) -> None:
        self.plan = plan
        self.variants: dict[str, VariantState] = {}
        self.steps: dict[int, StepWindow] = {}
        self.open_step: StepWindow | None = None
        self.results: dict[tuple[str, int], list[RequestResult]] = defaultdict(list)
        self.windows: dict[tuple[str, int], _WindowAccumulator] = defaultdict(_WindowAccumulator)
        self.gpu_unavailable: str | None = None
        self.gpu_names: set[str] = set()
        self.sweep_end: SweepFinished | None = None
        self.last_t = 0.0

    def consume(self, event: Event) -> None:
        self.last_t = max(self.last_t, event.t)
        match event:
            case EndpointInfo():
                self.variants[event.variant] = VariantState(info=event)
            case InstanceState():
                state = self._variant(event.variant)
                if state:
                    state.state, state.state_detail = event.state, event.detail
            case StepStarted():
                window = StepWindow(event.step, event.concurrency, event.t, variants=event.variants)
                self.steps[event.step] = window
                self.open_step = window
                for name in event.variants:
                    state = self._variant(name)
                    acc = self.windows[(name, event.step)]
                    if state and state.last_sample:
                        acc.preempt_start = state.last_sample.preemptions_total
            case StepFinished():
                if event.step in self.steps:
                    self.steps[event.step].finished = event.t
                self.open_step = None
            case RequestResult():
                self.results[(event.variant, event.step)].append(event)
                state = self._variant(event.variant)
                if state:
                    if event.warmup:
                        state.warmup_requests += 1
                    else:
                        state.requests += 1
                        if not event.ok:
                            state.errors_by_class[str(event.error)] += 1
            case EngineSample():
                self._fold_engine(event)
            case GpuSample():
                self._fold_gpu(event)
            case GpuUnavailable():
                self.gpu_unavailable = event.reason
            case VariantRetired():
                state = self._variant(event.variant)
                if state:
                    state.retired = event
            case SweepFinished():
                self.sweep_end = event
            case _:
                pass

    def _variant(self, name: str) -> VariantState | None:
        return self.variants.get(name)

    def _fold_engine(self, sample: EngineSample) -> None:
        state = self._variant(sample.variant)
        if state:
            state.last_sample = sample
        step = self.open_step
        if step is None or sample.variant not in step.variants:
            return
        acc = self.windows[(sample.variant, step.step)]
        acc.kv_peak = _peak(acc.kv_peak, sample.kv_cache_usage)
        acc.running_peak = _peak(acc.running_peak, sample.running)
        acc.waiting_peak = _peak(acc.waiting_peak, sample.waiting)
        if sample.preemptions_total is not None:
            if acc.preempt_start is None:
                acc.preempt_start = sample.preemptions_total
            acc.preempt_end = sample.preemptions_total
        if sample.generation_tokens_total is not None:
            point = (sample.t, sample.generation_tokens_total)
            if acc.gen_first is None:
                acc.gen_first = point
            acc.gen_last = point

    def _fold_gpu(self, sample: GpuSample) -> None:
        self.gpu_names.add(sample.name)
        step = self.open_step
        if step is None:
            return
        for name in step.variants:
            state = self._variant(name)
            if not state or not state.info.pids:
                continue
            pids = set(state.info.pids)
            used = sum(p.used_mib for p in sample.processes if p.pid in pids)
            if any(p.pid in pids for p in sample.processes):
                acc = self.windows[(name, step.step)]
                acc.gpu_peak_mib = _peak(acc.gpu_peak_mib, used)

    def step_stats(self, variant: str, step: int) -> StepStats:
        window = self.steps[step]
        state = self.variants.get(variant)
        precision = state.info.precision if state else ""
        return compute_step_stats(
            variant,
            precision,
            step,
            window.concurrency,
            self.results.get((variant, step), []),
            self.plan,
            self.windows[(variant, step)].window(),
        )

    def all_step_stats(self) -> list[StepStats]:
        rows: list[StepStats] = []
        for step in sorted(self.steps):
            for variant in self.steps[step].variants:
                rows.append(self.step_stats(variant, step))
        return rows
