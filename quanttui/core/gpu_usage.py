"""Each variant's GPU memory from the GPUs' latest samples, whichever source read them.

On a GPU read by local NVML a variant owns what its processes use (by pid); on a GPU read from a
DCGM exporter or through Prometheus (no process list) it owns the whole GPU's used memory when the
session's GPU map gives it that GPU. A variant on several GPUs (tensor parallel, or replicas) sums
them, each GPU at its latest sample. One GPU is one entry however many sources read it: it is
known by its UUID when the source gives one, and NVML's per-process reading wins over a whole-GPU
one. A GPU a remote source stopped listing (its latest round did not have it) drops out after
STALE_S. The fold's step windows, the report's timeline and the live panels all read it.
"""

from __future__ import annotations

from collections.abc import Collection

from quanttui.core.events import GpuSample

STALE_S = 5.0  # a remote GPU missing from its source's answers for this long is no longer current


class GpuUsage:
    def __init__(self) -> None:
        self.latest: dict[object, GpuSample] = {}  # the GPU (UUID, else (host, index)) -> its latest sample
        self._newest: dict[str, float] = {}  # reader -> time of its newest sample

    @staticmethod
    def _gpu(sample: GpuSample) -> object:
        return sample.uuid or sample.key

    def apply(self, sample: GpuSample) -> None:
        gpu = self._gpu(sample)
        held = self.latest.get(gpu)
        if held is not None and held.source == "nvml" and sample.source != "nvml":
            return  # NVML's per-process view of this GPU says more than a whole-GPU figure
        self.latest[gpu] = sample
        self._newest[sample.reader] = max(self._newest.get(sample.reader, sample.t), sample.t)

    def forget(self, reader: str) -> None:
        """Forget the GPUs one source read (`GpuSample.reader`: "" local NVML, a DCGM host, or
        PROMETHEUS): it went quiet, their numbers are not current."""
        self.latest = {gpu: s for gpu, s in self.latest.items() if s.reader != reader}
        self._newest.pop(reader, None)

    def current(self) -> list[GpuSample]:
        """The GPUs whose numbers are current (NVML's always: it lists every device each round)."""
        return [
            s
            for s in self.latest.values()
            if s.source == "nvml" or self._newest.get(s.reader, s.t) - s.t <= STALE_S
        ]

    def variant_mib(self, variant: str, pids: Collection[int] = ()) -> float | None:
        """The variant's GPU memory in MiB, None when no GPU is known to be its."""
        total, seen = 0.0, False
        for sample in self.current():
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
        """The variants some remote GPU is mapped to."""
        return {s.variant for s in self.current() if s.source != "nvml" and s.variant}

    @property
    def total_mib(self) -> float | None:
        current = self.current()
        return sum(s.mem_total_mib for s in current) if current else None
