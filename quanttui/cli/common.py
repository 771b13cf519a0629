"""What every command shares: exit codes, usage errors, stderr progress, signals, the console."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from pathlib import Path
from typing import Any, NoReturn

from quanttui.core.client_check import ADVICE
from quanttui.core.names import variant_name_problem
from quanttui.session.signals import on_stop_signals

EXIT_OK = 0
EXIT_USAGE = 2  # bad input: one line on stderr names the flag or file and the field
EXIT_NO_COMPARISON = 3  # the run ended, but fewer than two variants were measured
EXIT_INTERRUPTED = 130


def launched_exit(summary: dict[str, Any], interrupted: bool) -> int:
    """A launched run (`run`, `demo`) exists to compare variants: when fewer than two of them were
    measured (engines that never became ready, or one of two), say so and exit 3, not 0."""
    if interrupted:
        return interrupted_code()
    measured = [v["name"] for v in summary.get("variants", []) if v.get("requests")]
    if len(measured) < 2:
        stderr(
            f"quanttui: no comparison was possible: {len(measured)} variant(s) measured"
            + (f" ({', '.join(measured)})" if measured else "")
            + f"; sweep {summary.get('sweep', {}).get('reason', 'unfinished')} (exit {EXIT_NO_COMPARISON})"
        )
        return EXIT_NO_COMPARISON
    return EXIT_OK


class UsageError(Exception):
    """Bad input; printed as one line and exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a finite number")
    return value


def finite(text: str) -> float:
    """An argparse type: a finite number (not nan, not inf)."""
    return _number(text)


def positive(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be > 0")
    return value


def non_negative(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 0")
    return value


def stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        if name in pairs:
            raise UsageError(f"{flag}: {name!r} given twice")
        pairs[name.strip()] = value.strip()
    return pairs


def endpoint_pairs(values: list[str] | None) -> dict[str, str]:
    """`--endpoint NAME=URL` given once per variant: names checked (they name files), 2 to 4 of them."""
    endpoints = pairs(values, "--endpoint")
    for name in endpoints:
        problem = variant_name_problem(name)
        if problem is not None:
            raise UsageError(f"--endpoint: {problem}")
    return endpoints


def console_wanted(args: argparse.Namespace) -> bool:
    """The console needs a terminal; without one (scripts, CI) the headless form runs."""
    return not args.headless and sys.stdin.isatty() and sys.stdout.isatty()


def run_console(session: Any, out_dir: Path) -> int:
    from quanttui.ui.run import run_console

    return run_console(session, out_dir)


def _bend(variant: dict[str, Any]) -> str:
    if variant.get("p95_bends_at"):  # in the ramp's own unit
        return str(variant["p95_bends_at"])
    return f"c={variant['p95_bends_at_conc']}"


def _step_level(row: dict[str, Any]) -> str:
    if row.get("rate") is not None:
        return f"rate {row['rate']:>6g} req/s"
    if row.get("input_tokens") is not None:
        return f"prompt {row['input_tokens']:>6} tok"
    return f"conc {row['conc']:>4}"


def print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, sort_keys=True))
        return
    print(f"sweep: {summary['sweep']['reason']}, {summary['sweep']['steps']} steps, "
          f"{summary['sweep']['duration_s']:.1f} s")  # fmt: skip
    for v in summary["variants"]:
        capacity = v.get("capacity")
        print(
            f"{v['name']} ({v['precision'] or '?'}, {v['model']}): {v['requests']} requests, {v['errors']} errors, "
            f"peak {v['peak_tok_s'] or 0:.1f} tok/s"
            + (f", {capacity}" if capacity and capacity != "no SLO" else "")
            + (f", p95 bends at {_bend(v)}" if v.get("p95_bends_at_conc") else "")
        )
    for row in summary["steps"]:
        decision = f"  {row['slo_decision']}" if row.get("slo_decision") else ""
        interval = ""
        if row.get("p95_ms_lo") is not None or row.get("p95_ms_hi") is not None:
            interval = f" [{_num(row.get('p95_ms_lo'))}, {_num(row.get('p95_ms_hi'))}]"
        print(
            f"  {row['variant']:<12} {_step_level(row)}  tok/s {row['tok_s'] or 0:>8.1f}  "
            f"p50 {row['p50_ms'] or 0:>8.1f} ms  p95 {row['p95_ms'] or 0:>8.1f}{interval} ms  "
            f"errors {row['errors']}{decision}"
            + ("  busy host" if row.get("host_busy") else "")
            + ("  client-bound" if row.get("client_bound") else "")
            + (f"  send lag p99 {row['lag_p99_ms']:.1f} ms" if row.get("lag_p99_ms") is not None else "")
            + ("  BEHIND" if row.get("behind") else "")
            + ("  QUEUE GROWING" if row.get("queue_growing") else "")
        )
    verdict = summary.get("verdict") or {}
    for sentence in verdict.get("sentences", []):
        print(sentence)
    if verdict.get("busy_steps"):
        print(
            f"{verdict['busy_steps']} step(s) ran on a busy host (other processes used the CPU): see sweep.csv host_busy"
        )
    if verdict.get("client_bound_steps"):
        print(
            f"{verdict['client_bound_steps']} step(s) were client-bound (the load client stamped late): "
            f"see sweep.csv client_*; run them with {ADVICE}"
        )


def _num(value: object) -> str:
    return "—" if not isinstance(value, int | float) else f"{value:.1f}"


class Interrupted:
    """Which signal interrupted the run, if any (SIGINT arrives as KeyboardInterrupt/cancel)."""

    signum: int | None = None


async def cancel_on_signals(coro: Any) -> Any:
    """Run `coro` as a task that SIGTERM and SIGHUP cancel, so a killed session still writes its files."""
    task = asyncio.ensure_future(coro)

    def cancel(signum: int) -> None:
        Interrupted.signum = signum
        task.cancel()

    with on_stop_signals(cancel):
        return await task


def run_async(coro: Any) -> Any:
    return asyncio.run(cancel_on_signals(coro))


def interrupted_code() -> int:
    return 128 + Interrupted.signum if Interrupted.signum else EXIT_INTERRUPTED
