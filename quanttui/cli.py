"""Command line: `quanttui sweep|attach|run|replay|demo ...`.

The headless commands are a contract for scripts: results on stdout (JSON with --json),
progress on stderr, exit 0 when the work ran, 2 with one line on stderr for bad input or an
endpoint unreachable at start, 128+N when stopped by signal N (130 for Ctrl-C; partial results are
still written).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from quanttui import __version__
from quanttui.core.loadplan import LoadPlan, Slo, SloMetric
from quanttui.core.prompts import DEFAULT_PROMPTS, Prompt
from quanttui.core.recording import RecordingError
from quanttui.io.config import ConfigError, VariantConfig, load_config
from quanttui.io.openai_client import EndpointError, RequestOptions, Timeouts, split_base_url
from quanttui.io.prompt_file import PromptFileError, load_prompts
from quanttui.io.signals import on_stop_signals
from quanttui.session import (
    EndpointSpec,
    SessionResult,
    SweepConfig,
    replay_headless,
    run_launched_sweep,
    run_sweep,
)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input; printed as one line and exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        if name in pairs:
            raise UsageError(f"{flag}: {name!r} given twice")
        pairs[name.strip()] = value.strip()
    return pairs


def _concurrencies(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(
            f"--concurrency {text!r}: expected integers separated by commas, e.g. 1,2,4,8"
        ) from None
    if not values:
        raise UsageError("--concurrency: at least one value is needed")
    return values


def build_sweep_config(args: argparse.Namespace) -> SweepConfig:
    endpoints = _pairs(args.endpoint, "--endpoint")
    if not endpoints:
        raise UsageError("--endpoint NAME=URL is required (give it once per variant)")
    models = _pairs(args.model, "--model")
    precisions = _pairs(args.precision, "--precision")
    for flag, mapping in (("--model", models), ("--precision", precisions)):
        unknown = sorted(set(mapping) - set(endpoints))
        if unknown:
            raise UsageError(f"{flag} {unknown[0]}=...: no --endpoint named {unknown[0]!r}")
    specs = []
    for name, url in endpoints.items():
        try:
            split_base_url(url)
        except ValueError as exc:
            raise UsageError(f"--endpoint {name}: {exc}") from None
        specs.append(EndpointSpec(name, url, models.get(name), precisions.get(name)))
    try:
        slo = Slo(args.slo_p95_ms, SloMetric(args.slo_metric)) if args.slo_p95_ms is not None else None
        plan = LoadPlan(
            concurrencies=_concurrencies(args.concurrency),
            requests_per_step=args.requests_per_step,
            step_seconds=args.step_seconds,
            warmup_requests=args.warmup_requests,
            slo=slo,
            max_error_rate=args.max_error_rate,
        )
        timeouts = Timeouts(
            connect_s=args.connect_timeout,
            first_token_s=args.first_token_timeout,
            idle_s=args.idle_timeout,
            total_s=args.request_timeout,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.max_tokens < 1:
        raise UsageError(f"--max-tokens must be >= 1, got {args.max_tokens}")
    options = RequestOptions(
        max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed, ignore_eos=args.ignore_eos
    )
    return SweepConfig(
        endpoints=tuple(specs),
        plan=plan,
        options=options,
        timeouts=timeouts,
        out_dir=Path(args.out),
        prompts_source=str(args.prompts) if args.prompts else "embedded default",
        api_key_env=args.api_key_env,
        scrape_interval_s=args.scrape_interval,
    )


def run_config_from_file(path: Path, out_dir: Path) -> tuple[list[VariantConfig], SweepConfig, list[Prompt]]:
    """The variants and the load of a session file, with the same defaults as `quanttui sweep`."""
    session = load_config(path)
    load = session.load
    try:
        slo_ms = load.get("slo_p95_ms")
        plan = LoadPlan(
            concurrencies=tuple(int(c) for c in load.get("concurrency", [1, 2, 4, 8])),
            requests_per_step=load.get("requests_per_step", None if "step_seconds" in load else 32),
            step_seconds=load.get("step_seconds"),
            warmup_requests=load.get("warmup_requests", 0),
            slo=Slo(float(slo_ms), SloMetric(load.get("slo_metric", "e2e"))) if slo_ms else None,
            max_error_rate=float(load.get("max_error_rate", 0.5)),
        )
        options = RequestOptions(
            max_tokens=load.get("max_tokens", 128),
            temperature=float(load.get("temperature", 0.0)),
            seed=load.get("seed"),
            ignore_eos=load.get("ignore_eos", False),
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: field 'load': {exc}") from None
    prompts_file = load.get("prompts")
    prompts = load_prompts(path.parent / prompts_file) if prompts_file else list(DEFAULT_PROMPTS)
    config = SweepConfig(
        endpoints=(),
        plan=plan,
        options=options,
        timeouts=Timeouts(),
        out_dir=out_dir,
        prompts_source=prompts_file or "embedded default",
    )
    return list(session.variants), config, prompts


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="launch the engines of a session file, sweep them, stop them")
    p.add_argument(
        "--config", type=Path, required=True, metavar="FILE", help="session TOML ([variants.*], [load])"
    )
    p.add_argument("--out", default="quanttui-run", metavar="DIR")
    p.add_argument(
        "--headless", action="store_true", help="no console: progress on stderr, summary on stdout"
    )
    p.add_argument(
        "--autostart", action="store_true", help="console: start the ramp once the engines are ready"
    )
    p.add_argument("--json", action="store_true", help="print one JSON summary object on stdout")


def _console_wanted(args: argparse.Namespace) -> bool:
    """The console needs a terminal; without one (scripts, CI) the headless form runs."""
    return not args.headless and sys.stdin.isatty() and sys.stdout.isatty()


def _run_console(session: Any, out_dir: Path) -> int:
    from quanttui.ui.run import run_console

    return run_console(session, out_dir)


def cmd_run(args: argparse.Namespace) -> int:
    variants, config, prompts = run_config_from_file(args.config, Path(args.out))
    if _console_wanted(args):
        from quanttui.console_session import LiveConsoleSession

        return _run_console(
            LiveConsoleSession(config, prompts, variants, autostart=args.autostart), Path(args.out)
        )
    result: SessionResult = _run_async(run_launched_sweep(variants, config, prompts, _stderr))
    _stderr(f"wrote {result.csv} and {result.recording}")
    _print_summary(result.summary, args.json)
    return _interrupted_code() if result.interrupted else EXIT_OK


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="headless concurrency ramp against running endpoints")
    p.add_argument("--endpoint", action="append", metavar="NAME=URL", help="a variant to drive (repeat)")
    _add_load_options(p, console=False)


def _add_attach(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attach", help="the console on running endpoints (the ramp starts with `s`)")
    p.add_argument("endpoint", nargs="+", metavar="NAME=URL", help="a variant to drive")
    _add_load_options(p, console=True)


def _add_load_options(p: argparse.ArgumentParser, console: bool) -> None:
    """The load options shared by `sweep` (all explicit: a script's contract) and `attach` (defaults)."""
    p.add_argument(
        "--model", action="append", metavar="NAME=ID", help="model id (default: first of /v1/models)"
    )
    p.add_argument("--precision", action="append", metavar="NAME=P", help="label, e.g. bf16 or awq")
    p.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key")
    p.add_argument(
        "--concurrency",
        required=not console,
        default="1,2,4,8",
        metavar="LIST",
        help="ramp steps, e.g. 1,2,4,8",
    )
    steps = p.add_mutually_exclusive_group(required=not console)
    steps.add_argument("--requests-per-step", type=int, metavar="N")
    steps.add_argument("--step-seconds", type=float, metavar="S")
    p.add_argument("--warmup-requests", type=int, default=0, metavar="N", help="extra per step, not counted")
    p.add_argument("--max-tokens", type=int, required=not console, default=128, metavar="N")
    p.add_argument("--ignore-eos", action="store_true", help="fixed output length (vLLM extension)")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--prompts", type=Path, metavar="FILE", help=".jsonl or .txt (default: embedded set)")
    p.add_argument("--slo-p95-ms", type=float, metavar="MS", help="stop a variant whose p95 exceeds this")
    p.add_argument("--slo-metric", choices=[m.value for m in SloMetric], default="e2e")
    p.add_argument("--max-error-rate", type=float, default=0.5, metavar="F", help="stop a variant above this")
    p.add_argument("--request-timeout", type=float, default=None, metavar="S", help="ceiling per request")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="S")
    p.add_argument("--first-token-timeout", type=float, default=120.0, metavar="S")
    p.add_argument("--idle-timeout", type=float, default=60.0, metavar="S", help="longest gap between chunks")
    p.add_argument("--scrape-interval", type=float, default=1.0, metavar="S", help="/metrics poll period")
    p.add_argument("--out", required=not console, default="quanttui-attach", metavar="DIR")
    p.add_argument("--json", action="store_true", help="print one JSON summary object on stdout")


def _add_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay a recording")
    p.add_argument("file", type=Path)
    p.add_argument("--headless", action="store_true", help="no UI: print the run's summary")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--speed", type=float, default=1.0, help="console: x real time (0: as fast as possible)")


def _add_demo(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--out", default="quanttui-demo", metavar="DIR")
    p.add_argument(
        "--headless", action="store_true", help="no console: progress on stderr, summary on stdout"
    )
    p.add_argument("--json", action="store_true", help="print one JSON summary object on stdout")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="quanttui", description="BF16 vs INT4 serving console for vLLM")
    parser.add_argument("--version", action="version", version=f"quanttui {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_sweep(sub)
    _add_replay(sub)
    _add_demo(sub)
    _add_run(sub)
    _add_attach(sub)
    return parser


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, sort_keys=True))
        return
    print(f"sweep: {summary['sweep']['reason']}, {summary['sweep']['steps']} steps, "
          f"{summary['sweep']['duration_s']:.1f} s")  # fmt: skip
    for v in summary["variants"]:
        knee = v["max_conc_meeting_slo"]
        print(
            f"{v['name']} ({v['precision'] or '?'}, {v['model']}): {v['requests']} requests, {v['errors']} errors, "
            f"peak {v['peak_tok_s'] or 0:.1f} tok/s"
            + (f", max concurrency within SLO {knee}" if knee else "")
        )
    for row in summary["steps"]:
        print(
            f"  {row['variant']:<12} conc {row['conc']:>4}  tok/s {row['tok_s'] or 0:>8.1f}  "
            f"p50 {row['p50_ms'] or 0:>8.1f} ms  p95 {row['p95_ms'] or 0:>8.1f} ms  errors {row['errors']}"
        )


class _Interrupted:
    """Which signal interrupted the run, if any (SIGINT arrives as KeyboardInterrupt/cancel)."""

    signum: int | None = None


async def _cancel_on_signals(coro: Any) -> Any:
    """Run `coro` as a task that SIGTERM and SIGHUP cancel, so a killed session still writes its files."""
    task = asyncio.ensure_future(coro)

    def cancel(signum: int) -> None:
        _Interrupted.signum = signum
        task.cancel()

    with on_stop_signals(cancel):
        return await task


def _run_async(coro: Any) -> Any:
    return asyncio.run(_cancel_on_signals(coro))


def _interrupted_code() -> int:
    return 128 + _Interrupted.signum if _Interrupted.signum else EXIT_INTERRUPTED


def cmd_sweep(args: argparse.Namespace) -> int:
    config = build_sweep_config(args)
    prompts = load_prompts(args.prompts) if args.prompts else list(DEFAULT_PROMPTS)
    result: SessionResult = _run_async(run_sweep(config, prompts, _stderr))
    _stderr(f"wrote {result.csv} and {result.recording}")
    _print_summary(result.summary, args.json)
    return _interrupted_code() if result.interrupted else EXIT_OK


def cmd_attach(args: argparse.Namespace) -> int:
    if args.requests_per_step is None and args.step_seconds is None:
        args.requests_per_step = 32
    config = build_sweep_config(args)
    prompts = load_prompts(args.prompts) if args.prompts else list(DEFAULT_PROMPTS)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the console needs a terminal; `quanttui sweep` is the headless form")
    from quanttui.console_session import LiveConsoleSession

    return _run_console(LiveConsoleSession(config, prompts, None, autostart=False), Path(args.out))


def cmd_demo(args: argparse.Namespace) -> int:
    from quanttui.demo.paths import demo_paths

    paths = demo_paths(args.data_dir)
    if args.action == "prepare" or args.backend == "vllm-cpu":
        from quanttui.demo.prepare import PrepareError, prepare_demo_models

        try:
            prepared = prepare_demo_models(paths.root, _stderr, with_quality=args.quality)
        except PrepareError as exc:
            raise UsageError(f"{exc} (the simulated engines need nothing: --backend sim)") from None
        if args.action == "prepare":
            print(json.dumps(prepared.to_dict(), indent=2, sort_keys=True))
            return EXIT_OK
    if _console_wanted(args):
        from quanttui.console_session import LiveConsoleSession

        if args.backend == "sim":
            from quanttui.demo.sim import SIM_HEADER, sim_config, sim_variants

            config, variants, header = sim_config(Path(args.out)), sim_variants(), SIM_HEADER
        else:
            from quanttui.demo.cpu import demo_config, demo_header, demo_variants

            config, variants, header = demo_config(Path(args.out)), demo_variants(paths), demo_header(paths)
        session = LiveConsoleSession(
            config, list(DEFAULT_PROMPTS), variants, autostart=True, extra_header=header
        )
        return _run_console(session, Path(args.out))
    if args.backend == "sim":
        from quanttui.demo.sim import run_sim_demo

        _stderr("quanttui demo: simulated BF16 and AWQ engines (vLLM wire format, simulator timings)")
        result: SessionResult = _run_async(run_sim_demo(Path(args.out), _stderr))
    else:
        from quanttui.demo.cpu import run_cpu_demo

        _stderr("quanttui demo: vLLM-CPU engines, SmolLM2-135M-Instruct in BF16 and AWQ (4-bit, group 64)")
        result = _run_async(run_cpu_demo(paths, Path(args.out), _stderr))
    _stderr(f"wrote {result.csv} and {result.recording}")
    _print_summary(result.summary, args.json)
    return _interrupted_code() if result.interrupted else EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    if not args.headless:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError("the replay console needs a terminal; use --headless")
        if args.speed < 0:
            raise UsageError(f"--speed must be >= 0, got {args.speed}")
        from quanttui.console_session import ReplayConsoleSession

        if not args.file.exists():
            raise UsageError(f"{args.file}: no such file")
        return _run_console(ReplayConsoleSession(args.file, speed=args.speed, hold_at_end=True), Path("."))
    result: SessionResult = _run_async(replay_headless(args.file))
    for warning in result.warnings:
        _stderr(f"warning: {warning}")
    _print_summary(result.summary, args.json)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    handlers = {
        "sweep": cmd_sweep,
        "replay": cmd_replay,
        "demo": cmd_demo,
        "run": cmd_run,
        "attach": cmd_attach,
    }
    try:
        return handlers[args.command](args)
    except (UsageError, EndpointError, PromptFileError, RecordingError, ConfigError) as exc:
        _stderr(f"quanttui {args.command}: error: {exc}")
        return EXIT_USAGE
    except (KeyboardInterrupt, asyncio.CancelledError):
        _stderr(f"quanttui {args.command}: interrupted")
        return _interrupted_code()
