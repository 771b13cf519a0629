"""`quanttui run --config FILE`: launch the engines of a session file, sweep them, stop them."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from quanttui.cli.common import (
    EXIT_OK,
    UsageError,
    console_wanted,
    interrupted_code,
    launched_exit,
    print_summary,
    run_async,
    run_console,
    stderr,
)
from quanttui.cli.out_dir import add_out_options, run_folder
from quanttui.cli.plan_options import (
    DEFAULT_LAUNCHED_SCHEDULE,
    check_history,
    default_prompts,
    file_prompts_source,
    plan_from_load,
    tokenizer_folder,
)
from quanttui.core.prompts import Prompt
from quanttui.io.config import ConfigError, VariantConfig, load_config
from quanttui.io.limits import load_problem
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.io.prompt_file import load_prompts
from quanttui.session import (
    EndpointSpec,
    SessionResult,
    SweepConfig,
    run_launched_sweep,
    run_sweep,
)


def run_config_from_file(path: Path, out_dir: Path) -> tuple[list[VariantConfig], SweepConfig, list[Prompt]]:
    """The variants and the load of a session file, with the same defaults as `quanttui sweep`."""
    session = load_config(path)
    load = session.load
    try:
        plan = plan_from_load(load, DEFAULT_LAUNCHED_SCHEDULE)
        options = RequestOptions(
            max_tokens=load.get("max_tokens", 128),
            temperature=float(load.get("temperature", 0.0)),
            seed=load.get("seed"),
            ignore_eos=load.get("ignore_eos", False),
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: field 'load': {exc}") from None
    problem = load_problem(plan.max_concurrency, len(session.variants))
    if problem is not None:
        raise ConfigError(f"{path}: field 'load.concurrency': {problem}")
    prompts_file = load.get("prompts")
    prompts, source = default_prompts(load.get("workload", "chat"), plan.own_history)
    if prompts_file:
        prompts = load_prompts(path.parent / prompts_file)
        source = file_prompts_source(prompts_file, prompts, plan.own_history)
    try:
        check_history(plan, prompts)
    except UsageError:
        raise ConfigError(
            f"{path}: field 'load.history': own answers need conversations: workload = \"multi-turn\", "
            "or prompts with conversations"
        ) from None
    try:
        named = Path(load["tokenizer"]).expanduser() if "tokenizer" in load else None
        tokenizer = tokenizer_folder("tokenizer", path.parent / named if named is not None else None)
    except UsageError as exc:
        raise ConfigError(f"{path}: field 'load.tokenizer': {str(exc).removeprefix('tokenizer: ')}") from None
    config = SweepConfig(
        endpoints=attached_endpoints(session.variants),
        plan=plan,
        options=options,
        timeouts=Timeouts(),
        out_dir=out_dir,
        prompts_source=source,
        cost=session.cost,
        hardware=session.hardware,
        load_workers=load.get("load_workers"),
        ray_address=load.get("ray"),
        tokenizer=tokenizer,
        gpu_exporters=tuple(session.telemetry.get("gpu_metrics", {}).items()),
        gpu_map=tuple(session.telemetry.get("gpu_map", ())),
        prometheus=session.telemetry.get("prometheus"),
        prometheus_selector=session.telemetry.get("prometheus_selector", ""),
        prometheus_engines=tuple(session.telemetry.get("engines", {}).items()),
    )
    return list(session.variants), config, prompts


def attached_endpoints(variants: tuple[VariantConfig, ...]) -> tuple[EndpointSpec, ...]:
    """The endpoints of a session file whose variants run elsewhere (`urls`; io/fleet_config.py)."""
    return tuple(
        EndpointSpec(
            v.name,
            v.urls[0],
            v.model or None,
            v.precision or None,
            v.urls if len(v.urls) > 1 else (),
            v.balance,
        )  # fmt: skip
        for v in variants
        if v.urls
    )


def add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="launch the engines of a session file, sweep them, stop them")
    p.add_argument(
        "--config", type=Path, required=True, metavar="FILE", help="session TOML ([variants.*], [load])"
    )
    add_out_options(p, "quanttui-run")
    p.add_argument(
        "--headless", action="store_true", help="no console: progress on stderr, summary on stdout"
    )
    p.add_argument(
        "--autostart", action="store_true", help="console: start the ramp once the engines are ready"
    )
    p.add_argument("--json", action="store_true", help="print one JSON summary object on stdout")


def cmd_run(args: argparse.Namespace) -> int:
    variants, config, prompts = run_config_from_file(args.config, Path("."))
    config = replace(config, out_dir=run_folder(args))  # after the config was found good
    if config.endpoints:  # attached variants (urls): driven where they run, nothing launched
        if console_wanted(args):
            from quanttui.session import LiveSession

            return run_console(LiveSession(config, prompts, None, autostart=args.autostart), config.out_dir)
        attached: SessionResult = run_async(run_sweep(config, prompts, stderr))
        stderr(f"wrote {attached.csv} and {attached.recording}")
        print_summary(attached.summary, args.json)
        return interrupted_code() if attached.interrupted else EXIT_OK
    if console_wanted(args):
        from quanttui.session import LiveSession

        return run_console(LiveSession(config, prompts, variants, autostart=args.autostart), config.out_dir)
    result: SessionResult = run_async(run_launched_sweep(variants, config, prompts, stderr))
    stderr(f"wrote {result.csv} and {result.recording}")
    print_summary(result.summary, args.json)
    return launched_exit(result.summary, result.interrupted)
