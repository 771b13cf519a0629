"""`quanttui profile`: one profiled generation per variant, analysed side by side (issue 18).

    quanttui profile --endpoint bf16=http://127.0.0.1:8001 --endpoint awq=http://127.0.0.1:8002 \\
        --trace-dir bf16=/tmp/prof-bf16 --trace-dir awq=/tmp/prof-awq [--model-dir bf16=DIR ...]

Each engine must run with vLLM's profiler on, writing into the folder given by --trace-dir (on
this machine). Writes compute_graphs.md, compute.json and traces/<variant>-<UTC time>.pt.trace.json.gz
into the run's folder; prints where.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from quanttui.cli.common import EXIT_OK, UsageError, endpoint_pairs, pairs, positive, run_async, stderr
from quanttui.cli.out_dir import add_out_options, run_folder
from quanttui.core.compute import analyse
from quanttui.core.compute_words import ProfiledVariant, compute_markdown
from quanttui.io.openai_client import OpenAIStreamClient
from quanttui.io.profile_capture import ProfileError, ProfileRequest, capture_profile
from quanttui.io.torch_trace import TraceError, read_trace


def add_profile(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("profile", help="profile one generation per variant: where the time goes, op by op")
    p.add_argument("--endpoint", action="append", required=True, metavar="NAME=URL", help="once per variant")
    p.add_argument("--trace-dir", action="append", required=True, metavar="NAME=DIR",
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
    p.add_argument(
        "--stop-timeout", type=positive, default=600.0, help="s to wait for the trace to be written"
    )
    add_out_options(p, "quanttui-profile")


def _weights(folder: str) -> int:
    path = Path(folder)
    files = list(path.glob("*.safetensors"))
    if not files:
        raise UsageError(f"--model-dir {folder}: no *.safetensors there")
    return sum(f.stat().st_size for f in files)


async def _profile(args: argparse.Namespace, out: Path) -> list[ProfiledVariant]:
    endpoints = endpoint_pairs(args.endpoint)
    dirs = pairs(args.trace_dir, "--trace-dir")
    missing = sorted(set(endpoints) - set(dirs))
    if missing:
        raise UsageError(f"--trace-dir: none given for {', '.join(missing)}")
    models = pairs(args.model, "--model")
    weights = {name: _weights(d) for name, d in pairs(args.model_dir, "--model-dir").items()}
    precisions = pairs(args.precision, "--precision")
    if args.tokens < 1 or args.batch < 1:
        raise UsageError("--tokens and --batch must be at least 1")
    request = ProfileRequest(tokens=args.tokens, batch=args.batch, stop_timeout_s=args.stop_timeout,
                             **({"prompt": args.prompt} if args.prompt else {}))  # fmt: skip
    (out / "traces").mkdir(parents=True, exist_ok=True)
    variants = []
    for name, url in endpoints.items():
        model = models.get(name)
        if model is None:
            async with OpenAIStreamClient(url, "") as client:
                model = (await client.list_models())[0]
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        stderr(f"profile: {name}: {request.batch} x {request.tokens} tokens on {url} ...")
        try:
            capture = await capture_profile(url, model, Path(dirs[name]), f"quanttui-{name}-{stamp}", request)
            trace = read_trace(capture.trace)
        except (ProfileError, TraceError) as exc:
            raise UsageError(f"{name}: {exc}") from None
        kept = (
            out / "traces" / f"{name}-{stamp}.pt.trace.json{'.gz' if capture.trace.suffix == '.gz' else ''}"
        )
        shutil.copy2(capture.trace, kept)
        profile = analyse(trace.ops, trace.steps)
        stderr(
            f"profile: {name}: trace {kept.name} ({kept.stat().st_size / 1e6:.1f} MB) in {capture.seconds:.0f} s"
        )
        variants.append(ProfiledVariant(name, precisions.get(name, name), profile, kept.name, capture.seconds,
                                        kept.stat().st_size, weights.get(name)))  # fmt: skip
    return variants


def cmd_profile(args: argparse.Namespace) -> int:
    out = run_folder(args)
    variants = run_async(_profile(args, out))
    prompt = args.prompt or "the default question"
    request = f"{args.batch} x {args.tokens} output tokens (greedy, ignore_eos), prompt: {prompt}"
    (out / "compute_graphs.md").write_text(compute_markdown(variants, request), encoding="utf-8")
    data = [{**asdict(v), "profile": asdict(v.profile)} for v in variants]
    (out / "compute.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    print(
        f"wrote {out / 'compute_graphs.md'}, {out / 'compute.json'} and {len(variants)} traces in {out / 'traces'}"
    )
    return EXIT_OK
