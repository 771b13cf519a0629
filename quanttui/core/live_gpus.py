"""The console's GPUs: each GPU's latest sample from every source (local NVML, DCGM exporters,
Prometheus) and why a source cannot be read, until it answers again. Pure; `LiveState` asks it
for each variant's GPU memory after every GPU event."""

from __future__ import annotations

from quanttui.core.events import Event, GpuSample, GpuUnavailable
from quanttui.core.gpu_usage import GpuUsage
from quanttui.core.literal import safe_text


class LiveGpus:
    def __init__(self) -> None:
        self.down: dict[str, str] = {}  # GPU source -> why it cannot be read (until it answers)
        self.usage = GpuUsage()  # each GPU's latest sample (NVML, DCGM or Prometheus)

    def apply(self, event: Event) -> bool:
        """Fold a GPU event; True when the variants' GPU memory must be read again."""
        match event:
            case GpuUnavailable():  # what that source sampled before is no longer current
                self.down[event.host] = safe_text(event.reason)
                self.usage.forget(event.host)
                return True
            case GpuSample():
                self.down.pop(event.reader, None)
                self.usage.apply(event)
                return True
        return False

    @property
    def unavailable(self) -> str | None:
        """Why GPU sources cannot be read: each one that has not answered since it failed."""
        return " · ".join(self.down.values()) or None

    def of_variant(self, name: str, pids: tuple[int, ...]) -> tuple[list[tuple[int, float]], float | None]:
        """A variant's processes on NVML's GPUs, and its GPU memory over every GPU that is its."""
        mine = set(pids)
        procs = [(p.pid, p.used_mib) for s in self.usage.current() for p in s.processes if p.pid in mine]
        return procs, self.usage.variant_mib(name, mine)

    def total(self) -> tuple[float, float] | None:
        """(used, total) MiB over every GPU seen, for endpoints whose pids are unknown."""
        samples = self.usage.current()
        if not samples:
            return None
        return (sum(s.mem_used_mib for s in samples), sum(s.mem_total_mib for s in samples))
