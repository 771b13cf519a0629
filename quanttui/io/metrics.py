"""Scrape a vLLM server's Prometheus `/metrics` into `EngineSample` events.

llama.cpp's own server (`llama-server --metrics`) exports a few `llamacpp:*` values under other
names; where a body has no vLLM metric but those, they fill the same fields (running, waiting,
token counters; llama.cpp exports no KV-cache fraction). An engine without /metrics at all
(llama-cpp-python's server answers 404) is reported as "not exported by this engine".

Parsing is delegated to prometheus_client's own text parser so every exposition quirk (escaped
labels, `_total`/`_created` suffixes, exponent floats, `# TYPE foo_total counter`) is handled the
way the producer meant it. Samples are then picked by their exact sample name, which keeps the
histogram `vllm:iteration_tokens_total` (samples `..._bucket/_count/_sum`) apart from counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from quanttui import __version__
from quanttui.core.clock import SessionClock
from quanttui.core.events import METRICS_NOT_EXPORTED, EngineSample, Event, MetricsUnavailable

USER_AGENT = f"quanttui/{__version__}"
_MAX_REASON = 200

KV_USAGE = "vllm:kv_cache_usage_perc"
KV_USAGE_LEGACY = "vllm:gpu_cache_usage_perc"  # vLLM before the V1 rename
RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
GENERATION_TOKENS = "vllm:generation_tokens_total"
PROMPT_TOKENS = "vllm:prompt_tokens_total"
PREEMPTIONS = "vllm:num_preemptions_total"
PREFIX_QUERIES = "vllm:prefix_cache_queries_total"  # prompt tokens looked up in the prefix cache
PREFIX_HITS = "vllm:prefix_cache_hits_total"  # of which found there
CACHE_CONFIG = "vllm:cache_config_info"
# llama.cpp's server (tools/server), when started with --metrics
LLAMACPP_RUNNING = "llamacpp:requests_processing"
LLAMACPP_WAITING = "llamacpp:requests_deferred"
LLAMACPP_GENERATION_TOKENS = "llamacpp:tokens_predicted_total"
LLAMACPP_PROMPT_TOKENS = "llamacpp:prompt_tokens_total"


class MetricsParseError(ValueError):
    """A /metrics body that is not Prometheus text; the message is one line."""


@dataclass(frozen=True)
class VllmMetrics:
    """The handful of engine values the console shows, aggregated over `engine` label values."""

    kv_cache_usage: float | None  # 0..1 fraction
    running: float | None
    waiting: float | None
    generation_tokens_total: float | None
    prompt_tokens_total: float | None
    preemptions_total: float | None
    num_gpu_blocks: int | None
    block_size: int | None
    kv_cache_size_tokens: int | None
    model_names: tuple[str, ...] = ()
    prefix_cache_queries_total: float | None = None
    prefix_cache_hits_total: float | None = None

    @property
    def empty(self) -> bool:
        """True when the body held none of the vLLM metrics we read (not a vLLM server?)."""
        return not self.model_names and all(
            value is None
            for value in (
                self.kv_cache_usage,
                self.running,
                self.waiting,
                self.generation_tokens_total,
                self.prompt_tokens_total,
                self.preemptions_total,
                self.num_gpu_blocks,
                self.block_size,
                self.kv_cache_size_tokens,
            )
        )


def _one_line(text: str, limit: int = _MAX_REASON) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _label_int(value: str | None) -> int | None:
    """vLLM writes CacheConfig fields with str(); "None" (or anything non-integral) means unknown."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _sum(samples: list[Sample]) -> float | None:
    return float(sum(s.value for s in samples)) if samples else None


def _engine(sample: Sample) -> str:
    return sample.labels.get("engine", "")


def _kv_usage(samples: list[Sample], blocks_by_engine: dict[str, int | None]) -> float | None:
    """Usage is a per-engine fraction, so summing would be wrong: weight each engine's fraction by
    its num_gpu_blocks (= the share of total KV capacity it holds) when every engine's block count
    is known; otherwise report the fullest engine (max), the one that preempts first.
    """
    if not samples:
        return None
    if len(samples) == 1:
        return float(samples[0].value)
    weights = [blocks_by_engine.get(_engine(s)) for s in samples]
    if all(w is not None and w > 0 for w in weights):
        total = sum(w for w in weights if w is not None)
        return sum(s.value * w for s, w in zip(samples, weights, strict=True) if w is not None) / total
    return float(max(s.value for s in samples))


def _sum_ints(values: Iterable[int | None]) -> int | None:
    """Sum of per-engine label ints; unknown as soon as one engine's value is unknown."""
    items = list(values)
    if not items or any(v is None for v in items):
        return None
    return sum(v for v in items if v is not None)


def parse_vllm_metrics(text: str) -> VllmMetrics:
    """Read the vLLM values out of a /metrics body; metrics that are absent come back as None.

    Gauges of request counts and all counters are summed over `engine` label values (data
    parallel engines share one /metrics); see `_kv_usage` for the KV cache fraction. From
    `vllm:cache_config_info` the block counts and token capacities are summed over engines and
    `block_size` (the same for every engine) is taken from the first one.
    """
    try:
        # The parser is a lazy generator: errors surface while iterating, so iterate inside the try.
        samples = [sample for family in text_string_to_metric_families(text) for sample in family.samples]
    except Exception as exc:  # the parser raises ValueError mostly, but also IndexError/KeyError
        raise MetricsParseError(_one_line(f"not Prometheus text: {exc}")) from exc
    return vllm_from_samples(samples)


def vllm_from_samples(samples: Iterable[Sample]) -> VllmMetrics:
    """The vLLM (or llama.cpp) values out of samples: a /metrics body's, or the same series as a
    Prometheus server holds them (io/prometheus_engine.py)."""
    wanted = {KV_USAGE, KV_USAGE_LEGACY, RUNNING, WAITING, GENERATION_TOKENS, PROMPT_TOKENS, PREEMPTIONS,
              PREFIX_QUERIES, PREFIX_HITS}  # fmt: skip
    llamacpp = {LLAMACPP_RUNNING, LLAMACPP_WAITING, LLAMACPP_GENERATION_TOKENS, LLAMACPP_PROMPT_TOKENS}
    wanted |= llamacpp
    by_name: dict[str, list[Sample]] = {name: [] for name in wanted | {CACHE_CONFIG}}
    models: set[str] = set()
    for sample in samples:
        if sample.name.startswith("vllm:") and "model_name" in sample.labels:
            models.add(sample.labels["model_name"])
        if sample.name in by_name:
            by_name[sample.name].append(sample)

    # One cache_config_info per engine; keep the first if an engine repeats (it should not).
    configs: dict[str, dict[str, str]] = {}
    for sample in by_name[CACHE_CONFIG]:
        configs.setdefault(_engine(sample), sample.labels)
    blocks_by_engine = {
        engine: _label_int(labels.get("num_gpu_blocks")) for engine, labels in configs.items()
    }
    first_config = next(iter(configs.values()), {})

    usage_samples = by_name[KV_USAGE] or by_name[KV_USAGE_LEGACY]
    vllm_absent = not models and not configs and not any(by_name[n] for n in wanted - llamacpp)
    if vllm_absent and any(by_name[n] for n in llamacpp):
        return VllmMetrics(
            kv_cache_usage=None,
            running=_sum(by_name[LLAMACPP_RUNNING]),
            waiting=_sum(by_name[LLAMACPP_WAITING]),
            generation_tokens_total=_sum(by_name[LLAMACPP_GENERATION_TOKENS]),
            prompt_tokens_total=_sum(by_name[LLAMACPP_PROMPT_TOKENS]),
            preemptions_total=None,
            num_gpu_blocks=None,
            block_size=None,
            kv_cache_size_tokens=None,
        )
    return VllmMetrics(
        kv_cache_usage=_kv_usage(usage_samples, blocks_by_engine),
        running=_sum(by_name[RUNNING]),
        waiting=_sum(by_name[WAITING]),
        generation_tokens_total=_sum(by_name[GENERATION_TOKENS]),
        prompt_tokens_total=_sum(by_name[PROMPT_TOKENS]),
        preemptions_total=_sum(by_name[PREEMPTIONS]),
        num_gpu_blocks=_sum_ints(blocks_by_engine.values()),
        block_size=_label_int(first_config.get("block_size")),
        kv_cache_size_tokens=_sum_ints(_label_int(c.get("kv_cache_size_tokens")) for c in configs.values()),
        model_names=tuple(sorted(models)),
        prefix_cache_queries_total=_sum(by_name[PREFIX_QUERIES]),
        prefix_cache_hits_total=_sum(by_name[PREFIX_HITS]),
    )


class ScrapeFailed(Exception):
    """Internal: one scrape failed for the (one-line) reason in the message."""


def _rate(current: float | None, previous: float | None, dt: float) -> float | None:
    """Δcounter/Δt; None without a baseline or when the counter went down (engine restart)."""
    if current is None or previous is None or dt <= 0 or current < previous:
        return None
    return (current - previous) / dt


class MetricsScraper:
    """Polls one variant's /metrics and publishes EngineSample / MetricsUnavailable events.

    A load test must outlive a flaky or restarting server, so failures become events, never
    exceptions; MetricsUnavailable is only re-published when the reason changes, so a dead
    server yields one event rather than one per second.
    """

    def __init__(
        self,
        variant: str,
        base_url: str,
        publish: Callable[[Event], None],
        clock: SessionClock,
        interval_s: float = 1.0,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 2.0,
        replica: str | None = None,
    ) -> None:
        """`replica`: the URL of one replica of a fleet, stamped on what it publishes."""
        if not interval_s > 0:
            raise ValueError("metrics interval must be > 0")
        if not timeout_s > 0:
            raise ValueError("metrics timeout must be > 0")
        root = base_url.strip().rstrip("/")
        if not root.startswith(("http://", "https://")):
            raise ValueError(f"metrics base URL must start with http:// or https://, got {base_url!r}")
        self.variant = variant
        self.replica = replica
        self.url = root + "/metrics"
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._publish = publish
        self._clock = clock
        self._client = client
        self._owns_client = client is None
        self._last_reason: str | None = None
        self._previous: EngineSample | None = None  # last successful scrape, the rate baseline

    async def aclose(self) -> None:
        """Close the HTTP client if this scraper created it (an injected one belongs to the caller)."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def __aenter__(self) -> MetricsScraper:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env=False: a proxy from the environment must not sit between us and 127.0.0.1.
            self._client = httpx.AsyncClient(headers={"User-Agent": USER_AGENT}, trust_env=False)
            self._owns_client = True
        return self._client

    async def _fetch(self) -> tuple[str, float]:
        """The body and the session time it arrived, or ScrapeFailed with a stable reason."""
        try:
            # Plain text format: an openmetrics Accept would change the exposition we parse.
            response = await self._http().get(
                self.url, headers={"Accept": "text/plain"}, timeout=self.timeout_s
            )
        except httpx.TimeoutException as exc:
            raise ScrapeFailed(f"timeout after {self.timeout_s:g} s ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            raise ScrapeFailed(_one_line(f"unreachable: {exc or 'connect error'}")) from exc
        except httpx.HTTPError as exc:
            raise ScrapeFailed(_one_line(f"{type(exc).__name__}: {exc}")) from exc
        arrived = self._clock.now()
        if response.status_code == 404:
            raise ScrapeFailed(f"{METRICS_NOT_EXPORTED} (HTTP 404 from {self.url})")
        if response.status_code != 200:
            raise ScrapeFailed(f"HTTP {response.status_code} from {self.url}")
        return response.text, arrived

    def _fail(self, reason: str) -> None:
        if reason != self._last_reason:
            self._last_reason = reason
            self._publish(
                MetricsUnavailable(
                    t=self._clock.now(), variant=self.variant, reason=reason, replica=self.replica
                )
            )

    def _sample(self, metrics: VllmMetrics, t: float) -> EngineSample:
        prev = self._previous
        dt = t - prev.t if prev is not None else 0.0
        return EngineSample(
            t=t,
            variant=self.variant,
            kv_cache_usage=metrics.kv_cache_usage,
            running=metrics.running,
            waiting=metrics.waiting,
            generation_tokens_total=metrics.generation_tokens_total,
            prompt_tokens_total=metrics.prompt_tokens_total,
            preemptions_total=metrics.preemptions_total,
            generation_tok_s=_rate(
                metrics.generation_tokens_total, prev.generation_tokens_total if prev else None, dt
            ),
            prompt_tok_s=_rate(metrics.prompt_tokens_total, prev.prompt_tokens_total if prev else None, dt),
            num_gpu_blocks=metrics.num_gpu_blocks,
            block_size=metrics.block_size,
            kv_cache_size_tokens=metrics.kv_cache_size_tokens,
            prefix_cache_queries_total=metrics.prefix_cache_queries_total,
            prefix_cache_hits_total=metrics.prefix_cache_hits_total,
            replica=self.replica,
        )

    async def _read(self) -> tuple[VllmMetrics, float]:
        """The engine's values now and when they arrived, or ScrapeFailed with a stable reason."""
        text, arrived = await self._fetch()
        try:
            metrics = parse_vllm_metrics(text)
        except MetricsParseError as exc:
            raise ScrapeFailed(f"unparsable /metrics: {exc}") from exc
        if metrics.empty:
            raise ScrapeFailed(f"{METRICS_NOT_EXPORTED}: no vllm:* or llamacpp:* metrics at {self.url}")
        return metrics, arrived

    async def scrape_once(self) -> EngineSample | None:
        """One poll: publish an EngineSample (and return it), or a MetricsUnavailable on a new
        failure reason (and return None)."""
        try:
            metrics, arrived = await self._read()
        except ScrapeFailed as exc:
            self._fail(str(exc))
            return None
        sample = self._sample(metrics, arrived)
        self._previous = sample
        self._last_reason = None  # the next failure is news again
        self._publish(sample)
        return sample

    async def run(self) -> None:
        """Poll every interval_s until cancelled; never raises anything but CancelledError."""
        try:
            while True:
                started = time.perf_counter()
                try:
                    await self.scrape_once()
                except Exception as exc:  # a bug here must not take the session down with it
                    with contextlib.suppress(Exception):
                        self._fail(_one_line(f"internal error: {type(exc).__name__}: {exc}"))
                await asyncio.sleep(max(0.0, self.interval_s - (time.perf_counter() - started)))
        finally:
            with contextlib.suppress(Exception):
                await self.aclose()
