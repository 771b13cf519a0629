"""The typed events of a session: every observation and operator action is one of these.

All events are frozen dataclasses with `t` (seconds since session start, monotonic clock) and,
where they belong to one, the `variant` name. They hold only JSON-friendly values (str, int,
float, bool, None and tuples of those) so a recording round-trips them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorClass(StrEnum):
    """Why a request failed; counted per class, never raised."""

    CONNECT = "connect"  # TCP connect refused / DNS / reset before a response
    HTTP_STATUS = "http_status"  # non-2xx status (the code is kept beside it)
    TIMEOUT_CONNECT = "timeout_connect"
    TIMEOUT_FIRST_TOKEN = "timeout_first_token"
    TIMEOUT_IDLE = "timeout_idle"  # gap between two chunks exceeded the idle timeout
    TIMEOUT_TOTAL = "timeout_total"  # the whole request exceeded its ceiling
    MALFORMED_STREAM = "malformed_stream"  # data line that is not JSON or not a chunk object
    STREAM_ERROR = "stream_error"  # an error object arrived mid-stream
    NO_DONE = "no_done"  # stream ended without `data: [DONE]`
    READ_ERROR = "read_error"  # connection broken while reading the body
    NO_CONTENT = "no_content"  # stream completed but carried no token chunk
    CLIENT_FAILED = "client_failed"  # the load worker process sending it died (schema >= 4)


@dataclass(frozen=True)
class Event:
    t: float


@dataclass(frozen=True)
class EndpointInfo(Event):
    """One variant under test: where it is and what it serves."""

    variant: str
    url: str
    model: str
    precision: str = ""
    pids: tuple[int, ...] = ()
    # A fleet (schema 9): every replica's URL, `url` the first; empty for a variant of one endpoint.
    replicas: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstanceState(Event):
    """Engine life cycle: starting, loading, profiling, ready, failed, stopped (issue 3 fills it in)."""

    variant: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class EngineCapacity(Event):
    """KV-cache capacity as the engine's start-up log states it."""

    variant: str
    kv_cache_tokens: int | None
    tokens_per_request: int | None
    max_concurrency: float | None


@dataclass(frozen=True)
class LogLine(Event):
    variant: str
    line: str
    stream: str = "stdout"


@dataclass(frozen=True)
class GpuUnavailable(Event):
    """NVML cannot be used (at start, or a sample failed with a new reason), or, with `host` (schema
    8), that host's DCGM exporter cannot be read; the session carries on."""

    reason: str
    host: str = ""  # "" local NVML; a DCGM exporter's host; PROMETHEUS: the Prometheus server (its GPUs go)


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_mib: float


@dataclass(frozen=True)
class GpuSample(Event):
    """One GPU, read by local NVML (`source` "nvml": its processes say whose memory is whose),
    scraped from a host's DCGM exporter ("dcgm", schema 8) or queried from a Prometheus server that
    scrapes the exporters ("prometheus"); those have no process list: `variant` is the variant the
    session's GPU map gives this GPU, by host and index or UUID, or by its labels."""

    index: int
    name: str
    mem_total_mib: float
    mem_used_mib: float
    util_pct: float | None
    power_w: float | None
    processes: tuple[GpuProcess, ...] = ()
    source: str = "nvml"
    host: str = ""  # the exporter's host as the operator named it ("" for local NVML)
    uuid: str = ""
    variant: str | None = None
    mem_copy_util_pct: float | None = None  # memory-bandwidth activity (DCGM_FI_DEV_MEM_COPY_UTIL)
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    labels: tuple[tuple[str, str], ...] = ()  # the exporter's labels kept: Hostname, pod, container, ...

    @property
    def key(self) -> tuple[str, int]:
        """Which GPU: its host and index (indices repeat across hosts)."""
        return (self.host, self.index)

    @property
    def reader(self) -> str:
        """Which source read it, as `GpuUnavailable.host` names that source when it goes quiet:
        "" local NVML, a DCGM exporter's host, or PROMETHEUS for every GPU read through Prometheus."""
        return PROMETHEUS if self.source == "prometheus" else self.host


PROMETHEUS = "@prometheus"  # GpuUnavailable.host of a Prometheus server that cannot be queried


@dataclass(frozen=True)
class EngineSample(Event):
    """One /metrics scrape of a vLLM engine, summed over its `engine` label values.

    Counters are kept raw so a replay can recompute rates; the rates are Δ/Δt against the
    previous scrape of the same variant (None on the first scrape or after a counter reset).
    """

    variant: str
    kv_cache_usage: float | None  # 0..1 fraction
    running: float | None
    waiting: float | None
    generation_tokens_total: float | None
    prompt_tokens_total: float | None
    preemptions_total: float | None
    generation_tok_s: float | None = None
    prompt_tok_s: float | None = None
    num_gpu_blocks: int | None = None
    block_size: int | None = None
    kv_cache_size_tokens: int | None = None
    # Prompt tokens looked up in vLLM's prefix cache and found there (schema >= 6).
    prefix_cache_queries_total: float | None = None
    prefix_cache_hits_total: float | None = None
    # The replica scraped, by its URL (schema 9); None: the variant's one endpoint. The fold merges
    # a fleet's replicas into one sample per variant (core/fleet.py) before anything reads it.
    replica: str | None = None


@dataclass(frozen=True)
class MetricsUnavailable(Event):
    """A variant's /metrics could not be read or parsed (emitted on each change of reason).

    A reason that starts with METRICS_NOT_EXPORTED means the engine has no such metrics at all
    (llama-cpp-python's server): panels say so instead of showing zeros."""

    variant: str
    reason: str
    replica: str | None = None  # schema 9: that replica's /metrics (the fleet's others may answer)


@dataclass(frozen=True)
class ReplicaState(Event):
    """A replica of a fleet taken out of the balancer (`up` false: it failed to connect or answer
    several times in a row) or back in it (schema 9); `detail` says why, in one line."""

    variant: str
    replica: str
    up: bool
    detail: str = ""


METRICS_NOT_EXPORTED = "not exported by this engine"


@dataclass(frozen=True)
class StepStarted(Event):
    step: int
    concurrency: int
    requests: int | None  # requests per variant, or None when the step is timed
    seconds: float | None
    warmup_requests: int  # not measured: the configured warm-up plus the fill wave (schema >= 3)
    variants: tuple[str, ...]
    trigger: str = "plan"  # "plan": the ramp's next step; "operator": started by step_up/step_down
    # How the step's SLO decision is taken (core/decisions.py), recorded so a replay re-derives it.
    # Schema <= 2 lacks them: one look at the end, 95 % one-sided, as those versions decided.
    looks: tuple[int, ...] = ()  # measured-request counts at which the decision is checked
    alpha_meets: float = 0.05  # error per look for "meets", per claim (split again over SLO bounds)
    alpha_breach: float = 0.05
    confidence: float = 0.95  # of the intervals shown
    trial: int = 0  # which repetition of the ramp (--trials)
    # Schema >= 6. An open-loop step: its rate (requests/s; `concurrency` is then the cap on requests
    # in flight), sent on the plan's seeded arrivals (the recorded plan rebuilds the schedule). A
    # prompt-length step (long-prefill): the prompts' length in the model's tokens.
    rate: float | None = None
    input_tokens: int | None = None


@dataclass(frozen=True)
class HostSample(Event):
    """How busy the host is, for noise marking: CPU in % of one core (100 = one core busy).

    `others_cpu_pct` is what processes other than the engines' trees and quanttui's own used."""

    cpu_pct: float
    others_cpu_pct: float
    cores: int
    gpu_other_processes: int | None = None  # with NVML: processes on the GPUs that are not ours


@dataclass(frozen=True)
class ClientSample(Event):
    """The load client's self-check over one window (about a second; new in schema 4).

    `source` is the process that drove the requests ("load worker 1", or "session" when the load
    runs in the session's own loop). `lag_*_ms`: how late its event loop woke for a 5 ms tick,
    which bounds how late a chunk could be stamped; `cpu_pct`: its CPU in % of one core;
    `coalesced`: token chunks that arrived in one read with an earlier one (their gaps are not
    resolvable). A step whose client ran late or flat out is marked client-bound (core/stepstats.py).
    """

    source: str
    seconds: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    cpu_pct: float
    in_flight: int = 0
    reads: int = 0
    token_chunks: int = 0
    coalesced: int = 0


@dataclass(frozen=True)
class StepFinished(Event):
    step: int
    reason: str = "completed"  # "completed", "operator" (step_up/step_down), "stopped"


@dataclass(frozen=True)
class VariantRetired(Event):
    """A stop rule fired for a variant: it gets no further steps."""

    variant: str
    step: int
    rule: str  # "slo" or "error_rate"
    detail: str


@dataclass(frozen=True)
class SweepFinished(Event):
    reason: str  # "completed", "all_retired", "stopped", "interrupted", "no_engine_ready"


@dataclass(frozen=True)
class RequestResult(Event):
    """One request, measured by `vllm bench serve`'s definitions.

    `t` is when the request ended; `start` when it was sent. Latencies are in seconds;
    `itl_us` holds every inter-token gap in whole microseconds so percentiles over a step can
    be recomputed exactly from a recording.
    """

    variant: str
    step: int
    index: int  # position in the step's prompt order
    warmup: bool
    start: float
    ok: bool
    error: str | None = None  # ErrorClass value
    http_status: int | None = None
    error_detail: str = ""
    ttft: float | None = None
    e2e: float | None = None
    itl_us: tuple[int, ...] = ()
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    output_tokens_estimated: bool = False  # True when usage was missing and chunks were counted
    finish_reason: str | None = None
    intended: float | None = None  # open loop (schema >= 6): when the schedule meant it to be sent
    replica: str | None = None  # schema 9: the fleet replica (its URL) that answered; None: one endpoint

    @property
    def lag_s(self) -> float | None:
        """How late an open-loop request was sent (its start is stamped where it was sent)."""
        return None if self.intended is None else max(0.0, self.start - self.intended)

    @property
    def tpot(self) -> float | None:
        if self.ttft is None or self.e2e is None or not self.output_tokens or self.output_tokens < 2:
            return None
        return (self.e2e - self.ttft) / (self.output_tokens - 1)


@dataclass(frozen=True)
class OperatorNote(Event):
    """Free text from the operator or the app (kept in the recording)."""

    text: str
    variant: str | None = None


@dataclass(frozen=True)
class OperatorCommand(Event):
    """An operator command to the ramp, as issued: start, pause, resume, stop, step_up, step_down
    (value: the concurrency asked for), set_slo (value: the new p95 in ms)."""

    command: str
    value: float | None = None


@dataclass(frozen=True)
class ProcessSample(Event):
    """Host memory and CPU of one variant's engine process tree (shown where NVML is absent)."""

    variant: str
    rss_mib: float  # resident set size summed over the tree
    cpu_pct: float | None  # summed over the tree (100 = one core); None on the first sample
    pids: int  # processes in the tree when sampled


@dataclass(frozen=True)
class ReplayReset(Event):
    """A replay went back in time: consumers drop their state; events from the start up to `t` follow."""


@dataclass(frozen=True)
class RampStatus(Event):
    """Where the ramp stands, published by the live session at every change (schema 2): "waiting"
    (for the operator's start), "running", "paused", "stopping" (stop asked, requests in flight
    finishing) or "finished". A fact of the run, so it is recorded."""

    state: str


@dataclass(frozen=True)
class ReplayStatus(Event):
    """Where a replay stands, published by the replay at every change of its controls: position (t
    of the last event published), the recording's duration, speed (0: as fast as possible), paused,
    at_end. Purely visual: a replay records nothing, and a live session never publishes it."""

    position: float
    duration: float
    speed: float
    paused: bool
    at_end: bool = False


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        EndpointInfo,
        InstanceState,
        EngineCapacity,
        LogLine,
        GpuUnavailable,
        GpuSample,
        EngineSample,
        MetricsUnavailable,
        ReplicaState,
        StepStarted,
        StepFinished,
        VariantRetired,
        SweepFinished,
        RequestResult,
        OperatorNote,
        OperatorCommand,
        ProcessSample,
        HostSample,
        ClientSample,
        ReplayReset,
        RampStatus,
        ReplayStatus,
    )
}

# Nested value types that may appear inside events (decoded by the recording codec).
VALUE_TYPES: dict[str, type] = {"GpuProcess": GpuProcess}
