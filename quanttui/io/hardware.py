"""Facts for the roofline, read when a session starts: memory bandwidth and model weight sizes.

Bandwidth: a configured value wins (`[hardware] memory_bandwidth_gbps`); else NVML's bus width and
max memory clock of GPU 0; else a measured single-thread memory copy (what one CPU engine thread
can stream, the bound of the CPU demo's one-thread-per-engine decode).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from quanttui.core.roofline import nvml_bandwidth_gbps

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


def weights_bytes(model: str) -> int | None:
    """Bytes of weight files in a local model folder (or a single file); None when not local."""
    path = Path(model)
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return None
    total = sum(p.stat().st_size for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    return total or None


def _nvml_bandwidth() -> tuple[float, str] | None:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        bus = pynvml.nvmlDeviceGetMemoryBusWidth(handle)
        clock = pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_MEM)
        return nvml_bandwidth_gbps(bus, clock), f"NVML: {bus}-bit bus at {clock} MHz (x2, DDR)"
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def measured_copy_bandwidth(megabytes: int = 128, repeats: int = 3) -> float:
    """GB/s of the best of a few single-thread copies between two buffers much larger than the
    caches (read + write counted; the first copy only touches the pages)."""
    size = megabytes * 2**20
    source, target = bytearray(b"\x01") * size, bytearray(size)
    view = memoryview(target)
    best = float("inf")
    for _ in range(repeats + 1):
        start = time.perf_counter()
        view[:] = source
        best = min(best, time.perf_counter() - start)
    return 2 * size / best / 1e9


def memory_bandwidth(configured_gbps: float | None) -> tuple[float | None, str]:
    if configured_gbps:
        return configured_gbps, "configured"
    from_nvml = _nvml_bandwidth()
    if from_nvml:
        return from_nvml
    try:
        return round(measured_copy_bandwidth(), 2), "measured: single-thread memory copy (no GPU)"
    except MemoryError:
        return None, "unknown"
