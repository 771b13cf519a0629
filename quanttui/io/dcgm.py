"""GPU telemetry from NVIDIA's DCGM exporter: one host's /metrics, scraped over HTTP.

Local NVML sees only this machine; on a fleet each GPU host runs DCGM exporter (port 9400 by
default), and quanttui reads it like an engine's /metrics: httpx for the request,
prometheus_client's parser for the exposition (no parser of our own). Each GPU becomes one
`GpuSample` (source "dcgm") with the exporter's host, UUID, model name and labels (Hostname, and in
Kubernetes pod / container / namespace), mapped to a variant by the session's GPU map
(core/gpu_map.py). An exporter that cannot be read is one `GpuUnavailable` naming it (repeated
only when the reason changes) and the run goes on; its samples resume when it answers again.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families

from quanttui.core.clock import SessionClock
from quanttui.core.events import Event, GpuSample, GpuUnavailable
from quanttui.core.gpu_map import MAP_LABELS, GpuMatch, map_gpu
from quanttui.core.literal import safe_text
from quanttui.io.metrics import USER_AGENT

# DCGM's field names as the exporter publishes them (its default counters), and what each feeds.
FIELDS = {
    "DCGM_FI_DEV_FB_USED": "used",  # MiB
    "DCGM_FI_DEV_FB_FREE": "free",  # MiB
    "DCGM_FI_DEV_FB_RESERVED": "reserved",  # MiB, newer exporters
    "DCGM_FI_DEV_GPU_UTIL": "util",  # %
    "DCGM_FI_DEV_MEM_COPY_UTIL": "mem_copy",  # %
    "DCGM_FI_DEV_POWER_USAGE": "power",  # W
    "DCGM_FI_DEV_SM_CLOCK": "sm_clock",  # MHz
    "DCGM_FI_DEV_MEM_CLOCK": "mem_clock",  # MHz
}
# Labels kept with each sample (the rest, e.g. DCGM_FI_DRIVER_VERSION, pci_bus_id, are dropped);
# their text is foreign: made safe to show and cut to a sane length where it is read.
KEPT_LABELS = tuple(name for name in MAP_LABELS if name != "instance")
MAX_LABEL = 120
# DCGM reports a field it has no value for as a huge sentinel (e.g. 9223372036854775794).
BLANK = 1e15


@dataclass
class DcgmGpu:
    index: int
    uuid: str
    labels: dict[str, str]
    values: dict[str, float] = field(default_factory=dict)


class DcgmParseError(ValueError):
    pass


def kept_labels(labels: dict[str, str], names: Sequence[str] = KEPT_LABELS) -> dict[str, str]:
    """The labels a sample keeps, each made safe to show and cut to MAX_LABEL characters."""
    return {k: safe_text(str(labels[k]))[:MAX_LABEL] for k in names if k in labels}


def parse_dcgm(text: str) -> list[DcgmGpu]:
    """Every GPU in one exporter page, in index order; fields it lacks are absent."""
    gpus: dict[tuple[int, str], DcgmGpu] = {}
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise DcgmParseError(f"not a Prometheus exposition ({exc})") from None
    for family in families:
        for sample in family.samples:
            name = FIELDS.get(sample.name)
            if name is None:
                continue
            labels = sample.labels
            if "GPU_I_ID" in labels:
                continue  # a MIG instance: not read yet (its memory is not the whole GPU's)
            try:
                index = int(labels.get("gpu", ""))
            except ValueError:
                continue  # a series without a GPU index (a switch or CPU entity): not a GPU
            key = (index, labels.get("UUID", ""))
            gpu = gpus.setdefault(key, DcgmGpu(index, key[1], kept_labels(labels)))
            if math.isfinite(sample.value) and abs(sample.value) < BLANK:
                gpu.values[name] = float(sample.value)
    return [gpus[k] for k in sorted(gpus)]


def gpu_sample(
    gpu: DcgmGpu, host: str, t: float, matches: Sequence[GpuMatch], source: str = "dcgm"
) -> GpuSample | None:
    """One GPU as a sample; None without framebuffer figures (nothing to draw memory from)."""
    values = gpu.values
    if "used" not in values or "free" not in values:
        return None
    total = values["used"] + values["free"] + values.get("reserved", 0.0)
    return GpuSample(
        t=t, index=gpu.index, name=gpu.labels.get("modelName", "GPU"), mem_total_mib=total,
        mem_used_mib=values["used"], util_pct=values.get("util"), power_w=values.get("power"),
        source=source, host=host, uuid=gpu.uuid,
        variant=map_gpu(matches, host, gpu.index, gpu.uuid, gpu.labels),
        mem_copy_util_pct=values.get("mem_copy"), sm_clock_mhz=values.get("sm_clock"),
        mem_clock_mhz=values.get("mem_clock"), labels=tuple(sorted(gpu.labels.items())),
    )  # fmt: skip


class GpuSource:
    """What every remote GPU source shares: where it is, the map, and saying once why it failed
    (`reader`: the `GpuUnavailable.host` naming it; `what`: how the message names it)."""

    def __init__(
        self,
        reader: str,
        what: str,
        url: str,
        matches: Sequence[GpuMatch],
        publish: Callable[[Event], None],
        clock: SessionClock,
        interval_s: float,
        timeout_s: float,
    ) -> None:
        self.reader = reader
        self.what = what
        self.url = url
        self.matches = tuple(matches)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._publish = publish
        self._clock = clock
        self._failed: str | None = None

    def _fail(self, reason: str) -> None:
        if reason != self._failed:
            self._failed = reason
            text = " ".join(f"{self.what} ({self.url}): {reason}".split())
            self._publish(GpuUnavailable(t=self._clock.now(), reason=text, host=self.reader))

    async def _get(self, client: httpx.AsyncClient, **kwargs: object) -> tuple[httpx.Response, float] | None:
        """The answer and when it came, or None after saying why there was none."""
        try:
            response = await client.get(self.url, timeout=self.timeout_s, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            self._fail(f"timeout after {self.timeout_s:g} s")
            return None
        except httpx.HTTPError as exc:
            self._fail(f"unreachable: {exc or type(exc).__name__}")
            return None
        return response, self._clock.now()

    async def scrape(self, client: httpx.AsyncClient) -> list[GpuSample]:
        raise NotImplementedError

    async def run(self) -> None:
        await poll(self, self.interval_s, self._publish, self._fail)


class DcgmSampler(GpuSource):
    """Scrapes one host's DCGM exporter every `interval_s` until cancelled."""

    def __init__(
        self,
        host: str,
        url: str,
        matches: Sequence[GpuMatch],
        publish: Callable[[Event], None],
        clock: SessionClock,
        interval_s: float = 1.0,
        timeout_s: float = 2.0,
    ) -> None:
        root = url.strip().rstrip("/")
        if not root.startswith(("http://", "https://")):
            raise ValueError(
                f"--gpu-metrics {host}: the URL must start with http:// or https://, got {url!r}"
            )
        url = root if root.endswith("/metrics") else root + "/metrics"
        super().__init__(host, f"DCGM exporter {host}", url, matches, publish, clock, interval_s, timeout_s)
        self.host = host

    async def scrape(self, client: httpx.AsyncClient) -> list[GpuSample]:
        answer = await self._get(client, headers={"Accept": "text/plain"})
        if answer is None:
            return []
        response, t = answer
        if response.status_code != 200:
            self._fail(f"HTTP {response.status_code}")
            return []
        try:
            gpus = parse_dcgm(response.text)
        except DcgmParseError as exc:
            self._fail(str(exc))
            return []
        samples = [s for s in (gpu_sample(g, self.host, t, self.matches) for g in gpus) if s is not None]
        if not samples:
            self._fail("no GPU with DCGM_FI_DEV_FB_USED and DCGM_FI_DEV_FB_FREE in its page")
            return []
        self._failed = None
        return samples


class Scraping(Protocol):
    async def scrape(self, client: httpx.AsyncClient) -> list[GpuSample]: ...


async def poll(
    source: Scraping, interval_s: float, publish: Callable[[Event], None], fail: Callable[[str], None]
) -> None:
    """Scrape every interval until cancelled; a bug in one scrape is said as a failure of the
    source (its GPUs are then forgotten), never a dead task that leaves stale numbers current."""
    async with httpx.AsyncClient(headers={"User-Agent": USER_AGENT}, trust_env=False) as client:
        while True:
            started = time.perf_counter()
            try:
                for sample in await source.scrape(client):
                    publish(sample)
            except Exception as exc:  # the run goes on; the source says it failed
                fail(" ".join(f"internal error: {type(exc).__name__}: {exc}".split())[:200])
            await asyncio.sleep(max(0.0, interval_s - (time.perf_counter() - started)))
