"""The load plan's options, shared by `sweep`, `attach`, `run` (session file [load]) and `demo`."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quanttui.cli.common import UsageError, positive
from quanttui.core.arrivals import ArrivalKind, Arrivals, parse_rates
from quanttui.core.lengths import parse_lengths
from quanttui.core.loadplan import (
    DEFAULT_MAX_STEP_REQUESTS,
    DEFAULT_MAX_STEP_SECONDS,
    LoadPlan,
    Schedule,
    Slo,
    SloMetric,
    parse_slo,
)
from quanttui.core.prompts import DEFAULT_PROMPTS, Prompt
from quanttui.io.config import MAX_LOAD_WORKERS
from quanttui.io.prompt_file import CONVERSATION_TURN, shipped_conversations
from quanttui.io.tokenizer_files import TokenizerFiles, TokenizerFilesError

# Engines quanttui launches share one machine, so by default their steps alternate (each measured
# alone); attached endpoints may be anywhere, so they are loaded at once. README "Schedules" has
# the interference measured on the demo that chose these defaults.
DEFAULT_LAUNCHED_SCHEDULE = Schedule.ALTERNATE
DEFAULT_ATTACHED_SCHEDULE = Schedule.SIMULTANEOUS


def add_step_options(p: argparse.ArgumentParser) -> None:
    steps = p.add_mutually_exclusive_group()
    steps.add_argument(
        "--requests-per-step", type=int, metavar="N",
        help="fixed step length instead of adaptive (at least 4 x concurrency are measured)",
    )  # fmt: skip
    steps.add_argument(
        "--step-seconds", type=positive, metavar="S", help="fixed step duration instead of adaptive"
    )
    p.add_argument("--warmup-requests", type=int, default=0, metavar="N", help="extra per step, not counted")
    p.add_argument(
        "--max-step-requests", type=int, default=DEFAULT_MAX_STEP_REQUESTS, metavar="N",
        help=f"adaptive steps: measured requests before a step is left undecided (default {DEFAULT_MAX_STEP_REQUESTS})",
    )  # fmt: skip
    p.add_argument(
        "--max-step-seconds", type=positive, default=DEFAULT_MAX_STEP_SECONDS, metavar="S",
        help=f"adaptive steps: seconds before a step is left undecided (default {DEFAULT_MAX_STEP_SECONDS:g})",
    )  # fmt: skip
    p.add_argument(
        "--confidence", type=float, default=0.95, metavar="C",
        help="family-wise confidence of the capacity verdict (default 0.95)",
    )  # fmt: skip
    p.add_argument(
        "--schedule", choices=[s.value for s in Schedule], default=None,
        help="simultaneous: all variants at once; alternate: one at a time, order flipped every step",
    )  # fmt: skip
    p.add_argument(
        "--trials", type=int, default=1, metavar="N", help="repeat the ramp N times, order alternated"
    )
    p.add_argument(
        "--load-workers", type=load_workers, default=None, metavar="N",
        help="processes sending the requests (default: one per 256 streams, at most one per core; "
        "0: the session's own event loop)",
    )  # fmt: skip
    p.add_argument(
        "--ray", metavar="ADDRESS", default=None,
        help="run the load workers as actors of this Ray cluster, e.g. 10.0.0.2:6379 or auto "
        "(pip install 'quanttui[ray]'); --load-workers says how many",
    )  # fmt: skip


# --workload long-prefill without --input-lengths: prompt lengths where prefill starts to dominate.
DEFAULT_INPUT_LENGTHS = (256, 512, 1024, 2048)
WORKLOADS = ("chat", "long-prefill", "shared-prefix", "multi-turn")
DEFAULT_PREFIX_TOKENS = 1024
HISTORIES = ("recorded", "own")


def add_workload_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("workload (default: closed-loop concurrency steps of chat prompts)")
    g.add_argument(
        "--rate", metavar="LIST",
        help="open-loop steps in requests/s instead of concurrency steps, e.g. 0.5,1,2,4",
    )  # fmt: skip
    g.add_argument(
        "--arrivals", choices=[k.value for k in ArrivalKind],
        help="rate steps: when requests arrive (default poisson; constant: evenly spaced)",
    )  # fmt: skip
    g.add_argument(
        "--burstiness", type=positive, metavar="F",
        help="gamma arrivals' shape (1: Poisson, below 1 burstier, above 1 more even; implies --arrivals gamma)",
    )  # fmt: skip
    g.add_argument("--arrival-seed", type=int, default=0, metavar="N", help="the schedule's seed (recorded)")
    g.add_argument(
        "--max-concurrency", type=int, metavar="N",
        help="rate steps: at most N requests in flight per variant (default 256; a send that waits is late)",
    )  # fmt: skip
    g.add_argument(
        "--workload", choices=WORKLOADS, default="chat",
        help="long-prefill: steps of prompt length (--input-lengths) at one concurrency, TTFT vs length; "
        "shared-prefix: every prompt after one shared system prompt (--prefix-tokens), prefix-cache hits shown; "
        "multi-turn: the shipped conversations (or --prompts FILE) turn by turn, recorded answers as history",
    )  # fmt: skip
    g.add_argument(
        "--history", choices=HISTORIES,
        help="conversations: the earlier turns' answers are the recorded ones (default: identical load "
        "for every variant) or each variant's own",
    )  # fmt: skip
    g.add_argument(
        "--tokenizer", metavar="DIR",
        help="the model's tokenizer files (tokenizer.json and its chat template) to count exact prompt "
        "lengths with (default: vLLM's /tokenize, else a launched variant's model folder)",
    )  # fmt: skip
    g.add_argument(
        "--prefix-tokens", type=int, metavar="N",
        help=f"shared-prefix: the shared system prompt's length in the model's tokens (default {DEFAULT_PREFIX_TOKENS})",
    )  # fmt: skip
    g.add_argument(
        "--output-tokens", metavar="DIST",
        help="each answer's length, drawn per request and sent with ignore_eos: N, uniform:LO-HI, "
        "normal:MEAN,SD or hist:N=W,N=W,... (default: --max-tokens for every answer)",
    )  # fmt: skip
    g.add_argument("--length-seed", type=int, default=0, metavar="N", help="the lengths' seed (recorded)")
    g.add_argument(
        "--input-tokens", metavar="DIST",
        help="synthetic prompts instead of chat prompts, each exactly a length drawn from DIST (same forms) "
        "in the model's tokens",
    )  # fmt: skip
    g.add_argument(
        "--input-lengths", metavar="LIST",
        help="long-prefill: prompt lengths in the model's tokens (default "
        + ",".join(map(str, DEFAULT_INPUT_LENGTHS)) + ")",
    )  # fmt: skip


def _ints(flag: str, text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected whole numbers separated by commas") from None
    if any(v < 1 for v in values):
        raise UsageError(f"{flag} {text!r}: every value must be >= 1")
    return values


def workload_fields(args: argparse.Namespace, concurrency: str | None) -> dict[str, object]:
    """The LoadPlan fields of the workload flags (`concurrency`: --concurrency's text if given);
    UsageError naming the flag when they do not fit together."""
    lengths: dict[str, object] = {}
    seed = getattr(args, "length_seed", 0) or 0
    for flag, field_name, text in (("--output-tokens", "output_lengths", getattr(args, "output_tokens", None)),
                                   ("--input-tokens", "prompt_lengths", getattr(args, "input_tokens", None))):  # fmt: skip
        if text:
            try:
                lengths[field_name] = parse_lengths(text, seed)
            except ValueError as exc:
                raise UsageError(f"{flag}: {exc}") from None
    history = getattr(args, "history", None)
    if history is not None and history not in HISTORIES:
        raise UsageError(f"--history: expected recorded or own, got {history!r}")
    synthetic = getattr(args, "input_tokens", None) or getattr(args, "workload", "chat") == "long-prefill"
    if history == "own" and (synthetic or getattr(args, "input_lengths", None)):
        raise UsageError(
            "--history own replays conversations; --input-tokens and --workload long-prefill send "
            "synthetic prompts instead: give one of them"
        )
    return {**_workload_fields(args, concurrency), **lengths, "own_history": history == "own"}


def check_history(plan: LoadPlan, prompts: Sequence[Prompt]) -> None:
    """Own answers as history need conversations to replay; UsageError if there are none."""
    if plan.own_history and not any(CONVERSATION_TURN.search(p.id) for p in prompts):
        raise UsageError(
            "--history own applies to conversations: --workload multi-turn, or --prompts with conversations"
        )


def tokenizer_folder(where: str, folder: str | Path | None) -> Path | None:
    """A tokenizer folder, loaded once now so a bad one is one line before anything runs."""
    if folder is None:
        return None
    try:
        return TokenizerFiles.load(Path(folder)).folder
    except TokenizerFilesError as exc:
        raise UsageError(f"{where}: {exc}") from None


def history_words(own_history: bool) -> str:
    return "each variant's own answers as history" if own_history else "the recorded answers as history"


def _workload_fields(args: argparse.Namespace, concurrency: str | None) -> dict[str, object]:
    prefix = getattr(args, "prefix_tokens", None)
    if getattr(args, "workload", "chat") == "shared-prefix":
        if prefix is not None and prefix < 1:
            raise UsageError(f"--prefix-tokens must be >= 1, got {prefix}")
        ramp = _ramp_fields(args, concurrency)
        return {**ramp, "prefix_tokens": prefix or DEFAULT_PREFIX_TOKENS}
    if prefix is not None:
        raise UsageError("--prefix-tokens applies to --workload shared-prefix")
    return _ramp_fields(args, concurrency)


def _ramp_fields(args: argparse.Namespace, concurrency: str | None) -> dict[str, object]:
    rate = getattr(args, "rate", None)
    long_prefill = getattr(args, "workload", "chat") == "long-prefill" or getattr(args, "input_lengths", None)
    open_loop_only = [f for f, v in (("--arrivals", getattr(args, "arrivals", None)),
                                     ("--burstiness", getattr(args, "burstiness", None)),
                                     ("--max-concurrency", getattr(args, "max_concurrency", None))) if v]  # fmt: skip
    if rate and long_prefill:
        raise UsageError("--rate and --workload long-prefill: give one of them")
    if rate:
        if concurrency:
            raise UsageError(
                "--rate and --concurrency: rate steps are open loop; cap them with --max-concurrency"
            )
        try:
            rates = parse_rates(rate)
        except ValueError as exc:
            raise UsageError(f"--rate: {exc}") from None
        kind = ArrivalKind(args.arrivals) if args.arrivals else (
            ArrivalKind.GAMMA if args.burstiness else ArrivalKind.POISSON)  # fmt: skip
        try:
            arrivals = Arrivals(kind, args.burstiness or 1.0, args.arrival_seed)
        except ValueError as exc:
            raise UsageError(f"--burstiness: {exc}") from None
        if args.max_concurrency is not None and args.max_concurrency < 1:
            raise UsageError(f"--max-concurrency must be >= 1, got {args.max_concurrency}")
        return {
            "concurrencies": (),
            "rates": rates,
            "arrivals": arrivals,
            "max_in_flight": args.max_concurrency,
        }
    if open_loop_only:
        raise UsageError(f"{open_loop_only[0]} applies to open-loop steps: give --rate")
    if long_prefill:
        lengths = (
            _ints("--input-lengths", args.input_lengths) if args.input_lengths else DEFAULT_INPUT_LENGTHS
        )
        at = _ints("--concurrency", concurrency) if concurrency else (1,)
        if len(at) != 1:
            raise UsageError("--workload long-prefill runs at one --concurrency (e.g. 1), got " + concurrency)
        return {"concurrencies": at, "input_lengths": lengths}
    return {"concurrencies": _ints("--concurrency", concurrency or "1,2,4,8")}


def default_prompts(workload: str, own_history: bool = False) -> tuple[list[Prompt], str]:
    """(prompts, where they come from) when no prompt file is given."""
    if workload == "multi-turn":
        turns = shipped_conversations()
        conversations = len({p.id.partition("#")[0] for p in turns})
        return (
            turns,
            f"shipped conversations, turn by turn, {history_words(own_history)} "
            f"({conversations} conversations, {len(turns)} turns)",
        )
    return list(DEFAULT_PROMPTS), "embedded default"


def file_prompts_source(path: object, prompts: Sequence[Prompt], own_history: bool = False) -> str:
    """Where a prompt file's prompts come from, and whether conversations in it are replayed turn
    by turn (so a report says what the earlier turns were)."""
    turns = [p for p in prompts if CONVERSATION_TURN.search(p.id)]
    if not turns:
        return str(path)
    return f"{path}, conversations turn by turn, {history_words(own_history)} ({len(turns)} turns)"


def load_workers(text: str) -> int:
    """argparse type for --load-workers: 0 to MAX_LOAD_WORKERS."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_LOAD_WORKERS:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_LOAD_WORKERS}, got {value}")
    return value


def add_slo_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--slo", metavar="BOUNDS",
        help="e.g. e2e_p95<=3000 or ttft_p95<=500,tpot_p95<=50,e2e_p95<=3000 (ms; the first is primary)",
    )  # fmt: skip
    p.add_argument("--slo-p95-ms", type=positive, metavar="MS", help="same as --slo METRIC_p95<=MS")
    p.add_argument("--slo-metric", choices=[m.value for m in SloMetric], default="e2e")


def slo_from_args(args: argparse.Namespace) -> Slo | None:
    """--slo, else --slo-p95-ms with --slo-metric; ValueError names the flag."""
    if getattr(args, "slo", None):
        if args.slo_p95_ms is not None:
            raise ValueError("--slo and --slo-p95-ms: give one of them")
        try:
            return parse_slo(args.slo)
        except ValueError as exc:
            raise ValueError(f"--slo: {exc}") from None
    if args.slo_p95_ms is not None:
        return Slo(args.slo_p95_ms, SloMetric(args.slo_metric))
    return None


def plan_from_args(
    args: argparse.Namespace, workload: dict[str, object], slo: Slo | None, default_schedule: Schedule
) -> LoadPlan:
    return LoadPlan(
        **workload,  # type: ignore[arg-type]
        requests_per_step=args.requests_per_step,
        step_seconds=args.step_seconds,
        warmup_requests=args.warmup_requests,
        slo=slo,
        max_error_rate=getattr(args, "max_error_rate", 0.5),
        confidence=args.confidence,
        max_step_requests=args.max_step_requests,
        max_step_seconds=args.max_step_seconds,
        schedule=Schedule(args.schedule) if args.schedule else default_schedule,
        trials=args.trials,
    )


def _load_workload(load: dict[str, Any]) -> dict[str, object]:
    """The workload keys of a [load] table, checked by the same rules as the flags; ValueError
    naming the key."""

    def listed(key: str) -> str | None:
        values = load.get(key)
        return None if values is None else ",".join(str(v) for v in values)

    workload = load.get("workload", "chat")
    if workload not in WORKLOADS:
        raise ValueError(f"workload: expected one of {', '.join(WORKLOADS)}, got {workload!r}")
    args = argparse.Namespace(
        rate=listed("rate"), arrivals=load.get("arrivals"), burstiness=load.get("burstiness"),
        arrival_seed=load.get("arrival_seed", 0), max_concurrency=load.get("max_concurrency"),
        workload=workload, input_lengths=listed("input_lengths"), prefix_tokens=load.get("prefix_tokens"),
        output_tokens=str(load["output_tokens"]) if "output_tokens" in load else None,
        input_tokens=str(load["input_tokens"]) if "input_tokens" in load else None,
        length_seed=load.get("length_seed", 0), history=load.get("history"),
    )  # fmt: skip
    if args.arrivals is not None and args.arrivals not in {k.value for k in ArrivalKind}:
        raise ValueError(f"arrivals: expected constant, poisson or gamma, got {args.arrivals!r}")
    try:
        return workload_fields(args, listed("concurrency"))
    except UsageError as exc:  # the flags' words, as the file's keys
        raise ValueError(re.sub(r"--([a-z-]+)", lambda m: m[1].replace("-", "_"), str(exc))) from None


def plan_from_load(load: dict[str, Any], default_schedule: Schedule) -> LoadPlan:
    """A session file's [load] table (already type-checked by io/config.py)."""
    slo = parse_slo(load["slo"]) if load.get("slo") else None
    if slo is None and load.get("slo_p95_ms"):
        slo = Slo(float(load["slo_p95_ms"]), SloMetric(load.get("slo_metric", "e2e")))
    return LoadPlan(
        **_load_workload(load),  # type: ignore[arg-type]
        requests_per_step=load.get("requests_per_step"),
        step_seconds=load.get("step_seconds"),
        warmup_requests=load.get("warmup_requests", 0),
        slo=slo,
        max_error_rate=float(load.get("max_error_rate", 0.5)),
        confidence=float(load.get("confidence", 0.95)),
        max_step_requests=int(load.get("max_step_requests", DEFAULT_MAX_STEP_REQUESTS)),
        max_step_seconds=float(load.get("max_step_seconds", DEFAULT_MAX_STEP_SECONDS)),
        schedule=Schedule(load["schedule"]) if load.get("schedule") else default_schedule,
        trials=int(load.get("trials", 1)),
    )
