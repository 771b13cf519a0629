"""The simulated engine: a vLLM-like scheduler (running slots, FCFS waiting queue, KV-cache
capacity, recompute preemption) that paces tokens at absolute target times, plus its
Prometheus metrics under vLLM's own names and labels.

Pacing: token i of a request is due at `admitted + ttft + Σ itl`; each wait sleeps until that
absolute `loop.time()` target, so oversleeping never accumulates and client-side TTFT/ITL match
the configuration within the event loop's wake-up jitter (about a millisecond).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, fields

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from quanttui.sim.faults import parse_fault
from quanttui.sim.httpwire import ClientGone

VLLM_VERSION = "0.32.0"
_SLEEP_POLL_S = 0.1  # a long sleep (TTFT, stall) looks for a vanished client this often
_QUEUE_POLL_S = 0.25  # so does a queued request (hundreds may wait in a benchmark)

# Default buckets of vllm/v1/metrics/buckets.py.
_TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
_TTFT_BUCKETS += [20, 40, 80, 160, 640, 2560]
_ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80]
_REQUEST_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920]
_REQUEST_BUCKETS += [7680]

_WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wizards"]
_WORDS += ["quietly", "judge", "boxing", "matches"]


@dataclass(frozen=True)
class SimConfig:
    """Everything a simulated server can be told; each field is also a CLI flag (`--ttft-ms`...)."""

    model: str = "sim"
    ttft_ms: float = 200.0  # admission (slot granted) -> first token
    itl_ms: float = 20.0  # gap between tokens with one request running
    output_tokens: int = 16  # tokens before "EOS" when ignore_eos is false
    max_num_seqs: int = 256  # running slots; more requests wait
    kv_cache_tokens: int = 262_144  # KV capacity; usage = held tokens / capacity
    block_size: int = 16  # only reported in vllm:cache_config_info
    max_model_len: int = 4096
    load_factor: float = 0.0  # itl = itl_ms * (1 + load_factor * (running - 1))
    fault: str | None = None  # server-wide default fault, "NAME" or "NAME:ARG"
    api_key: str | None = field(default=None, repr=False)  # if set, /v1/* needs `Authorization: Bearer <key>`
    keepalive_timeout_s: float = 5.0  # uvicorn's --timeout-keep-alive default
    metrics: str = "vllm"  # "none": no /metrics route (404), like llama-cpp-python's server
    answers: str = "words"  # "book": answers to the quality prompts (sim/answers.py), else a word cycle
    drift: float = 0.0  # with answers "book": the share of prompts answered differently (as quantized)
    send_log: str | None = None  # file for each streamed request's receive and chunk-write times (sendlog.py)
    tokenize: str = "none"  # "words": a vLLM /tokenize route counting words as usage does; "none": 404

    def __post_init__(self) -> None:
        for name in ("output_tokens", "max_num_seqs", "kv_cache_tokens", "block_size", "max_model_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not self.keepalive_timeout_s > 0:
            raise ValueError("keepalive_timeout_s must be > 0")
        for name in ("ttft_ms", "itl_ms", "load_factor"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0")
        if not self.model:
            raise ValueError("model must not be empty")
        if self.metrics not in ("vllm", "none"):
            raise ValueError(f"metrics must be vllm or none, got {self.metrics!r}")
        if self.answers not in ("words", "book"):
            raise ValueError(f"answers must be words or book, got {self.answers!r}")
        if not 0.0 <= self.drift <= 1.0:
            raise ValueError(f"drift must be in [0, 1], got {self.drift!r}")
        parse_fault(self.fault)

    def to_argv(self) -> list[str]:
        """CLI flags for the fields that differ from the defaults (the API key never goes on argv)."""
        argv: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "api_key" and value != f.default and value is not None:
                argv += ["--" + f.name.replace("_", "-"), str(value)]
        return argv


def token_text(seed_text: str, index: int) -> str:
    """Deterministic token text: cycles a word list from an offset derived from the prompt."""
    start = zlib.crc32(seed_text.encode())
    return " " + _WORDS[(start + index) % len(_WORDS)]


class SimMetrics:
    """A per-server CollectorRegistry exposing vLLM's metric names, labels and HELP texts."""

    def __init__(self, config: SimConfig) -> None:
        self.registry = CollectorRegistry()
        for collector in (GCCollector, PlatformCollector, ProcessCollector):
            collector(registry=self.registry)
        labels = {"engine": "0", "model_name": config.model}
        names = list(labels)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, names, registry=self.registry).labels(**labels)

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, names, registry=self.registry).labels(**labels)

        def histogram(name: str, doc: str, buckets: list[float]) -> Histogram:
            return Histogram(name, doc, names, registry=self.registry, buckets=buckets).labels(**labels)

        self.running = gauge("vllm:num_requests_running", "Number of requests in model execution batches.")
        self.waiting = gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.")
        self.kv_usage = gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.")
        self.preemptions = counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.")
        self.prompt_tokens = counter("vllm:prompt_tokens", "Number of prefill tokens processed.")
        self.generation_tokens = counter("vllm:generation_tokens", "Number of generation tokens processed.")
        success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            ["engine", "finished_reason", "model_name"],
            registry=self.registry,
        )
        self.success = {r: success.labels(finished_reason=r, **labels) for r in ("stop", "length", "abort")}
        self.success["error"] = success.labels(finished_reason="error", **labels)
        self.ttft = histogram(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", _TTFT_BUCKETS
        )
        self.itl = histogram(
            "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", _ITL_BUCKETS
        )
        self.e2e = histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            _REQUEST_BUCKETS,
        )
        self.queue_time = histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            _REQUEST_BUCKETS,
        )
        self._cache_config_info(config)

    def _cache_config_info(self, config: SimConfig) -> None:
        info = {
            "block_size": str(config.block_size),
            "cache_dtype": "auto",
            "enable_prefix_caching": "True",
            "engine": "0",
            "gpu_memory_utilization": "0.92",
            "kv_cache_max_concurrency": str(round(config.kv_cache_tokens / config.max_model_len, 2)),
            "kv_cache_size_tokens": str(config.kv_cache_tokens),
            "num_cpu_blocks": "None",
            "num_gpu_blocks": str(math.ceil(config.kv_cache_tokens / config.block_size)),
        }
        gauge = Gauge(
            "vllm:cache_config_info",
            "Information of the LLMEngine CacheConfig",
            sorted(info),
            registry=self.registry,
        )
        gauge.labels(**info).set(1.0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


@dataclass(eq=False)
class SimRequest:
    prompt_tokens: int
    arrival: float  # loop.time() when the request was parsed
    generated: int = 0
    admitted_once: bool = False
    next_due: float = 0.0
    last_due: float = 0.0  # the loop.time() the latest token was due at (its schedule)
    is_running: bool = False  # on Engine.running (a flag: a list lookup costs O(n) per token)
    last_token_at: float | None = None
    finished: str | None = None

    @property
    def held_tokens(self) -> int:
        return self.prompt_tokens + self.generated


class Engine:
    """Admission, pacing and accounting for every request of one simulated server."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.metrics = SimMetrics(config)
        self.running: list[SimRequest] = []
        self._held_total = 0  # Σ held_tokens of running, kept as it changes (1,000s run at once)
        self._waiting: deque[tuple[SimRequest, asyncio.Future[None]]] = deque()

    # -- scheduling ---------------------------------------------------------------------------
    def _held(self) -> int:
        return self._held_total

    def _drop(self, req: SimRequest) -> None:
        """Take the request off the running list, if it is on it."""
        if req.is_running:
            req.is_running = False
            self.running.remove(req)
            self._held_total -= req.held_tokens

    def _fits(self, req: SimRequest) -> bool:
        if len(self.running) >= self.config.max_num_seqs:
            return False
        return not self.running or self._held() + req.held_tokens <= self.config.kv_cache_tokens

    def _start(self, req: SimRequest) -> None:
        now = asyncio.get_running_loop().time()
        self.running.append(req)
        req.is_running = True
        self._held_total += req.held_tokens
        req.next_due = now + self.config.ttft_ms / 1000  # (re)compute the prefill
        if not req.admitted_once:
            req.admitted_once = True
            self.metrics.prompt_tokens.inc(req.prompt_tokens)
            self.metrics.queue_time.observe(now - req.arrival)

    def _admit_waiting(self) -> None:
        while self._waiting and self._fits(self._waiting[0][0]):
            req, future = self._waiting.popleft()
            if not future.done():
                self._start(req)
                future.set_result(None)
        self._publish()

    def _publish(self) -> None:
        self.metrics.running.set(len(self.running))
        self.metrics.waiting.set(len(self._waiting))
        self.metrics.kv_usage.set(min(1.0, self._held() / self.config.kv_cache_tokens))

    async def _acquire(self, req: SimRequest, gone: Callable[[], bool], front: bool = False) -> None:
        """Queue the request (a preempted one at the head, like vLLM) and wait for a slot."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (req, future)
        self._waiting.appendleft(entry) if front else self._waiting.append(entry)
        self._admit_waiting()
        try:
            while not future.done():
                await asyncio.wait([future], timeout=_QUEUE_POLL_S)
                if gone():
                    raise ClientGone()
        finally:
            if not future.done():
                future.cancel()
                self._waiting.remove(entry)
                self._publish()

    @contextlib.asynccontextmanager
    async def admitted(self, req: SimRequest, gone: Callable[[], bool]) -> AsyncIterator[None]:
        """Hold a running slot for the request's lifetime; an unfinished exit counts as an abort."""
        try:
            await self._acquire(req, gone)
            yield
        finally:
            if req.finished is None:
                self.finish(req, "abort")
            self._drop(req)
            self._admit_waiting()

    def _current_itl_s(self) -> float:
        running = max(1, len(self.running))
        return self.config.itl_ms / 1000 * (1 + self.config.load_factor * (running - 1))

    async def next_token(self, req: SimRequest, gone: Callable[[], bool], extra_delay_s: float = 0.0) -> None:
        """Wait until the request's next token is due (after a preemption, re-queue first), count it."""
        if len(self.running) > 1 and req is self.running[-1] and self._held() > self.config.kv_cache_tokens:
            self._drop(req)  # vLLM preempts the newest running request (recompute)
            self.metrics.preemptions.inc()
            await self._acquire(req, gone, front=True)
        req.next_due += extra_delay_s
        req.last_due = req.next_due
        await sleep_until(req.next_due, gone)
        now = asyncio.get_running_loop().time()
        if req.last_token_at is None:
            self.metrics.ttft.observe(now - req.arrival)
        else:
            self.metrics.itl.observe(now - req.last_token_at)
        req.last_token_at = now
        req.generated += 1
        if req.is_running:
            self._held_total += 1
        self.metrics.generation_tokens.inc()
        self._publish()
        req.next_due += self._current_itl_s()

    def finish(self, req: SimRequest, reason: str) -> None:
        """Count a finished request (`stop`, `length`, `abort` or `error`) once."""
        if req.finished is None:
            req.finished = reason
            self.metrics.success[reason].inc()
            self.metrics.e2e.observe(asyncio.get_running_loop().time() - req.arrival)


async def sleep_until(target: float, gone: Callable[[], bool]) -> None:
    """Sleep to an absolute loop.time(); long waits wake every 100 ms to notice a vanished client."""
    loop = asyncio.get_running_loop()
    while (remaining := target - loop.time()) > 0:
        await asyncio.sleep(min(remaining, _SLEEP_POLL_S))
        if gone():
            raise ClientGone()
