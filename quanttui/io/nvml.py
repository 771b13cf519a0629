"""GPU sampler on NVML: one GpuSample per device per interval, or one GpuUnavailable and out.

pynvml (from nvidia-ml-py) is imported lazily, only when a sampler runs, so machines without a
GPU (CI, a laptop replaying a recording) never load it. NVML calls are fast in-process library
calls, so they run directly on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from quanttui.core.clock import SessionClock
from quanttui.core.events import Event, GpuProcess, GpuSample, GpuUnavailable

_MIB = 1024 * 1024


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _text(value: str | bytes) -> str:
    """Older pynvml versions return bytes for names."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class NvmlSampler:
    """Publishes GPU memory, utilisation, power and per-process memory for every device.

    `nvml` is a module (or any object) with the pynvml API; None means `import pynvml` at run time.
    Optional fields that a device does not support (power on many consumer cards, utilisation
    under some virtualisations) come back as None instead of failing the whole sample.
    """

    def __init__(
        self,
        publish: Callable[[Event], None],
        clock: SessionClock,
        interval_s: float = 1.0,
        nvml: ModuleType | Any | None = None,
    ) -> None:
        if not interval_s > 0:
            raise ValueError("GPU sampling interval must be > 0")
        self._publish = publish
        self._clock = clock
        self.interval_s = interval_s
        self._nvml = nvml

    def _load(self) -> Any:
        if self._nvml is None:
            import pynvml  # lazy: see the module docstring

            self._nvml = pynvml
        return self._nvml

    def _optional(self, nv: Any, call: Callable[[], float]) -> float | None:
        try:
            return call()
        except nv.NVMLError:
            return None

    def _processes(self, nv: Any, handle: Any) -> tuple[GpuProcess, ...]:
        """Compute plus graphics processes, deduplicated by pid (a CUDA+GL process is listed in both).

        usedGpuMemory is None where the driver cannot tell (WDDM, some containers): such
        processes are kept with 0 MiB so the pid is still visible.
        """
        used: dict[int, float] = {}
        for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
            try:
                infos = getattr(nv, getter)(handle)
            except (nv.NVMLError, AttributeError):
                continue
            for info in infos:
                mem = getattr(info, "usedGpuMemory", None)
                mib = mem / _MIB if mem is not None else 0.0
                pid = int(info.pid)
                used[pid] = max(used.get(pid, 0.0), mib)
        return tuple(GpuProcess(pid=pid, used_mib=mib) for pid, mib in sorted(used.items()))

    def sample(self, nv: Any, index: int) -> GpuSample:
        """One device, read now; raises NVMLError only for the mandatory handle/name/memory."""
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        name = _text(nv.nvmlDeviceGetName(handle))
        memory = nv.nvmlDeviceGetMemoryInfo(handle)
        util = self._optional(nv, lambda: float(nv.nvmlDeviceGetUtilizationRates(handle).gpu))
        power = self._optional(nv, lambda: nv.nvmlDeviceGetPowerUsage(handle) / 1000.0)  # mW -> W
        uuid = self._uuid(nv, handle)
        return GpuSample(
            t=self._clock.now(),
            index=index,
            name=name,
            mem_total_mib=memory.total / _MIB,
            mem_used_mib=memory.used / _MIB,
            util_pct=util,
            power_w=power,
            processes=self._processes(nv, handle),
            uuid=uuid,
        )

    def _uuid(self, nv: Any, handle: Any) -> str:
        """The GPU's UUID ("GPU-…"), which a DCGM exporter reports too: one GPU read by both is
        counted once (core/gpu_usage.py). "" where this NVML cannot tell."""
        getter = getattr(nv, "nvmlDeviceGetUUID", None)
        if getter is None:
            return ""
        try:
            return _text(getter(handle))
        except nv.NVMLError:
            return ""

    def _unavailable(self, reason: str) -> None:
        self._publish(GpuUnavailable(t=self._clock.now(), reason=_one_line(reason)))

    async def run(self) -> None:
        """Sample until cancelled; without NVML publish one GpuUnavailable and return quietly."""
        try:
            nv = self._load()
        except ImportError as exc:
            self._unavailable(f"NVML unavailable: pynvml not installed ({exc})")
            return
        try:
            nv.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ... or a broken module
            self._unavailable(f"NVML unavailable: {exc or type(exc).__name__}")
            return
        try:
            try:
                count = int(nv.nvmlDeviceGetCount())
            except Exception as exc:
                self._unavailable(f"NVML unavailable: {exc or type(exc).__name__}")
                return
            if count == 0:
                self._unavailable("NVML unavailable: no GPU found")
                return
            failed: str | None = None
            while True:
                started = time.perf_counter()
                try:
                    samples = [self.sample(nv, i) for i in range(count)]
                except Exception as exc:  # a GPU fell off the bus, driver reset, ...
                    reason = f"NVML error: {exc or type(exc).__name__}"
                    if reason != failed:  # like the metrics scraper: no flood of equal events
                        failed = reason
                        self._unavailable(reason)
                else:
                    failed = None
                    for sample in samples:
                        self._publish(sample)
                await asyncio.sleep(max(0.0, self.interval_s - (time.perf_counter() - started)))
        finally:
            with contextlib.suppress(Exception):
                nv.nvmlShutdown()


def gpu_memory(index: int = 0, nvml: Any | None = None) -> tuple[float, float] | None:
    """(total MiB, used MiB) of one GPU right now, or None where NVML cannot tell."""
    try:
        nv = nvml
        if nv is None:
            import pynvml as nv  # lazy, as above
        nv.nvmlInit()
    except Exception:
        return None
    try:
        memory = nv.nvmlDeviceGetMemoryInfo(nv.nvmlDeviceGetHandleByIndex(index))
        return memory.total / _MIB, memory.used / _MIB
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            nv.nvmlShutdown()
