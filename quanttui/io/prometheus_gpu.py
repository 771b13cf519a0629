"""GPU telemetry through a Prometheus server that already scrapes the fleet's DCGM exporters.

A fleet scraped by Prometheus needs no direct access to each GPU host: one instant query over
Prometheus' HTTP API (`/api/v1/query`, httpx) asks for every DCGM field quanttui reads at once,
optionally narrowed by a label selector (`--prometheus-selector 'namespace="serving"'`). Each
series keeps the exporter's labels, so a GPU is the same (host, index, UUID, pod) as when its
exporter is read directly (io/dcgm.py), and the same GPU map applies; its host is the exporter's
`Hostname` label (else Prometheus' `instance`). A server that cannot be queried is one
`GpuUnavailable` (host PROMETHEUS), repeated only when the reason changes; the run goes on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import httpx

from quanttui.core.clock import SessionClock
from quanttui.core.events import PROMETHEUS, Event, GpuSample
from quanttui.core.gpu_map import GpuMatch
from quanttui.core.literal import safe_text
from quanttui.io.dcgm import (
    BLANK,
    FIELDS,
    KEPT_LABELS,
    MAX_LABEL,
    DcgmGpu,
    GpuSource,
    gpu_sample,
    kept_labels,
)


def dcgm_query(selector: str = "") -> str:
    """One PromQL selector for every DCGM field quanttui reads."""
    names = "|".join(FIELDS)
    extra = f",{selector}" if selector.strip() else ""
    return f'{{__name__=~"{names}"{extra}}}'


def gpus_from_vector(result: list[dict]) -> dict[str, list[DcgmGpu]]:
    """An instant vector's series grouped into GPUs, per host."""
    gpus: dict[tuple[str, int, str], DcgmGpu] = {}
    for series in result:
        metric = series.get("metric") if isinstance(series, dict) else None
        if not isinstance(metric, dict) or "GPU_I_ID" in metric:
            continue  # not a series, or a MIG instance (not read yet)
        name = FIELDS.get(str(metric.get("__name__", "")))
        try:
            index = int(metric.get("gpu", ""))
            value = float(series["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if name is None or not math.isfinite(value) or abs(value) >= BLANK:
            continue
        labels = kept_labels(metric, (*KEPT_LABELS, "instance"))
        host = labels.get("Hostname") or labels.get("instance", "")
        key = (host, index, safe_text(str(metric.get("UUID", "")))[:MAX_LABEL])
        gpu = gpus.setdefault(key, DcgmGpu(index, key[2], labels))
        gpu.values[name] = value
    by_host: dict[str, list[DcgmGpu]] = {}
    for (host, _, _), gpu in sorted(gpus.items()):
        by_host.setdefault(host, []).append(gpu)
    return by_host


class PrometheusGpuSource(GpuSource):
    def __init__(
        self,
        url: str,
        matches: Sequence[GpuMatch],
        publish: Callable[[Event], None],
        clock: SessionClock,
        interval_s: float = 1.0,
        selector: str = "",
        timeout_s: float = 3.0,
    ) -> None:
        root = url.strip().rstrip("/")
        if not root.startswith(("http://", "https://")):
            raise ValueError(f"--prometheus: the URL must start with http:// or https://, got {url!r}")
        super().__init__(PROMETHEUS, "Prometheus", root + "/api/v1/query", matches, publish, clock, interval_s,
                         timeout_s)  # fmt: skip
        self.query = dcgm_query(selector)

    async def scrape(self, client: httpx.AsyncClient) -> list[GpuSample]:
        answer = await self._get(client, params={"query": self.query})
        if answer is None:
            return []
        response, t = answer
        try:
            body = response.json()
        except ValueError:
            self._fail(f"HTTP {response.status_code}, not a JSON answer")
            return []
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            self._fail(f"HTTP {response.status_code}: {error or 'not a Prometheus API answer'}")
            return []
        data = body.get("data")
        if (
            not isinstance(data, dict)
            or data.get("resultType") != "vector"
            or not isinstance(data.get("result"), list)
        ):
            self._fail("the answer is not an instant vector")
            return []
        samples = [
            sample
            for host, gpus in gpus_from_vector(data["result"]).items()
            for sample in (gpu_sample(gpu, host, t, self.matches, source="prometheus") for gpu in gpus)
            if sample is not None
        ]
        if not samples:
            self._fail(f"no DCGM series for {self.query} (is Prometheus scraping the exporters?)")
            return []
        self._failed = None
        return samples
