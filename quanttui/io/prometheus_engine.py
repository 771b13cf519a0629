"""An engine's own vllm:* series read through Prometheus instead of from its /metrics.

On a fleet the replicas' /metrics often sit behind a cluster network quanttui cannot reach, while a
Prometheus server already scrapes them. `--prometheus-engine awq='job="awq"'` reads a variant's
series with one instant PromQL query (`{__name__=~"vllm:.*|llamacpp:.*", job="awq"}`) and turns
them into the same `EngineSample` its /metrics would give (io/metrics.py: the same aggregation over
`engine` labels, the same rates). The values move at Prometheus' scrape interval, not at ours.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from prometheus_client.samples import Sample

from quanttui.core.clock import SessionClock
from quanttui.core.events import METRICS_NOT_EXPORTED, Event
from quanttui.io.metrics import MetricsScraper, ScrapeFailed, VllmMetrics, vllm_from_samples

ENGINE_SERIES = "vllm:.*|llamacpp:.*"


class PrometheusEngineScraper(MetricsScraper):
    """A variant's engine values from a Prometheus server; a `MetricsScraper` in every other way
    (events, rates, one MetricsUnavailable per change of reason)."""

    def __init__(
        self,
        variant: str,
        prometheus_url: str,
        matchers: str,
        publish: Callable[[Event], None],
        clock: SessionClock,
        interval_s: float = 1.0,
        timeout_s: float = 3.0,
    ) -> None:
        super().__init__(variant, prometheus_url, publish, clock, interval_s, timeout_s=timeout_s)
        self.url = prometheus_url.strip().rstrip("/") + "/api/v1/query"
        self.query = f'{{__name__=~"{ENGINE_SERIES}",{matchers}}}'

    async def _read(self) -> tuple[VllmMetrics, float]:
        try:
            response = await self._http().get(self.url, params={"query": self.query}, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            raise ScrapeFailed(f"Prometheus: timeout after {self.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise ScrapeFailed(
                " ".join(f"Prometheus unreachable: {exc or type(exc).__name__}".split())
            ) from exc
        arrived = self._clock.now()
        try:
            body = response.json()
        except ValueError as exc:
            raise ScrapeFailed(f"Prometheus: HTTP {response.status_code}, not a JSON answer") from exc
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise ScrapeFailed(
                " ".join(f"Prometheus: HTTP {response.status_code}: {error or 'not an API answer'}".split())
            )
        result = (body.get("data") or {}).get("result")
        if not isinstance(result, list):
            raise ScrapeFailed("Prometheus: the answer is not an instant vector")
        samples = []
        for series in result:
            try:
                labels = {str(k): str(v) for k, v in series["metric"].items() if k != "__name__"}
                # A fleet's replicas each have an engine "0": told apart by the target that was scraped,
                # so each replica's KV share and cache config count once (io/metrics.py sums by engine).
                labels["engine"] = f"{labels.get('instance', '')}/{labels.get('engine', '')}"
                samples.append(Sample(series["metric"]["__name__"], labels, float(series["value"][1])))
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                continue
        metrics = vllm_from_samples(samples)
        if metrics.empty:
            raise ScrapeFailed(
                f"{METRICS_NOT_EXPORTED}: no vllm:* or llamacpp:* series for {self.query} in Prometheus"
            )
        return metrics, arrived
