"""GPU sampler: the real pynvml path on this GPU-less machine, and an injected fake NVML module."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pynvml
import pytest
from waiting import wait_until_async

from quanttui.core.clock import SessionClock
from quanttui.core.events import Event, GpuProcess, GpuSample, GpuUnavailable
from quanttui.io.nvml import NvmlSampler

MIB = 1024 * 1024


def nvml_works() -> bool:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


@pytest.mark.skipif(nvml_works(), reason="this machine has a working NVML")
async def test_real_pynvml_without_gpu_publishes_one_unavailable_and_returns() -> None:
    events: list[Event] = []
    await asyncio.wait_for(NvmlSampler(events.append, SessionClock(), 0.01).run(), timeout=5)
    assert len(events) == 1 and isinstance(events[0], GpuUnavailable)
    assert events[0].reason.startswith("NVML unavailable: ")
    assert "\n" not in events[0].reason


async def test_missing_pynvml_module_is_one_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    events: list[Event] = []
    await asyncio.wait_for(NvmlSampler(events.append, SessionClock()).run(), timeout=5)
    assert len(events) == 1 and isinstance(events[0], GpuUnavailable)
    assert events[0].reason.startswith("NVML unavailable: pynvml not installed")


@dataclass
class Memory:
    total: int
    used: int
    free: int


@dataclass
class Utilization:
    gpu: int
    memory: int


@dataclass
class ProcessInfo:
    pid: int
    usedGpuMemory: int | None  # pynvml's field name


class FakeNvml:
    """The pynvml functions the sampler uses; device 1 supports neither power nor utilisation."""

    NVMLError = pynvml.NVMLError

    def __init__(self, init_error: int | None = None) -> None:
        self.init_error = init_error
        self.calls: list[str] = []

    def nvmlInit(self) -> None:
        self.calls.append("init")
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return 100 + index

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        return "NVIDIA L4" if handle == 100 else b"NVIDIA A10G"  # old pynvml returned bytes

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Memory:
        return Memory(total=23034 * MIB, used=20000 * MIB, free=3034 * MIB)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Utilization:
        if handle == 101:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return Utilization(gpu=87, memory=40)

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        if handle == 101:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return 71_500  # milliwatts

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[ProcessInfo]:
        if handle == 101:
            return []
        return [ProcessInfo(4242, 15000 * MIB), ProcessInfo(4343, 4000 * MIB), ProcessInfo(5000, None)]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: int) -> list[ProcessInfo]:
        if handle == 101:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return [ProcessInfo(4242, 15000 * MIB), ProcessInfo(777, 512 * MIB)]  # 4242 is in both lists


async def run_until(sampler: NvmlSampler, enough: Callable[[], bool], what: str) -> None:
    task = asyncio.create_task(sampler.run())
    await wait_until_async(lambda: enough() or task.done(), what=what)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_fake_nvml_samples_every_device_and_shuts_down_on_cancel() -> None:
    fake = FakeNvml()
    events: list[Event] = []
    sampler = NvmlSampler(events.append, SessionClock(), 0.02, nvml=fake)
    await run_until(sampler, lambda: len(events) >= 4, "two rounds of samples")
    assert fake.calls == ["init", "shutdown"]
    assert all(isinstance(e, GpuSample) for e in events)
    assert len(events) >= 4 and len(events) % 2 == 0
    l4, a10g = events[0], events[1]
    assert isinstance(l4, GpuSample) and isinstance(a10g, GpuSample)
    assert (l4.index, l4.name, l4.mem_total_mib, l4.mem_used_mib) == (0, "NVIDIA L4", 23034.0, 20000.0)
    assert l4.util_pct == 87.0 and l4.power_w == 71.5
    assert l4.processes == (
        GpuProcess(pid=777, used_mib=512.0),
        GpuProcess(pid=4242, used_mib=15000.0),
        GpuProcess(pid=4343, used_mib=4000.0),
        GpuProcess(pid=5000, used_mib=0.0),  # usedGpuMemory None: pid kept, memory unknown
    )
    assert (a10g.index, a10g.name) == (1, "NVIDIA A10G")
    assert a10g.util_pct is None and a10g.power_w is None and a10g.processes == ()
    assert [e.index for e in events if isinstance(e, GpuSample)][:4] == [0, 1, 0, 1]


async def test_fake_nvml_init_failure_is_one_unavailable() -> None:
    fake = FakeNvml(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    events: list[Event] = []
    await asyncio.wait_for(NvmlSampler(events.append, SessionClock(), 0.01, nvml=fake).run(), timeout=5)
    assert events == [GpuUnavailable(t=events[0].t, reason="NVML unavailable: Driver Not Loaded")]
    assert fake.calls == ["init"]
