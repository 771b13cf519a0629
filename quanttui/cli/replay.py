"""`quanttui replay FILE`: a recording in the console, or its summary headless."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quanttui.cli.common import (
    EXIT_OK,
    UsageError,
    non_negative,
    print_summary,
    run_async,
    run_console,
    stderr,
)
from quanttui.session import (
    SessionResult,
    replay_headless,
)


def add_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay a recording")
    p.add_argument("file", type=Path)
    p.add_argument("--headless", action="store_true", help="no UI: print the run's summary")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument(
        "--speed", type=non_negative, default=1.0, help="console: x real time (0: as fast as possible)"
    )


def cmd_replay(args: argparse.Namespace) -> int:
    if not args.headless:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError("the replay console needs a terminal; use --headless")
        if args.speed < 0:
            raise UsageError(f"--speed must be >= 0, got {args.speed}")
        from quanttui.session import ReplaySession

        if not args.file.exists():
            raise UsageError(f"{args.file}: no such file")
        return run_console(ReplaySession(args.file, speed=args.speed, hold_at_end=True), Path("."))
    result: SessionResult = run_async(replay_headless(args.file))
    for warning in result.warnings:
        stderr(f"warning: {warning}")
    print_summary(result.summary, args.json)
    return EXIT_OK
