"""What the engines and the machine did over a session's time, for charts that span the whole run.

The step statistics keep peaks per step; a report's "KV cache and queue over time" and "memory per
variant" charts need the samples themselves. `Timeline` keeps them as the fold sees them (live and
replay alike): each engine scrape's KV usage, running and waiting; each variant's memory, from the
GPU (its processes in NVML's list) or, with no GPU, its process tree's resident memory; and the
steps' spans with their levels. Pure: events in, lists out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quanttui.core.events import (
    EndpointInfo,
    EngineSample,
    Event,
    GpuSample,
    GpuUnavailable,
    ProcessSample,
    StepFinished,
    StepStarted,
)
from quanttui.core.gpu_usage import GpuUsage
from quanttui.core.levels import LevelKind, level_text


@dataclass(frozen=True)
class EnginePoint:
    t: float
    kv_cache_usage: float | None  # 0..1
    running: float | None
    waiting: float | None


@dataclass
class StepSpan:
    step: int
    label: str  # "c=4", "8 req/s", "256 tok"
    start: float
    end: float | None = None


@dataclass
class Timeline:
    engine: dict[str, list[EnginePoint]] = field(default_factory=dict)
    gpu_mib: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # variant -> (t, MiB)
    rss_mib: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # variant -> (t, MiB)
    gpu_total_mib: float | None = None  # summed over the GPUs seen
    gpu_seen: bool = False  # some GPU was read (NVML or a remote source)
    _usage: GpuUsage = field(default_factory=GpuUsage)
    steps: list[StepSpan] = field(default_factory=list)
    pids: dict[str, tuple[int, ...]] = field(default_factory=dict)
    end: float = 0.0

    def apply(self, event: Event) -> None:
        self.end = max(self.end, event.t)
        match event:
            case EndpointInfo():
                self.pids[event.variant] = event.pids
            case EngineSample():
                point = EnginePoint(event.t, event.kv_cache_usage, event.running, event.waiting)
                self.engine.setdefault(event.variant, []).append(point)
            case GpuSample():
                # One sample per GPU: a variant's memory summed over every GPU that is its (a
                # tensor-parallel engine spans several), each GPU at its latest sample.
                self._usage.apply(event)
                self.gpu_seen = True
                self.gpu_total_mib = self._usage.total_mib
                for variant in {*self.pids, *self._usage.mapped, *self.gpu_mib}:
                    mib = self._usage.variant_mib(variant, self.pids.get(variant, ()))
                    if mib is None and variant in self.gpu_mib and event.source == "nvml":
                        mib = 0.0  # its processes left the GPU: drawn as the drop it is
                    if mib is not None:
                        self.gpu_mib.setdefault(variant, []).append((event.t, mib))
            case GpuUnavailable():  # its GPUs are unknown until it answers: a gap, not a zero
                self._usage.forget(event.host)
                self.gpu_total_mib = self._usage.total_mib
            case ProcessSample():
                self.rss_mib.setdefault(event.variant, []).append((event.t, event.rss_mib))
            case StepStarted():
                self.steps.append(StepSpan(event.step, _label(event), event.t))
            case StepFinished():
                for span in reversed(self.steps):
                    if span.step == event.step and span.end is None:
                        span.end = event.t
                        break
            case _:
                pass

    def copy(self) -> Timeline:
        """A copy that later samples do not reach (the points themselves are immutable)."""
        return Timeline(
            engine={v: list(points) for v, points in self.engine.items()},
            gpu_mib={v: list(points) for v, points in self.gpu_mib.items()},
            rss_mib={v: list(points) for v, points in self.rss_mib.items()},
            gpu_total_mib=self.gpu_total_mib,
            gpu_seen=self.gpu_seen,
            steps=[StepSpan(s.step, s.label, s.start, s.end) for s in self.steps],
            pids=dict(self.pids),
            end=self.end,
        )

    @property
    def memory(self) -> tuple[str, dict[str, list[tuple[float, float]]]]:
        """Each variant's memory over time and what it is: the GPU's when NVML listed the engines'
        processes, else their host resident memory (the CPU demo)."""
        if self.gpu_mib:
            return "GPU memory", self.gpu_mib
        if self.gpu_seen:
            return (
                "host memory (RSS of the engine's processes; NVML listed none of them on the GPU)",
                self.rss_mib,
            )
        return "host memory (RSS of the engine's processes)", self.rss_mib


def _label(event: StepStarted) -> str:
    if event.rate is not None:
        return level_text(LevelKind.RATE, event.rate)
    if event.input_tokens is not None:
        return level_text(LevelKind.INPUT_TOKENS, float(event.input_tokens))
    return level_text(LevelKind.CONCURRENCY, float(event.concurrency))
