"""Command line: `quanttui sweep|attach|run|replay|demo|triage|report|compare|profile ...`.

The headless commands are a contract for scripts: results on stdout (JSON with --json),
progress on stderr, exit 0 when the work ran, 2 with one line on stderr for bad input or an
endpoint unreachable at start, 128+N when stopped by signal N (130 for Ctrl-C; partial results are
still written).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from quanttui import __version__
from quanttui.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    UsageError,
    interrupted_code,
    stderr,
)
from quanttui.cli.compare import add_compare, cmd_compare
from quanttui.cli.demo import add_demo, cmd_demo
from quanttui.cli.profile import add_profile, cmd_profile
from quanttui.cli.replay import add_replay, cmd_replay
from quanttui.cli.report import add_report, cmd_report
from quanttui.cli.run import add_run, cmd_run
from quanttui.cli.sweep import add_attach, add_sweep, build_sweep_config, cmd_attach, cmd_sweep
from quanttui.cli.triage import add_triage, cmd_triage
from quanttui.core.literal import visible_controls
from quanttui.core.quality_set import QualitySetError
from quanttui.core.recording import RecordingError
from quanttui.io.config import ConfigError
from quanttui.io.load_pool import LoadWorkerError
from quanttui.io.openai_client import EndpointError
from quanttui.io.prompt_file import PromptFileError
from quanttui.io.tag_journal import TagJournalError

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "build_sweep_config",
    "main",
    "make_parser",
]


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="quanttui", description="BF16 vs INT4 serving console for vLLM")
    parser.add_argument("--version", action="version", version=f"quanttui {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_sweep(sub)
    add_replay(sub)
    add_demo(sub)
    add_run(sub)
    add_attach(sub)
    add_triage(sub)
    add_report(sub)
    add_compare(sub)
    add_profile(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    handlers = {
        "sweep": cmd_sweep,
        "replay": cmd_replay,
        "demo": cmd_demo,
        "run": cmd_run,
        "attach": cmd_attach,
        "triage": cmd_triage,
        "report": cmd_report,
        "compare": cmd_compare,
        "profile": cmd_profile,
    }
    try:
        return handlers[args.command](args)
    except (UsageError, EndpointError, PromptFileError, RecordingError, ConfigError, QualitySetError,
            TagJournalError, LoadWorkerError) as exc:  # fmt: skip
        # one line, with whatever foreign text it quotes (a server's reply, a file's bytes) shown, not run
        stderr(f"quanttui {args.command}: error: {visible_controls(str(exc)).replace(chr(10), ' ')}")
        return EXIT_USAGE
    except BrokenPipeError:  # `quanttui ... | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (KeyboardInterrupt, asyncio.CancelledError):
        stderr(f"quanttui {args.command}: interrupted")
        return interrupted_code()
