"""Reading an engine's start-up log: phases, KV-cache capacity, and why a start failed.

vLLM's log first; llama.cpp's (llama-cpp-python's server prints llama.cpp's loader lines, then
uvicorn's) has its own patterns for the same phases and its KV line
("llama_kv_cache: size = 11.25 MiB (512 cells, 30 layers, 1/1 seqs)": cells are tokens, seqs the
sequences it serves at once).

Patterns fit vLLM 0.11 to 0.33: the KV line was one line from about 0.14 on
("CPU KV cache size: 1,536 tokens, Maximum concurrency for 1,024 tokens per request: 1.50x") and
two lines before ("GPU KV cache size: N tokens" / "Maximum concurrency for ..."), so each half
has its own pattern. Readiness itself is not taken from the log: it is GET /health == 200.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    LAUNCHING = "launching"
    STARTING = "starting"  # the API server process is up and reading its config
    LOADING_WEIGHTS = "loading weights"
    PROFILING = "profiling"  # memory profiling / KV cache allocation / warm-up
    CAPTURING_GRAPHS = "capturing graphs"
    STARTING_HTTP = "starting http"
    READY = "ready"
    FAILED = "failed"
    STOPPED = "stopped"


def stop_detail(detail: str) -> str:
    """How an engine that quanttui stopped ended, in words. The launcher sends SIGTERM; vLLM
    exits 0 on it, llama.cpp's server dies by it ("exit code -15"): both are a normal stop, so
    the signal is named and the raw code kept, without the look of a failure. SIGKILL means the
    engine outlived its grace period."""
    match = re.fullmatch(r"exit code (-\d+)", detail)
    if match is None:
        return detail
    code = int(match[1])
    if code == -signal.SIGTERM:
        return f"on SIGTERM (code {code})"
    if code == -signal.SIGKILL:
        return f"killed after its grace period (SIGKILL, code {code})"
    try:
        return f"by {signal.Signals(-code).name} (code {code})"
    except ValueError:
        return detail


# Order of phases during a normal start; used to never go backwards on a late log line.
PHASE_ORDER = [
    Phase.LAUNCHING,
    Phase.STARTING,
    Phase.LOADING_WEIGHTS,
    Phase.PROFILING,
    Phase.CAPTURING_GRAPHS,
    Phase.STARTING_HTTP,
    Phase.READY,
]

_PHASE_PATTERNS: list[tuple[re.Pattern[str], Phase]] = [
    (
        re.compile(
            r"non-default args:|vLLM API server version|Initializing a V1 LLM engine|"
            r"^llama_model_loader: loaded meta data"
        ),
        Phase.STARTING,
    ),
    (
        re.compile(
            r"Starting to load model|Loading model weights|Loading safetensors checkpoint|"
            r"^load_tensors: loading model tensors"
        ),
        Phase.LOADING_WEIGHTS,
    ),
    (
        re.compile(
            r"Loading weights took|Model loading took|Memory profiling|KV cache memory|for KV Cache|"
            r"^llama_context: constructing llama_context"
        ),
        Phase.PROFILING,
    ),
    (re.compile(r"Capturing CUDA graphs|Capturing cudagraphs|CUDA graph capturing"), Phase.CAPTURING_GRAPHS),
    (
        re.compile(r"Starting vLLM (API )?server on|Application startup complete|Uvicorn running on"),
        Phase.STARTING_HTTP,
    ),
]

_KV_TOKENS = re.compile(r"KV cache size: ([\d,]+) tokens")
_MAX_CONCURRENCY = re.compile(r"Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x")
_LLAMA_KV = re.compile(r"^llama_kv_cache: size = .*\(\s*(\d+) cells,.*?(\d+)/\d+ seqs\)")
_WEIGHTS = re.compile(r"Model loading took ([\d.]+) ?GiB(?: memory)? and ([\d.]+) ?s")
_INIT_ENGINE = re.compile(r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+) ?s")

# Failure causes, checked in order against each log line; the first match names the cause.
_FAILURES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Address already in use|\[Errno 98\]"), "port in use"),
    (
        re.compile(
            r"OutOfMemoryError|CUDA out of memory|No available memory for the cache blocks|"
            r"is less than desired GPU memory utilization|larger than the available KV cache memory|"
            r"Cannot allocate memory"
        ),
        "out of memory",
    ),
    (
        re.compile(
            r"is not a local folder and is not a valid model identifier|Repo id must be|"
            r"does not appear to have a file named config\.json|Invalid repository ID|"
            r"No such file or directory.*(config\.json|model)|HFValidationError|"
            r"We couldn't connect to '.*' to load the files|Can't load the configuration of|"
            r"Model path does not exist|llama_model_load: error loading model|failed to load model"
        ),
        "bad model path",
    ),
]


@dataclass(frozen=True)
class KvCapacity:
    tokens: int | None = None
    tokens_per_request: int | None = None
    max_concurrency: float | None = None


@dataclass(frozen=True)
class LogFacts:
    """What one line says; None fields say nothing."""

    phase: Phase | None = None
    kv: KvCapacity | None = None
    failure: str | None = None
    weights_gib: float | None = None
    weights_seconds: float | None = None
    init_engine_seconds: float | None = None


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def read_line(line: str) -> LogFacts:
    phase = next((p for pattern, p in _PHASE_PATTERNS if pattern.search(line)), None)
    kv = None
    tokens = _KV_TOKENS.search(line)
    conc = _MAX_CONCURRENCY.search(line)
    if tokens or conc:
        kv = KvCapacity(
            tokens=_int(tokens.group(1)) if tokens else None,
            tokens_per_request=_int(conc.group(1)) if conc else None,
            max_concurrency=float(conc.group(2)) if conc else None,
        )
        phase = phase or Phase.PROFILING
    llama_kv = _LLAMA_KV.search(line)
    if llama_kv:
        kv = KvCapacity(tokens=int(llama_kv.group(1)), max_concurrency=float(llama_kv.group(2)))
        phase = phase or Phase.PROFILING
    failure = next((cause for pattern, cause in _FAILURES if pattern.search(line)), None)
    weights = _WEIGHTS.search(line)
    init = _INIT_ENGINE.search(line)
    return LogFacts(
        phase=phase,
        kv=kv,
        failure=failure,
        weights_gib=float(weights.group(1)) if weights else None,
        weights_seconds=float(weights.group(2)) if weights else None,
        init_engine_seconds=float(init.group(1)) if init else None,
    )


def later(current: Phase, new: Phase) -> bool:
    """True when `new` is further along a normal start than `current`."""
    if current not in PHASE_ORDER or new not in PHASE_ORDER:
        return False
    return PHASE_ORDER.index(new) > PHASE_ORDER.index(current)


def merge_kv(old: KvCapacity | None, new: KvCapacity) -> KvCapacity:
    """Combine the two halves of the pre-0.14 two-line KV message."""
    if old is None:
        return new
    return KvCapacity(
        tokens=new.tokens if new.tokens is not None else old.tokens,
        tokens_per_request=new.tokens_per_request
        if new.tokens_per_request is not None
        else old.tokens_per_request,
        max_concurrency=new.max_concurrency if new.max_concurrency is not None else old.max_concurrency,
    )
