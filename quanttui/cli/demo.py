"""`quanttui demo [prepare]`: the embedded default, on real vLLM-CPU engines or simulated ones."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from quanttui.cli.common import (
    EXIT_OK,
    UsageError,
    console_wanted,
    launched_exit,
    print_summary,
    run_async,
    run_console,
    stderr,
)
from quanttui.cli.out_dir import add_out_options, run_folder
from quanttui.cli.plan_options import (
    add_workload_options,
    check_history,
    default_prompts,
    tokenizer_folder,
    workload_fields,
)
from quanttui.core.loadplan import LoadPlan, Schedule, parse_slo
from quanttui.session import (
    SessionResult,
)


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job on its embedded default (no GPU needed)")
    p.add_argument(
        "action", nargs="?", choices=["run", "prepare"], default="run",
        help="run (default): prepare if needed, launch, sweep, stop; prepare: build the demo models only",
    )  # fmt: skip
    p.add_argument(
        "--backend", choices=["vllm-cpu", "sim"], default="vllm-cpu",
        help="vllm-cpu: real vLLM on the CPU with real BF16 and AWQ models; sim: simulated engines",
    )  # fmt: skip
    p.add_argument(
        "--data-dir", type=Path, help="venvs and models (default: $QUANTTUI_DATA_DIR or ~/.cache/quanttui)"
    )
    p.add_argument(
        "--quality", action="store_true", help="prepare: also measure each 4-bit model against BF16"
    )
    p.add_argument(
        "--all", action="store_true",
        help="four variants: BF16, AWQ and GPTQ on vLLM, and the GGUF on llama.cpp's server "
        "(prepare: also build llama.cpp, a compile of ~5.5 min)",
    )  # fmt: skip
    p.add_argument(
        "--slo",
        metavar="BOUNDS",
        help="e.g. e2e_p95<=3000 (default: derived from bf16's single-user latency)",
    )
    p.add_argument(
        "--schedule", choices=["simultaneous", "alternate"], help="default: alternate (one variant at a time)"
    )
    p.add_argument("--trials", type=int, metavar="N", help="repeat the ramp N times, order alternated")
    p.add_argument(
        "--confidence", type=float, metavar="C", help="family-wise confidence of the verdict (0.95)"
    )
    add_workload_options(p)
    p.add_argument("--max-step-requests", type=int, metavar="N", help="adaptive step cap in requests")
    p.add_argument("--max-step-seconds", type=float, metavar="S", help="adaptive step cap in seconds")
    add_out_options(p, "quanttui-demo")
    p.add_argument(
        "--headless", action="store_true", help="no console: progress on stderr, summary on stdout"
    )
    p.add_argument("--json", action="store_true", help="print one JSON summary object on stdout")


def cmd_demo(args: argparse.Namespace) -> int:
    from quanttui.demo.paths import demo_paths

    paths = demo_paths(args.data_dir)
    if args.action == "prepare" or args.backend == "vllm-cpu":
        from quanttui.demo.prepare import PrepareError, prepare_demo_models

        try:
            prepared = prepare_demo_models(paths.root, stderr, with_quality=args.quality, with_gguf=args.all)
        except PrepareError as exc:
            raise UsageError(f"{exc} (the simulated engines need nothing: --backend sim)") from None
        if args.action == "prepare":
            print(json.dumps(prepared.to_dict(), indent=2, sort_keys=True))
            return EXIT_OK
    from quanttui.demo.names import demo_names

    names = demo_names(args.all)
    # Bad values (the plan's, --history's, --tokenizer's): exit 2 before any folder exists.
    checked = _plan_with_overrides(LoadPlan(concurrencies=(1,)), args)
    check_history(checked, default_prompts(args.workload)[0])
    tokenizer = tokenizer_folder("--tokenizer", args.tokenizer)
    out = run_folder(args)
    stderr(f"quanttui demo: writing into {out}")
    if args.backend == "sim":
        from quanttui.demo.sim import SIM_HEADER, sim_config, sim_variants

        config, variants, header = sim_config(out), sim_variants(names), SIM_HEADER
    else:
        from quanttui.demo.cpu import demo_config, demo_header, demo_variants

        config, header = demo_config(out, names), demo_header(paths)
        variants = demo_variants(paths, names)
    plan = _plan_with_overrides(config.plan, args)
    prompts, source = default_prompts(args.workload, plan.own_history)
    config = replace(config, plan=plan, prompts_source=source, tokenizer=tokenizer)
    if console_wanted(args):
        if args.backend != "sim":  # the Compute screen (g) profiles the engines on request
            from quanttui.io.profile_capture import with_profiler

            variants = with_profiler(variants, out)
        from quanttui.session import LiveSession

        session = LiveSession(config, prompts, variants, autostart=True, extra_header=header)
        return run_console(session, out)
    from quanttui.session import run_launched_sweep

    if args.backend == "sim":
        what = "BF16, AWQ, GPTQ and GGUF" if args.all else "BF16 and AWQ"
        stderr(f"quanttui demo: simulated {what} engines (vLLM wire format, simulator timings)")
    elif args.all:
        stderr(
            "quanttui demo: SmolLM2-135M-Instruct in BF16, AWQ and GPTQ (4-bit, group 64) on "
            "vLLM-CPU, and its GGUF (Q4_1) on llama.cpp's server"
        )
    else:
        stderr("quanttui demo: vLLM-CPU engines, SmolLM2-135M-Instruct in BF16 and AWQ (4-bit, group 64)")
    stderr(f"quanttui demo: {config.plan.schedule.value} schedule, {config.plan.describe_length()}")
    result: SessionResult = run_async(
        run_launched_sweep(variants, config, prompts, stderr, extra_header=header)
    )
    stderr(f"wrote {result.csv} and {result.recording}")
    print_summary(result.summary, args.json)
    return launched_exit(result.summary, result.interrupted)


# The demo engines' context is 512 tokens (demo/cpu.py): long-prefill steps that fit with the answer.
DEMO_INPUT_LENGTHS = (64, 128, 256, 448)
DEMO_PREFIX_TOKENS = 256


def _plan_with_overrides(plan: LoadPlan, args: argparse.Namespace) -> LoadPlan:
    """The demo's plan with what the operator gave on the command line; one line, exit 2, if bad."""
    changes: dict[str, object] = {}
    try:
        if args.slo:
            try:
                changes["slo"] = parse_slo(args.slo)
            except ValueError as exc:
                raise UsageError(f"--slo: {exc}") from None
        if args.schedule:
            changes["schedule"] = Schedule(args.schedule)
        for name in ("trials", "confidence", "max_step_requests", "max_step_seconds"):
            if getattr(args, name) is not None:
                changes[name] = getattr(args, name)
        workload_flags = (
            args.rate, args.workload != "chat", args.input_lengths, args.arrivals, args.max_concurrency,
            args.output_tokens, args.input_tokens, args.history, args.prefix_tokens, args.burstiness,
        )  # fmt: skip
        if any(workload_flags):
            if args.workload == "long-prefill" and not args.input_lengths and args.backend == "vllm-cpu":
                args.input_lengths = ",".join(map(str, DEMO_INPUT_LENGTHS))  # within its 512-token window
            if args.workload == "shared-prefix" and not args.prefix_tokens and args.backend == "vllm-cpu":
                args.prefix_tokens = DEMO_PREFIX_TOKENS
            steps = args.rate or args.input_lengths or args.workload == "long-prefill"
            concurrency = None if steps else ",".join(map(str, plan.concurrencies))  # the demo's own ramp
            changes |= workload_fields(args, concurrency)
        return replace(plan, **changes)  # type: ignore[arg-type]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
