"""Facts for the roofline, read when a session starts: memory bandwidth and model weight sizes.

Bandwidth: a configured value wins (`[hardware] memory_bandwidth_gbps`); else NVML's bus width and
max memory clock of GPU 0; else a measured single-thread memory copy (what one CPU engine thread
can stream, the bound of the CPU demo's one-thread-per-engine decode). The copy takes 256 MiB
for a moment, so it is measured once per host and kept in `$XDG_CACHE_HOME/quanttui/host-bandwidth.json`
(else ~/.cache/...), keyed by the host's name, CPU and memory; later sessions read it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from pathlib import Path

import psutil

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
    cached = _cached_copy_bandwidth()
    if cached is not None:
        return cached, "measured: single-thread memory copy (no GPU; measured once on this host)"
    try:
        gbps = round(measured_copy_bandwidth(), 2)
    except MemoryError:
        return None, "unknown"
    _cache_copy_bandwidth(gbps)
    return gbps, "measured: single-thread memory copy (no GPU)"


def _cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "quanttui" / "host-bandwidth.json"


def _host_key() -> str:
    return f"{platform.node()}|{platform.processor() or platform.machine()}|{psutil.virtual_memory().total}"


def _cached_copy_bandwidth() -> float | None:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get(_host_key()) if isinstance(data, dict) else None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def _cache_copy_bandwidth(gbps: float) -> None:
    path = _cache_path()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({_host_key(): gbps}) + "\n", encoding="utf-8")
        tmp.replace(path)
