"""`quanttui profile`: one profiled generation per variant, analysed side by side (issue 18).

    quanttui profile --demo
    quanttui profile --config session.toml
    quanttui profile --endpoint bf16=http://127.0.0.1:8001 --endpoint awq=http://127.0.0.1:8002 \\
        --trace-dir bf16=/tmp/prof-bf16 --trace-dir awq=/tmp/prof-awq [--model-dir bf16=DIR ...]

`--demo` launches the demo's BF16 and AWQ vLLM-CPU engines with the profiler on and stops them
after. With --endpoint, each engine must run with vLLM's profiler on, writing into the folder
given by --trace-dir (on this machine). Writes compute_graphs.md, compute.json and traces/<variant>-<UTC time>.pt.trace.json.gz
and recording.jsonl (the profiles as events: `quanttui replay` shows them on the Compute screen,
`quanttui report` writes compute_graphs.md from it) into the run's folder; prints where. Exit 3 when
a variant could not be profiled (the reason is in compute_graphs.md and on stderr).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from quanttui.cli.common import (
    EXIT_NO_COMPARISON,
    EXIT_OK,
    UsageError,
    endpoint_pairs,
    pairs,
    positive,
    run_async,
    stderr,
)
from quanttui.cli.out_dir import add_out_options, run_folder
from quanttui.core.events import EndpointInfo
from quanttui.core.fold import SessionFold
from quanttui.core.literal import safe_text
from quanttui.core.secrets import Secrets
from quanttui.io.config import ConfigError, VariantConfig, load_config
from quanttui.io.hardware import memory_bandwidth, weights_bytes
from quanttui.io.openai_client import EndpointError, OpenAIStreamClient
from quanttui.io.profile_capture import PROMPT, ProfileError, ProfileRequest, with_profiler
from quanttui.io.report_files import write_compute
from quanttui.session.profiling import (
    ProfileRecording,
    ProfileTarget,
    describe,
    profile_launched,
    run_profiles,
)
from quanttui.session.spec import read_api_key


def add_profile(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("profile", help="profile one generation per variant: where the time goes, op by op")
    p.add_argument(
        "--demo", action="store_true", help="launch the demo's BF16 and AWQ engines with the profiler"
    )
    p.add_argument("--data-dir", default=None, help="the demo's data directory (default ~/.cache/quanttui)")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="launch the session file's variants with the profiler on (as `quanttui run` does)")  # fmt: skip
    p.add_argument("--endpoint", action="append", metavar="NAME=URL", help="once per variant")
    p.add_argument("--trace-dir", action="append", metavar="NAME=DIR",
                   help="the engine's torch_profiler_dir (its --profiler-config), on this machine")  # fmt: skip
    p.add_argument(
        "--model", action="append", metavar="NAME=ID", help="served model id (default: the first listed)"
    )
    p.add_argument("--model-dir", action="append", metavar="NAME=DIR",
                   help="the model's folder: its *.safetensors size is the weight bytes a decode step reads")  # fmt: skip
    p.add_argument(
        "--precision", action="append", metavar="NAME=P", help="bf16, awq, gptq ... (default: the name)"
    )
    p.add_argument(
        "--tokens", type=int, default=200, help="output tokens of the profiled request (default 200)"
    )
    p.add_argument("--batch", type=int, default=1, help="concurrent identical requests (decode under load)")
    p.add_argument("--prompt", default=None, help="the prompt (default: a short question)")
    p.add_argument("--prompt-tokens", type=int, default=None, metavar="N",
                   help="grow the prompt to exactly N tokens (the engine's count, chat template included)")  # fmt: skip
    p.add_argument(
        "--stop-timeout", type=positive, default=600.0, help="s to wait for the trace to be written"
    )
    p.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the engines' API key")
    add_out_options(p, "quanttui-profile")


def _request(args: argparse.Namespace) -> ProfileRequest:
    if args.tokens < 1 or args.batch < 1:
        raise UsageError("--tokens and --batch must be at least 1")
    if args.prompt_tokens is not None and args.prompt_tokens < 1:
        raise UsageError("--prompt-tokens must be at least 1")
    return ProfileRequest(
        tokens=args.tokens, batch=args.batch, prompt=args.prompt or PROMPT, prompt_tokens=args.prompt_tokens,
        stop_timeout_s=args.stop_timeout,
    )  # fmt: skip


@dataclass(frozen=True)
class _Targets:
    """The --endpoint form's arguments, checked before any folder is made."""

    endpoints: dict[str, str]
    dirs: dict[str, str]
    models: dict[str, str]
    weights: dict[str, int]
    precisions: dict[str, str]


def _targets(args: argparse.Namespace) -> _Targets:
    endpoints = endpoint_pairs(args.endpoint)
    dirs = pairs(args.trace_dir, "--trace-dir")
    missing = sorted(set(endpoints) - set(dirs))
    if missing:
        raise UsageError(f"--trace-dir: none given for {', '.join(missing)}")
    weights = {}
    for name, folder in pairs(args.model_dir, "--model-dir").items():
        found = weights_bytes(folder)
        if found is None:
            raise UsageError(f"--model-dir {folder}: no weight files (*.safetensors, *.bin, *.gguf) there")
        weights[name] = found
    return _Targets(
        endpoints, dirs, pairs(args.model, "--model"), weights, pairs(args.precision, "--precision")
    )


async def _profile_endpoints(
    targets: _Targets,
    out: Path,
    request: ProfileRequest,
    recording: ProfileRecording,
    api_key: str | None,
    progress: Callable[[str], None],
) -> int:
    bound, _ = memory_bandwidth(None)  # the engines run here: this host's bound (NVML, else a measured copy)
    profile_targets = []
    for name, url in targets.endpoints.items():
        model = targets.models.get(name)
        if model is None:
            try:
                async with OpenAIStreamClient(url, "", api_key) as client:
                    model = (await client.list_models())[0]
            except EndpointError as exc:
                raise ProfileError(f"{name}: {exc}") from None
        precision = targets.precisions.get(name, name)
        recording.publish(
            EndpointInfo(t=recording.clock.now(), variant=name, url=url, model=model, precision=precision)
        )
        profile_targets.append(
            ProfileTarget(
                name, precision, url, model, Path(targets.dirs[name]), None, targets.weights.get(name)
            )
        )
    return await run_profiles(
        profile_targets, request, out / "traces", recording.publish, recording.clock, progress, bound, api_key
    )


async def _profile_demo(
    args: argparse.Namespace,
    out: Path,
    request: ProfileRequest,
    recording: ProfileRecording,
    progress: Callable[[str], None],
) -> int:
    from quanttui.demo.paths import demo_paths
    from quanttui.demo.prepare import PrepareError, prepare_demo_models
    from quanttui.demo.profile import profile_demo

    paths = demo_paths(args.data_dir)
    try:
        prepare_demo_models(paths.root, stderr)
    except PrepareError as exc:
        raise UsageError(str(exc)) from None
    return await profile_demo(paths, out, request, progress, recording)


def _config_variants(path: Path) -> list[VariantConfig]:
    try:
        variants = list(load_config(path).variants)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if any(v.urls for v in variants):
        raise UsageError(
            f"{path}: its variants are attached (urls): profile running engines with "
            "--endpoint NAME=URL --trace-dir NAME=DIR"
        )
    return variants


async def _profile(
    args: argparse.Namespace,
    targets: _Targets | None,
    variants: list[VariantConfig] | None,
    out: Path,
    request: ProfileRequest,
    api_key: str | None,
) -> tuple[int, SessionFold]:
    """The run on its recording; the recording is complete however the run ends."""
    header: dict[str, object] = {"command": "profile", "profile": describe(request)}
    if variants is not None:
        variants = with_profiler(variants, out)  # the header shows the command lines as launched
        header["variants"] = [v.public() for v in variants]
    launched = variants or []
    secrets = Secrets.collect(api_key, [v.argv() for v in launched], [v.env for v in launched])
    recording = ProfileRecording(out, header, secrets)

    def progress(line: str) -> None:  # server text: secrets masked, escapes made visible
        stderr(safe_text(secrets.scrub(line)))

    try:
        if targets is not None:
            captured = await _profile_endpoints(targets, out, request, recording, api_key, progress)
        elif variants is not None:
            captured = await profile_launched(variants, out, request, progress, recording, api_key)
        else:
            captured = await _profile_demo(args, out, request, recording, progress)
    finally:
        fold = await recording.close()
    return captured, fold


def cmd_profile(args: argparse.Namespace) -> int:
    if [bool(args.demo), bool(args.endpoint), args.config is not None].count(True) != 1:
        raise UsageError(
            "give --demo, --config FILE or --endpoint NAME=URL (with --trace-dir NAME=DIR), one of them"
        )
    request = _request(args)
    targets = _targets(args) if args.endpoint else None  # bad values: exit 2 before any folder exists
    variants = _config_variants(args.config) if args.config is not None else None
    try:
        api_key = read_api_key(args.api_key_env)
    except EndpointError as exc:
        raise UsageError(str(exc)) from None
    out = run_folder(args)
    try:
        captured, fold = run_async(_profile(args, targets, variants, out, request, api_key))
    except ProfileError as exc:
        raise UsageError(safe_text(str(exc))) from None
    written = write_compute(fold, out)
    data = [asdict(v) for v in fold.compute.variants(tuple(fold.aggregator.variants))]
    (out / "compute.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    for name in fold.compute.unavailable:
        stderr(safe_text(f"profile: {name}: {fold.compute.problem(name)}"))
    print(
        f"wrote {written}, {out / 'compute.json'}, {out / 'recording.jsonl'} and {captured} traces in {out / 'traces'}"
    )
    return EXIT_OK if captured == len(fold.aggregator.variants) else EXIT_NO_COMPARISON
