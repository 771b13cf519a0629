"""`quanttui compare RUN RUN ... --out DIR`: runs from different days, settings or machines side by
side (compare.html with the load charts overlaid, compare.md with the table and a sentence per pair)."""

from __future__ import annotations

import argparse
from pathlib import Path

from quanttui.cli.common import EXIT_OK, UsageError, positive, stderr
from quanttui.io.compare_files import CompareError, load_run, write_compare
from quanttui.io.report_palette import REPORT_THEME, PaletteError, load_palette


def add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="runs side by side: recordings, report folders (report.json) or session folders"
    )
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN")
    p.add_argument("--out", default="quanttui-compare", metavar="DIR")
    p.add_argument(
        "--label", action="append", default=[], metavar="NAME",
        help="a name per run, in order (default: the file or folder name), e.g. 'RTX 2000 Ada'",
    )  # fmt: skip
    p.add_argument(
        "--gpu-usd-per-hour", type=positive, action="append", default=[], metavar="USD",
        help="a price per run, in order, for runs that carry none (one value: every such run)",
    )  # fmt: skip
    p.add_argument("--theme", default=REPORT_THEME, metavar="NAME", help="colours (a theme with hex colours)")


def cmd_compare(args: argparse.Namespace) -> int:
    runs_in: list[Path] = args.runs
    if len(args.label) > len(runs_in):
        raise UsageError(f"--label: {len(args.label)} labels for {len(runs_in)} runs")
    prices: list[float] = args.gpu_usd_per_hour
    if len(prices) not in (0, 1, len(runs_in)):
        raise UsageError(
            f"--gpu-usd-per-hour: give one price, or one per run ({len(runs_in)}), not {len(prices)}"
        )
    for price in prices:
        if not price > 0:
            raise UsageError(f"--gpu-usd-per-hour must be > 0, got {price:g}")
    try:
        palette = load_palette(args.theme)
        runs = []
        for index, path in enumerate(runs_in):
            label = args.label[index] if index < len(args.label) else None
            price = prices[0] if len(prices) == 1 else (prices[index] if prices else None)
            runs.append(load_run(path, label, price))
    except (CompareError, PaletteError) as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: a file, not a folder")
    labels = [run.label for run in runs]
    if len(set(labels)) < len(labels):
        raise UsageError(f"two runs have the same name ({', '.join(labels)}): name them with --label")
    for path in write_compare(runs, out, palette):
        stderr(f"wrote {path}")
    return EXIT_OK
