"""`quanttui sweep` (headless) and `quanttui attach` (console) on running endpoints, and the load
options they share."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quanttui.cli.common import (
    EXIT_OK,
    UsageError,
    endpoint_pairs,
    finite,
    interrupted_code,
    non_negative,
    pairs,
    positive,
    print_summary,
    run_async,
    run_console,
    stderr,
)
from quanttui.cli.out_dir import add_out_options, run_folder
from quanttui.cli.plan_options import (
    DEFAULT_ATTACHED_SCHEDULE,
    add_slo_options,
    add_step_options,
    add_workload_options,
    check_history,
    default_prompts,
    file_prompts_source,
    plan_from_args,
    slo_from_args,
    tokenizer_folder,
    workload_fields,
)
from quanttui.core.fleet import BALANCE_POLICIES
from quanttui.core.gpu_map import (
    GpuMapError,
    host_name_problem,
    matchers_problem,
    parse_gpu_match,
    url_problem,
)
from quanttui.core.prompts import Prompt
from quanttui.io.limits import load_problem
from quanttui.io.openai_client import RequestOptions, Timeouts, split_base_url
from quanttui.io.prompt_file import load_prompts
from quanttui.session import (
    EndpointSpec,
    SessionResult,
    SweepConfig,
    run_sweep,
)


def build_sweep_config(args: argparse.Namespace, prompts: list[Prompt] | None = None) -> SweepConfig:
    """`prompts`: those the run sends, when already read (its source is worded from them)."""
    endpoints = endpoint_pairs(args.endpoint)
    if not endpoints:
        raise UsageError("--endpoint NAME=URL is required (give it once per variant)")
    models = pairs(args.model, "--model")
    precisions = pairs(args.precision, "--precision")
    for flag, mapping in (("--model", models), ("--precision", precisions)):
        unknown = sorted(set(mapping) - set(endpoints))
        if unknown:
            raise UsageError(f"{flag} {unknown[0]}=...: no --endpoint named {unknown[0]!r}")
    balances = pairs(args.balance, "--balance")
    specs = []
    for name, given in endpoints.items():
        urls = fleet_urls(name, given)
        policy = balances.pop(name, "round-robin")
        if policy not in BALANCE_POLICIES:
            raise UsageError(f"--balance {name}: {policy!r} is not one of {', '.join(BALANCE_POLICIES)}")
        replicas = tuple(urls) if len(urls) > 1 else ()
        specs.append(EndpointSpec(name, urls[0], models.get(name), precisions.get(name), replicas, policy))
    if balances:
        raise UsageError(
            f"--balance {next(iter(balances))}=...: no --endpoint named {next(iter(balances))!r}"
        )
    if (
        args.concurrency is None
        and not args.console
        and not args.rate
        and args.workload == "chat"
        and not args.input_lengths
    ):
        raise UsageError("give the ramp: --concurrency LIST, --rate LIST or --workload long-prefill")
    workload = workload_fields(args, args.concurrency)
    tokenizer = tokenizer_folder("--tokenizer", args.tokenizer)
    exporters, gpu_map = gpu_telemetry(args.gpu_metrics, args.gpu_map, list(endpoints), args.prometheus)
    engines = engine_series(args.prometheus_engine, list(endpoints), args.prometheus)
    selector = args.prometheus_selector
    if selector is not None and (args.prometheus is None or matchers_problem(selector)):
        raise UsageError(f"--prometheus-selector: {matchers_problem(selector) or 'needs --prometheus URL'}")
    try:
        plan = plan_from_args(args, workload, slo_from_args(args), DEFAULT_ATTACHED_SCHEDULE)
        timeouts = Timeouts(
            connect_s=args.connect_timeout,
            first_token_s=args.first_token_timeout,
            idle_s=args.idle_timeout,
            total_s=args.request_timeout,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    problem = load_problem(plan.max_concurrency, len(specs))
    if problem is not None:
        raise UsageError(f"{'--max-concurrency' if plan.rates else '--concurrency'}: {problem}")
    if args.max_tokens < 1:
        raise UsageError(f"--max-tokens must be >= 1, got {args.max_tokens}")
    options = RequestOptions(
        max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed, ignore_eos=args.ignore_eos
    )
    if prompts is None:
        prompts = load_prompts(args.prompts) if args.prompts else default_prompts(args.workload)[0]
    check_history(plan, prompts)
    return SweepConfig(
        endpoints=tuple(specs),
        plan=plan,
        options=options,
        timeouts=timeouts,
        out_dir=run_folder(args),  # last: bad input above writes nothing
        prompts_source=(
            file_prompts_source(args.prompts, prompts, plan.own_history)
            if args.prompts
            else default_prompts(args.workload, plan.own_history)[1]
        ),
        api_key_env=args.api_key_env,
        scrape_interval_s=args.scrape_interval,
        load_workers=args.load_workers,
        ray_address=ray_address(args.ray, args.load_workers),
        tokenizer=tokenizer,
        gpu_exporters=exporters,
        gpu_map=gpu_map,
        prometheus=args.prometheus,
        prometheus_selector=args.prometheus_selector or "",
        prometheus_engines=engines,
    )


def add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="headless concurrency ramp against running endpoints")
    p.add_argument(
        "--endpoint", action="append", metavar="NAME=URL",
        help="a variant to drive (repeat); NAME=URL,URL,... for a fleet of replicas",
    )  # fmt: skip
    add_load_options(p, console=False)


def add_attach(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attach", help="the console on running endpoints (the ramp starts with `s`)")
    p.add_argument("endpoint", nargs="+", metavar="NAME=URL", help="a variant to drive")
    add_load_options(p, console=True)


def add_load_options(p: argparse.ArgumentParser, console: bool) -> None:
    """The load options shared by `sweep` (all explicit: a script's contract) and `attach` (defaults)."""
    p.add_argument(
        "--model", action="append", metavar="NAME=ID", help="model id (default: first of /v1/models)"
    )
    p.add_argument("--precision", action="append", metavar="NAME=P", help="label, e.g. bf16 or awq")
    p.add_argument(
        "--balance", action="append", metavar="NAME=POLICY",
        help="how a fleet's requests spread over its replicas (NAME=URL,URL,...): round-robin "
        "(default) or least-outstanding",
    )  # fmt: skip
    p.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key")
    p.add_argument(
        "--concurrency", metavar="LIST",
        help="closed-loop ramp steps, e.g. 1,2,4,8" + (" (default)" if console else ""),
    )  # fmt: skip
    p.add_argument(
        "--gpu-metrics", action="append", metavar="HOST=URL",
        help="a GPU host's DCGM exporter, e.g. gpu-a=http://10.0.0.5:9400 (repeat per host)",
    )  # fmt: skip
    p.add_argument(
        "--prometheus", metavar="URL",
        help="a Prometheus server that scrapes the GPU hosts' DCGM exporters, e.g. http://prom:9090",
    )  # fmt: skip
    p.add_argument(
        "--prometheus-selector",
        metavar="MATCHERS",
        help="narrow its DCGM series, e.g. 'namespace=\"serving\"'",
    )
    p.add_argument(
        "--prometheus-engine", action="append", metavar="VARIANT=MATCHERS",
        help="read a variant's vllm:* series through --prometheus, e.g. awq='job=\"awq\"' (repeat)",
    )  # fmt: skip
    p.add_argument(
        "--gpu-map", action="append", metavar="VARIANT=SPEC",
        help="which exporter GPUs serve a variant: awq=gpu-a:0,1 (host and indices or UUIDs) or "
        "awq=pod~awq-.* (labels, a regular expression each)",
    )  # fmt: skip
    p.set_defaults(console=console)
    add_workload_options(p)
    add_step_options(p)
    p.add_argument("--max-tokens", type=int, required=not console, default=128, metavar="N")
    p.add_argument("--ignore-eos", action="store_true", help="fixed output length (vLLM extension)")
    p.add_argument("--temperature", type=non_negative, default=0.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--prompts", type=Path, metavar="FILE", help=".jsonl or .txt (default: embedded set)")
    add_slo_options(p)
    p.add_argument(
        "--max-error-rate", type=finite, default=0.5, metavar="F", help="stop a variant above this"
    )
    p.add_argument("--request-timeout", type=positive, default=None, metavar="S", help="ceiling per request")
    p.add_argument("--connect-timeout", type=positive, default=10.0, metavar="S")
    p.add_argument("--first-token-timeout", type=positive, default=120.0, metavar="S")
    p.add_argument(
        "--idle-timeout", type=positive, default=60.0, metavar="S", help="longest gap between chunks"
    )
    p.add_argument("--scrape-interval", type=positive, default=1.0, metavar="S", help="/metrics poll period")
    add_out_options(p, "quanttui-attach", required=not console)
    p.add_argument("--json", action="store_true", help="print one JSON summary object on stdout")


def cmd_sweep(args: argparse.Namespace) -> int:
    prompts = load_prompts(args.prompts) if args.prompts else default_prompts(args.workload)[0]
    config = build_sweep_config(args, prompts)
    result: SessionResult = run_async(run_sweep(config, prompts, stderr))
    stderr(f"wrote {result.csv} and {result.recording}")
    print_summary(result.summary, args.json)
    return interrupted_code() if result.interrupted else EXIT_OK


def cmd_attach(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the console needs a terminal; `quanttui sweep` is the headless form")
    prompts = load_prompts(args.prompts) if args.prompts else default_prompts(args.workload)[0]
    config = build_sweep_config(args, prompts)
    from quanttui.session import LiveSession

    return run_console(LiveSession(config, prompts, None, autostart=False), config.out_dir)


def ray_address(address: str | None, workers: int | None) -> str | None:
    """`--ray ADDRESS`: a Ray cluster's address (host:port, ray://host:port, or auto)."""
    if address is None:
        return None
    address = address.strip()
    if not address or any(c.isspace() for c in address):
        raise UsageError(f"--ray: {address!r} is not an address (host:port, ray://host:port or auto)")
    if workers == 0:
        raise UsageError("--ray with --load-workers 0: Ray load workers are at least one")
    return address


def fleet_urls(name: str, given: str) -> list[str]:
    """`--endpoint NAME=URL[,URL...]`: one URL, or a fleet's replicas (each once)."""
    urls = [u.strip() for u in given.split(",")]
    roots = []
    for url in urls:
        if not url:
            raise UsageError(f"--endpoint {name}: an empty URL in the list {given!r}")
        try:
            roots.append(split_base_url(url))
        except ValueError as exc:
            raise UsageError(f"--endpoint {name}: {exc}") from None
    for i, root in enumerate(roots):
        if root in roots[:i]:
            raise UsageError(f"--endpoint {name}: replica {root} is given twice")
    return urls


def gpu_telemetry(
    exporters: list[str] | None, maps: list[str] | None, variants: list[str], prometheus: str | None = None
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """`--gpu-metrics HOST=URL`, `--prometheus URL` and `--gpu-map VARIANT=SPEC`, each checked:
    URLs, hosts named in the map (those of --gpu-metrics; through Prometheus, the exporters'
    Hostname labels, known only when it answers), variants that exist, expressions that compile."""
    hosts = pairs(exporters, "--gpu-metrics")
    for host, url in hosts.items():
        problem = host_name_problem(host) or url_problem(url)
        if problem:
            raise UsageError(f"--gpu-metrics {host}: {problem}")
    if prometheus is not None and url_problem(prometheus):
        raise UsageError(f"--prometheus: {url_problem(prometheus)}")
    if maps and not hosts and prometheus is None:
        raise UsageError("--gpu-map needs --gpu-metrics HOST=URL or --prometheus URL (the GPUs it maps)")
    for spec in maps or []:
        try:
            match = parse_gpu_match(spec, [] if prometheus else list(hosts))
        except GpuMapError as exc:
            raise UsageError(f"--gpu-map {exc}") from None
        if match.variant not in variants:
            raise UsageError(
                f"--gpu-map {spec!r}: no variant named {match.variant!r} ({', '.join(variants)})"
            )
    return tuple(hosts.items()), tuple(maps or [])


def engine_series(
    entries: list[str] | None, variants: list[str], prometheus: str | None
) -> tuple[tuple[str, str], ...]:
    """`--prometheus-engine VARIANT=MATCHERS`: the variants whose engine series come from Prometheus."""
    chosen = pairs(entries, "--prometheus-engine")
    if chosen and prometheus is None:
        raise UsageError("--prometheus-engine needs --prometheus URL (the server that scrapes the engines)")
    for variant, matchers in chosen.items():
        if matchers_problem(matchers):
            raise UsageError(f"--prometheus-engine {variant}: {matchers_problem(matchers)}")
        if variant not in variants:
            raise UsageError(
                f"--prometheus-engine {variant}: no variant named {variant!r} ({', '.join(variants)})"
            )
    return tuple(chosen.items())
