"""`quanttui triage`: every quality prompt on every variant, compared side by side.

Where the variants come from: `--endpoint NAME=URL` (running servers), `--config FILE` (engines
launched from a session file), or `--demo` (the demo's BF16 and AWQ engines; `--backend sim` for
simulated ones). The console opens on the Compare screen; `--headless` runs the prompts, writes
the recording and the catalog and prints a summary. `--from RECORDING` exports the failure catalog
of an earlier triage (with its tags) without asking any engine anything.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from quanttui.cli.common import (
    EXIT_OK,
    UsageError,
    console_wanted,
    endpoint_pairs,
    interrupted_code,
    run_async,
    run_console,
    stderr,
)
from quanttui.cli.out_dir import add_out_options, run_folder
from quanttui.core.loadplan import LoadPlan
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.core.quality_set import QualitySet, QualitySetError
from quanttui.core.recording import RecordingError
from quanttui.core.triage_state import TriageState
from quanttui.io.catalog_export import export_triage, load_triage
from quanttui.io.openai_client import RequestOptions, Timeouts, split_base_url
from quanttui.io.quality_file import default_quality_set, load_quality_set
from quanttui.io.tag_journal import TagJournalError
from quanttui.session import EndpointSpec, LiveSession, SweepConfig
from quanttui.session.triage import TriageSpec

FORMATS = ("md", "csv", "json")


def add_triage(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "triage", help="quality prompts on every variant, side by side; tag and export failures"
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--endpoint", action="append", metavar="NAME=URL", help="a running variant (repeat)")
    source.add_argument("--config", type=Path, metavar="FILE", help="launch the engines of a session file")
    source.add_argument("--demo", action="store_true", help="the demo engines (see --backend)")
    source.add_argument("--from", dest="from_recording", type=Path, metavar="RECORDING",
                        help="export the catalog of an earlier triage (no engine needed)")  # fmt: skip
    p.add_argument("--backend", choices=["vllm-cpu", "sim"], default="vllm-cpu", help="with --demo")
    p.add_argument("--data-dir", type=Path, help="with --demo: venvs and models")
    p.add_argument(
        "--all", action="store_true", help="with --demo: BF16, AWQ, GPTQ and GGUF (llama.cpp server)"
    )
    p.add_argument(
        "--prompts", type=Path, metavar="FILE", help="quality prompt set (.jsonl; default: shipped)"
    )
    p.add_argument("--reference", metavar="NAME", help="variant to compare against (default: the bf16 one)")
    p.add_argument("--top-logprobs", type=int, default=5, metavar="K", help="k for KL / top-1 (0: off)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key")
    add_out_options(p, "quanttui-triage")
    p.add_argument("--export", default="md,csv,json", metavar="LIST", help="catalog formats: md,csv,json")
    p.add_argument(
        "--headless", action="store_true", help="no console: run, write the catalog, print a summary"
    )
    p.add_argument("--json", action="store_true", help="headless: one JSON summary on stdout")


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise UsageError(f"--export {text!r}: expected some of {','.join(FORMATS)}")
    return chosen


def _quality_set(args: argparse.Namespace) -> QualitySet:
    try:
        return load_quality_set(args.prompts) if args.prompts else default_quality_set()
    except QualitySetError as exc:
        raise UsageError(str(exc)) from None


def _config(args: argparse.Namespace, endpoints: tuple[EndpointSpec, ...], out: Path) -> SweepConfig:
    return SweepConfig(
        endpoints=endpoints,
        plan=LoadPlan(concurrencies=(1,), requests_per_step=1),  # unused: a triage drives no ramp
        options=RequestOptions(max_tokens=256, temperature=0.0, seed=args.seed),
        timeouts=Timeouts(first_token_s=300.0, idle_s=120.0),
        out_dir=out,
        prompts_source="quality set",
        api_key_env=args.api_key_env,
        scrape_interval_s=1.0,
    )


def _session(args: argparse.Namespace, spec: TriageSpec, out: Path) -> LiveSession:
    if args.endpoint:
        endpoints = []
        for name, url in endpoint_pairs(args.endpoint).items():
            try:
                split_base_url(url)
            except ValueError as exc:
                raise UsageError(f"--endpoint {name}: {exc}") from None
            endpoints.append(EndpointSpec(name, url))
        config = _config(args, tuple(endpoints), out)
        return LiveSession(config, list(DEFAULT_PROMPTS), None, autostart=True, progress=stderr,
                           triage=spec, triage_only=True)  # fmt: skip
    if args.config:
        from quanttui.cli.run import run_config_from_file

        variants, from_file, _ = run_config_from_file(args.config, out)
        if from_file.endpoints:  # attached variants (urls): a fleet's answers come from its first replica
            config = _config(args, from_file.endpoints, out)
            return LiveSession(config, list(DEFAULT_PROMPTS), None, autostart=True, progress=stderr,
                               triage=spec, triage_only=True)  # fmt: skip
    elif args.demo and args.backend == "sim":
        from quanttui.demo.names import demo_names
        from quanttui.demo.sim import sim_variants

        variants = sim_variants(demo_names(args.all))
    elif args.demo:
        from quanttui.demo.cpu import demo_variants
        from quanttui.demo.names import demo_names
        from quanttui.demo.paths import demo_paths
        from quanttui.demo.prepare import PrepareError, prepare_demo_models

        paths = demo_paths(args.data_dir)
        try:
            prepare_demo_models(paths.root, stderr, with_gguf=args.all)
        except PrepareError as exc:
            raise UsageError(f"{exc} (the simulated engines need nothing: --backend sim)") from None
        variants = demo_variants(paths, demo_names(args.all))
    else:
        raise UsageError(
            "say where the variants are: --endpoint NAME=URL, --config FILE, --demo or --from FILE"
        )
    config = _config(args, (), out)
    return LiveSession(config, list(DEFAULT_PROMPTS), variants, autostart=True, progress=stderr,
                       triage=spec, triage_only=True)  # fmt: skip


def _summary(state: TriageState) -> dict[str, Any]:
    per_variant: dict[str, Any] = {}
    for variant in state.variants:
        answers = [row.answers[variant] for row in state.rows.values() if variant in row.answers]
        flags: dict[str, int] = {}
        for answer in answers:
            for flag in answer.flags:
                flags[flag.kind] = flags.get(flag.kind, 0) + 1
        measured = [d for d in state.divergences() if d.variant == variant and d.mean_kl is not None]
        per_variant[variant] = {
            "answers": len(answers),
            "flagged": sum(1 for a in answers if a.flags),
            "flags": dict(sorted(flags.items())),
            "mean_kl": round(sum(d.mean_kl or 0 for d in measured) / len(measured), 5) if measured else None,
            "top1_agreement": round(sum(d.top1_agreement or 0 for d in measured) / len(measured), 4)
            if measured
            else None,
        }
    return {
        "reference": state.reference,
        "finished": state.finished.reason if state.finished else None,
        **state.counts(),
        "variants": per_variant,
    }


def _print(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, sort_keys=True))
        return
    print(f"triage: {summary['prompts']} prompts, {summary['different']} with different answers, "
          f"{summary['flagged']} flagged (reference {summary['reference']})")  # fmt: skip
    for name, v in summary["variants"].items():
        extra = ""
        if v["mean_kl"] is not None:
            extra = f", KL {v['mean_kl']:.4f} nats, top-1 {v['top1_agreement']:.1%}"
        flags = ", ".join(f"{k} {n}" for k, n in v["flags"].items()) or "none"
        print(f"  {name:<10} {v['answers']} answers, {v['flagged']} flagged ({flags}){extra}")


def cmd_triage(args: argparse.Namespace) -> int:
    formats = _formats(args.export)
    if args.from_recording:  # a catalog, not a run: written beside whatever the folder holds
        out = Path(args.out or args.out_default)
        try:
            state, warnings = load_triage(args.from_recording)
        except (RecordingError, TagJournalError) as exc:
            raise UsageError(str(exc)) from None
        for warning in warnings:
            stderr(f"warning: {warning}")
        if not state.rows:
            raise UsageError(f"{args.from_recording}: no triage in this recording")
        for path in export_triage(state, out, formats, f"Failure catalog: {args.from_recording.name}"):
            stderr(f"wrote {path}")
        _print(_summary(state), args.json)
        return EXIT_OK
    if args.top_logprobs < 0 or args.top_logprobs > 20:
        raise UsageError(f"--top-logprobs must be 0..20, got {args.top_logprobs}")
    spec = TriageSpec(_quality_set(args), args.reference, args.seed, args.top_logprobs)
    session = _session(args, spec, run_folder(args))
    out = session.config.out_dir
    if console_wanted(args):
        return run_console(session, out)
    result = run_async(session.run())
    state, warnings = load_triage(Path(result.recording))
    for warning in warnings:
        stderr(f"warning: {warning}")
    for path in export_triage(state, out, formats, f"Failure catalog: {spec.quality_set.name}"):
        stderr(f"wrote {path}")
    stderr(f"wrote {result.recording}")
    _print(_summary(state), args.json)
    return interrupted_code() if result.interrupted else EXIT_OK
