"""Each variant's GPU memory from the GPUs' latest samples, whichever source read them.

On a GPU read by local NVML a variant owns what its processes use (by pid); on a GPU read from a
DCGM exporter (no process list) it owns the whole GPU's used memory when the session's GPU map
gives it that GPU. A variant on several GPUs (tensor parallel, or replicas) sums them, each GPU at
its latest sample. The fold's step windows, the report's timeline and the live panels all read it.
"""

from __future__ import annotations

from collections.abc import Collection

from quanttui.core.events import GpuSample


class GpuUsage:
    def __init__(self) -> None:
        self.latest: dict[tuple[str, int], GpuSample] = {}  # (host, index) -> its latest sample

    def apply(self, sample: GpuSample) -> None:
        self.latest[sample.key] = sample

    def forget(self, reader: str) -> None:
        """Forget the GPUs one source read (`GpuSample.reader`: "" local NVML, a DCGM host, or
        PROMETHEUS): it went quiet, their numbers are not current."""
        self.latest = {key: s for key, s in self.latest.items() if s.reader != reader}

    def variant_mib(self, variant: str, pids: Collection[int] = ()) -> float | None:
        """The variant's GPU memory in MiB, None when no GPU is known to be its."""
        total, seen = 0.0, False
        for sample in self.latest.values():
            if sample.source != "nvml":  # no process list: the map says whose GPU it is
                if sample.variant == variant:
                    total, seen = total + sample.mem_used_mib, True
                continue
            mine = [p.used_mib for p in sample.processes if p.pid in pids]
            if mine:
                total, seen = total + sum(mine), True
        return total if seen else None

    @property
    def mapped(self) -> set[str]:
        """The variants some DCGM GPU is mapped to."""
        return {s.variant for s in self.latest.values() if s.source != "nvml" and s.variant}

    @property
    def total_mib(self) -> float | None:
        return sum(s.mem_total_mib for s in self.latest.values()) if self.latest else None
