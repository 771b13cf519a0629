"""Capture one profiled generation from a vLLM engine whose profiler is on (issue 18).

vLLM started with `--profiler-config '{"profiler": "torch", "torch_profiler_dir": DIR}'` serves
POST /start_profile (optional `profile_prefix`, `delay_iterations`, `max_iterations`) and
/stop_profile, and its worker writes `DIR/<prefix>_rank0.<id>.pt.trace.json.gz`. Without the
profiler those routes are not there (404): that is said with the flag to add. The capture waits
until the engine runs no request (its /metrics), starts the profiler, sends `batch` identical
greedy requests of `tokens` output tokens (ignore_eos), stops it and finds the file it wrote.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from quanttui.core.compute import ComputeProfile
from quanttui.core.compute_words import ProfiledVariant
from quanttui.core.prompt_length import PromptLengthError, prompt_of_tokens
from quanttui.io.config import VariantConfig
from quanttui.io.openai_client import OpenAIStreamClient, RequestOptions, Timeouts, split_base_url
from quanttui.io.stream_outcome import StreamOutcome
from quanttui.io.torch_trace import TraceError
from quanttui.io.triage_client import TriageClient, TriageRequestError

ENABLE_HINT = (
    "start the engine with --profiler-config "
    '\'{"profiler": "torch", "torch_profiler_dir": "/abs/dir", "torch_profiler_with_stack": false, '
    '"ignore_frontend": true}\''
)
PROMPT = "Describe the ocean in two sentences."
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class ProfileError(Exception):
    """A profile that could not be captured; one line naming the engine and what to do."""


@dataclass(frozen=True)
class ProfileRequest:
    tokens: int = 200
    batch: int = 1  # concurrent requests: decode under load
    prompt: str = PROMPT
    prompt_tokens: int | None = None  # filler before `prompt` up to this many tokens, templated
    idle_timeout_s: float = 120.0  # waiting for the engine to run no request
    stop_timeout_s: float = 600.0  # the worker writes the trace before /stop_profile answers


@dataclass(frozen=True)
class Capture:
    trace: Path
    prefix: str
    seconds: float  # start_profile to the trace on disk
    outcomes: tuple[StreamOutcome, ...]


def _running(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name in ("vllm:num_requests_running", "vllm:num_requests_waiting"):
            total += sum(s.value for s in family.samples)
    return total


async def wait_idle(http: httpx.AsyncClient, root: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            reply = await http.get(f"{root}/metrics")
            if reply.status_code != 200 or _running(reply.text) == 0:
                return  # idle (or no /metrics to ask: go ahead)
        except (httpx.HTTPError, ValueError):
            return
        if time.monotonic() > deadline:
            raise ProfileError(
                f"{root}: still serving requests after {timeout_s:g} s; profile an idle engine"
            )
        await asyncio.sleep(0.5)


async def capture_profile(
    url: str, model: str, trace_dir: Path, prefix: str, request: ProfileRequest, api_key: str | None = None
) -> Capture:
    """Profile `request` on the engine at `url`, whose profiler writes into `trace_dir`."""
    if not _PREFIX.fullmatch(prefix):
        raise ProfileError(
            f"profile prefix {prefix!r}: 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit"
        )
    if not trace_dir.is_dir():
        raise ProfileError(f"{trace_dir}: the engine's torch_profiler_dir is not a folder on this machine")
    root = split_base_url(url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    prompt = await _prompt(root, model, api_key, request)
    async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(30.0), trust_env=False) as http:
        await wait_idle(http, root, request.idle_timeout_s)
        await _warm_up(root, model, api_key, prompt)
        started = time.time()
        clock = time.monotonic()
        try:
            reply = await http.post(f"{root}/start_profile", json={"profile_prefix": prefix})
        except httpx.HTTPError as exc:
            raise ProfileError(f"{root}: start_profile failed ({type(exc).__name__}: {exc})") from None
        if reply.status_code == 404:
            raise ProfileError(
                f"{root}: no /start_profile: vLLM's profiler is off ({ENABLE_HINT}), or the engine is "
                "not vLLM (llama.cpp's server has no profiler)"
            )
        if reply.status_code != 200:
            raise ProfileError(f"{root}/start_profile: HTTP {reply.status_code}: {reply.text[:200]}")
        options = RequestOptions(max_tokens=request.tokens, temperature=0.0, seed=1234, ignore_eos=True)
        messages = [{"role": "user", "content": prompt}]
        async with OpenAIStreamClient(
            root, model, api_key, request.batch, Timeouts(first_token_s=600.0)
        ) as client:
            try:
                outcomes = await asyncio.gather(
                    *(client.stream_chat(messages, options) for _ in range(request.batch))
                )
            except BaseException:
                await _stop(
                    http, root, request.stop_timeout_s, quiet=True
                )  # the first error is the one to tell
                raise
        await _stop(http, root, request.stop_timeout_s)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise ProfileError(f"{root}: the profiled request failed: {failed[0].error_detail}")
        trace = await _find_trace(trace_dir, prefix, started, deadline=time.monotonic() + 60.0)
        return Capture(trace, prefix, round(time.monotonic() - clock, 1), tuple(outcomes))


async def _prompt(root: str, model: str, api_key: str | None, request: ProfileRequest) -> str:
    """The request's prompt, grown to `prompt_tokens` in the engine's own count (its /tokenize)."""
    if request.prompt_tokens is None:
        return request.prompt
    client = TriageClient(root, model, api_key, Timeouts())

    async def count(text: str) -> int:
        return len(await client.tokenize_chat([{"role": "user", "content": text}]))

    try:
        prompt, got = await prompt_of_tokens(count, request.prompt_tokens, request.prompt)
    except (TriageRequestError, PromptLengthError) as exc:
        raise ProfileError(f"{root}: a {request.prompt_tokens}-token prompt: {exc}") from None
    finally:
        await client.aclose()
    if got != request.prompt_tokens:
        raise ProfileError(
            f"{root}: a prompt of exactly {request.prompt_tokens} tokens cannot be made ({got} is the closest)"
        )
    return prompt


async def _warm_up(root: str, model: str, api_key: str | None, prompt: str) -> None:
    """One short unprofiled request first: a fresh engine's first call pays one-time costs."""
    async with OpenAIStreamClient(root, model, api_key, 1, Timeouts(first_token_s=600.0)) as client:
        outcome = await client.stream_chat(
            [{"role": "user", "content": prompt}], RequestOptions(max_tokens=4)
        )
    if not outcome.ok:
        raise ProfileError(f"{root}: the warm-up request failed: {outcome.error_detail}")


async def _stop(http: httpx.AsyncClient, root: str, timeout_s: float, quiet: bool = False) -> None:
    """/stop_profile; `quiet` after another error (that one is reported, not this)."""
    try:
        stop = await http.post(f"{root}/stop_profile", timeout=timeout_s)
    except httpx.HTTPError as exc:
        if quiet:
            return
        raise ProfileError(f"{root}: stop_profile failed ({type(exc).__name__}: {exc})") from None
    if stop.status_code != 200 and not quiet:
        raise ProfileError(f"{root}/stop_profile: HTTP {stop.status_code}: {stop.text[:200]}")


async def _find_trace(trace_dir: Path, prefix: str, since: float, deadline: float) -> Path:
    """The newest trace the worker wrote for `prefix` since the capture started (rank 0's)."""
    while True:
        found = [
            p
            for p in trace_dir.glob(f"{prefix}*.pt.trace.json*")
            if p.stat().st_mtime >= since - 1 and "rank0" in p.name
        ]
        if found:
            return max(found, key=lambda p: p.stat().st_mtime)
        if time.monotonic() > deadline:
            raise ProfileError(
                f"{trace_dir}: no trace named {prefix}*.pt.trace.json* appeared after stop_profile"
            )
        await asyncio.sleep(0.5)


def profiler_dir(extra_args: tuple[str, ...]) -> Path | None:
    """The torch_profiler_dir an engine's `--profiler-config JSON` (or `--profiler-config=JSON`)
    writes to; None when its arguments turn no profiler on."""
    for i, arg in enumerate(extra_args):
        text = None
        if arg == "--profiler-config" and i + 1 < len(extra_args):
            text = extra_args[i + 1]
        elif arg.startswith("--profiler-config="):
            text = arg.partition("=")[2]
        if text is None:
            continue
        try:
            config = json.loads(text)
        except json.JSONDecodeError:
            return None
        folder = config.get("torch_profiler_dir") if isinstance(config, dict) else None
        return Path(folder) if isinstance(folder, str) and folder else None
    return None


async def analyse_trace(path: Path) -> ComputeProfile:
    """The trace's profile, computed in a child process (io/trace_worker.py): a 200-token trace
    holds ~1e6 ops, and parsing its JSON holds the GIL, which in a thread would stall the console,
    the samplers and the session's loop for seconds. A trace it cannot read is a TraceError."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quanttui.io.trace_worker", str(path),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await process.communicate()
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        why = err.decode("utf-8", "replace").strip().splitlines()
        raise TraceError(why[-1] if why else f"{path}: the trace analysis exited with {process.returncode}")
    profile = pickle.loads(out)  # our own child's reply on a pipe (as the load workers' frames)
    if not isinstance(profile, ComputeProfile):
        raise TraceError(f"{path}: the trace analysis returned no profile")
    return profile


async def profile_variant(
    name: str,
    precision: str,
    url: str,
    model: str,
    trace_dir: Path,
    request: ProfileRequest,
    traces_out: Path,
    weights: int | None,
    progress: Callable[[str], None],
    bandwidth_gbps: float | None = None,
    api_key: str | None = None,
) -> ProfiledVariant:
    """Capture, keep the trace as `traces_out/<name>-<UTC time>.pt.trace.json[.gz]`, analyse."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    progress(f"profile: {name}: {request.batch} x {request.tokens} tokens on {url} ...")
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", name)
    try:
        capture = await capture_profile(url, model, trace_dir, f"quanttui-{safe}-{stamp}", request, api_key)
        profile = await analyse_trace(capture.trace)
    except (ProfileError, TraceError) as exc:
        raise ProfileError(f"{name}: {exc}") from None
    traces_out.mkdir(parents=True, exist_ok=True)
    kept = traces_out / f"{name}-{stamp}.pt.trace.json{'.gz' if capture.trace.suffix == '.gz' else ''}"
    if capture.trace.resolve().is_relative_to(traces_out.resolve().parent):
        shutil.move(capture.trace, kept)  # our own engine's folder in the run: one copy is enough
    else:
        shutil.copy2(capture.trace, kept)  # an attached engine's folder is not ours to empty
    size = kept.stat().st_size
    progress(f"profile: {name}: trace {kept.name} ({size / 1e6:.1f} MB), captured in {capture.seconds:.0f} s")
    return ProfiledVariant(
        name, precision, profile, kept.name, capture.seconds, size, weights, bandwidth_gbps
    )


def profiler_args(trace_dir: Path, cuda: bool = False) -> tuple[str, ...]:
    """vLLM's flag for the torch profiler writing into `trace_dir` (absolute), without Python
    stacks (they make traces several times larger) and without the front end's own trace."""
    config = {
        "profiler": "torch",
        "torch_profiler_dir": str(trace_dir.resolve()),
        "torch_profiler_with_stack": False,
        "ignore_frontend": True,
    }
    if cuda:
        config["torch_profiler_activities"] = ["CPU", "CUDA"]
    return ("--profiler-config", json.dumps(config, separators=(",", ":")))


def with_profiler(variants: list[VariantConfig], out: Path) -> list[VariantConfig]:
    """The vLLM variants with the profiler on, each writing into out/profiler/<name>/ (it costs
    nothing until /start_profile; the console's Compute screen profiles them on request)."""
    changed = []
    for v in variants:
        if v.engine == "vllm" and profiler_dir(v.extra_args) is None:  # its own flag is kept
            trace_dir = out / "profiler" / v.name
            trace_dir.mkdir(parents=True, exist_ok=True)
            v = replace(v, extra_args=(*v.extra_args, *profiler_args(trace_dir)))
        changed.append(v)
    return changed
