"""The aggregator: per-variant, per-step statistics from the event stream (inside `core/fold.py`'s
SessionFold, which every consumer uses; nothing else makes one).

It sees only events, so a live session and its replay produce the same numbers. Engine and GPU
samples are folded into the open step's window as they arrive (bounded memory); request results
are kept per step because percentiles need them all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from quanttui.core.events import (
    ClientSample,
    EndpointInfo,
    EngineSample,
    Event,
    GpuSample,
    GpuUnavailable,
    HostSample,
    InstanceState,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
    VariantRetired,
)
from quanttui.core.gpu_usage import GpuUsage
from quanttui.core.loadplan import LoadPlan
from quanttui.core.stepstats import EngineWindow, StepStats, compute_step_stats


@dataclass
class _WindowAccumulator:
    """Engine and GPU samples seen while a step was open, for one variant."""

    preempt_before: float | None = None  # counter value when the step started
    prefix_before: tuple[float, float] | None = None  # prefix-cache (queries, hits) when it started
    samples: list[EngineSample] = field(default_factory=list)
    gpu_mib: list[tuple[float, float]] = field(
        default_factory=list
    )  # (t, the variant's GPU MiB: core/gpu_usage.py)
    host: list[HostSample] = field(default_factory=list)
    client: list[ClientSample] = field(default_factory=list)

    def window(
        self, active_from: float, active_to: float, measured: tuple[float, float] | None
    ) -> EngineWindow:
        """Peaks over the variant's active part of the step; server tok/s over its measured part.

        A variant that finishes its step early idles until the others finish: those samples would
        dilute its rates, so they are left out.
        """
        active = [s for s in self.samples if active_from <= s.t <= active_to]
        kv = running = waiting = gpu = None
        for sample in active:
            kv = _peak(kv, sample.kv_cache_usage)
            running = _peak(running, sample.running)
            waiting = _peak(waiting, sample.waiting)
        for t, mib in self.gpu_mib:
            if active_from <= t <= active_to:
                gpu = _peak(gpu, mib)
        counters = [s.preemptions_total for s in active if s.preemptions_total is not None]
        preemptions = None
        if counters:
            base = self.preempt_before if self.preempt_before is not None else counters[0]
            preemptions = max(0.0, counters[-1] - base)
        prefix_hit_rate = None
        pairs = [(s.prefix_cache_queries_total, s.prefix_cache_hits_total) for s in active
                 if s.prefix_cache_queries_total is not None and s.prefix_cache_hits_total is not None]  # fmt: skip
        if pairs:
            q0, h0 = self.prefix_before if self.prefix_before is not None else pairs[0]
            queried, hit = pairs[-1][0] - q0, pairs[-1][1] - h0  # type: ignore[operator]
            prefix_hit_rate = hit / queried if queried > 0 and hit >= 0 else None
        server_tok_s = None
        if measured:
            gen = [(s.t, s.generation_tokens_total) for s in active if s.generation_tokens_total is not None]
            inside = [p for p in gen if measured[0] <= p[0] <= measured[1]] or gen
            if len(inside) >= 2 and inside[-1][0] > inside[0][0] and inside[-1][1] >= inside[0][1]:
                server_tok_s = (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
        host = [h for h in self.host if active_from <= h.t <= active_to]
        others = sum(h.others_cpu_pct for h in host) / len(host) if host else None
        gpu_others = any(h.gpu_other_processes for h in host)
        return EngineWindow(
            host_others_cpu_pct=others,
            host_busy=None if others is None else (others >= BUSY_OTHERS_CPU_PCT or gpu_others),
            kv_cache_peak=kv,
            running_peak=running,
            waiting_peak=waiting,
            preemptions=preemptions,
            server_tok_s=server_tok_s,
            prefix_cache_hit_rate=prefix_hit_rate,
            gpu_mem_peak_mib=gpu,
            client_samples=_client_samples(self.client, (active_from, active_to), measured),
        )


def _client_samples(
    samples: list[ClientSample], active: tuple[float, float], measured: tuple[float, float] | None
) -> tuple[ClientSample, ...]:
    """The client's samples that speak for the step's measured requests: those whose second is
    mostly inside the measured span (the fill wave's connection set-ups are not measured, and
    they are the client's busiest moment), else, with nothing measured, the active part."""
    if measured is None:
        return tuple(c for c in samples if active[0] <= c.t <= active[1])
    return tuple(c for c in samples if measured[0] <= c.t - c.seconds / 2 <= measured[1])


# A step is marked as run on a busy host when other processes used, on average, at least half a
# core while it ran (or, with NVML, another process used a GPU).
BUSY_OTHERS_CPU_PCT = 50.0


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
    reason: str | None = None  # how it ended (StepFinished.reason)
    event: StepStarted | None = None


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
        self._gpu_down: dict[str, str] = {}  # GPU source (GpuSample.reader) -> why it is down
        self.gpu_up: set[str] = set()  # GPU sources that answered and have not failed since
        self.gpu_names: set[str] = set()
        self.gpu_usage = GpuUsage()  # each GPU's latest sample: whose memory is whose
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
                window = StepWindow(
                    event.step, event.concurrency, event.t, variants=event.variants, event=event
                )
                self.steps[event.step] = window
                self.open_step = window
                for name in event.variants:
                    state = self._variant(name)
                    acc = self.windows[(name, event.step)]
                    if state and state.last_sample:
                        acc.preempt_before = state.last_sample.preemptions_total
                        last = state.last_sample
                        if (
                            last.prefix_cache_queries_total is not None
                            and last.prefix_cache_hits_total is not None
                        ):
                            acc.prefix_before = (
                                last.prefix_cache_queries_total,
                                last.prefix_cache_hits_total,
                            )
            case StepFinished():
                if event.step in self.steps:
                    self.steps[event.step].finished = event.t
                    self.steps[event.step].reason = event.reason
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
            case HostSample():
                if self.open_step is not None:
                    for name in self.open_step.variants:
                        self.windows[(name, self.open_step.step)].host.append(event)
            case ClientSample():
                if self.open_step is not None:
                    for name in self.open_step.variants:
                        self.windows[(name, self.open_step.step)].client.append(event)
            case GpuUnavailable():
                self._gpu_down[event.host] = event.reason
                self.gpu_up.discard(event.host)
                self.gpu_usage.forget(event.host)
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
        if step is not None and sample.variant in step.variants:
            self.windows[(sample.variant, step.step)].samples.append(sample)

    @property
    def gpu_unavailable(self) -> str | None:
        """Why a GPU source cannot be read (each one that has not answered since), or None."""
        return "; ".join(self._gpu_down.values()) or None

    def _fold_gpu(self, sample: GpuSample) -> None:
        self.gpu_names.add(sample.name)
        self._gpu_down.pop(sample.reader, None)
        self.gpu_up.add(sample.reader)
        self.gpu_usage.apply(sample)
        step = self.open_step
        if step is None:
            return
        for name in step.variants:
            state = self._variant(name)
            pids = state.info.pids if state else ()
            mib = self.gpu_usage.variant_mib(name, pids)
            if mib is not None:
                self.windows[(name, step.step)].gpu_mib.append((sample.t, mib))

    def step_stats(self, variant: str, step: int) -> StepStats:
        window = self.steps[step]
        state = self.variants.get(variant)
        precision = state.info.precision if state else ""
        results = self.results.get((variant, step), [])
        active_to = max((r.t for r in results), default=window.finished or self.last_t)
        measured = [r for r in results if not r.warmup]
        span = (min(r.start for r in measured), max(r.t for r in measured)) if measured else None
        engine = self.windows[(variant, step)].window(window.started, active_to, span)
        started = window.event or StepStarted(
            t=window.started, step=step, concurrency=window.concurrency, requests=None, seconds=None,
            warmup_requests=0, variants=window.variants,
        )  # fmt: skip
        return compute_step_stats(
            variant, precision, started, results, self.plan, engine, finished=window.finished is not None
        )

    def all_step_stats(self) -> list[StepStats]:
        rows: list[StepStats] = []
        for step in sorted(self.steps):
            for variant in self.steps[step].variants:
                rows.append(self.step_stats(variant, step))
        return rows
