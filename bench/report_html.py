"""How long `quanttui report` takes and how big report.html is, for the shipped 4-variant recording.

Runs the real command (a fresh process each time, as an operator runs it) on
recordings/demo-vllm-cpu-all.jsonl with its triage (recordings/demo-vllm-cpu-triage-all.jsonl),
with and without the HTML (`--no-html`), so the charts' share of the time is its own line; also
`quanttui compare` of the two shipped 2-variant demo runs. Reports wall time (median of the
repeats), peak RSS of the process, and the sizes of report.html and the PNGs.
Results: bench/results/report_html.json and report_html.md.

Usage: `nice python bench/report_html.py [--repeats 3]`
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
ALL = ROOT / "recordings" / "demo-vllm-cpu-all.jsonl"
TRIAGE = ROOT / "recordings" / "demo-vllm-cpu-triage-all.jsonl"
DEMO = ROOT / "recordings" / "demo-vllm-cpu-bf16-awq.jsonl"
RERUN = ROOT / "recordings" / "demo-vllm-cpu-rerun.jsonl"


# The command in a child that reports its own peak RSS at exit (RUSAGE_CHILDREN would keep the
# largest child so far, not this one's).
CHILD = """
import resource, runpy, sys
sys.argv = ["quanttui", *sys.argv[1:]]
try:
    runpy.run_module("quanttui", run_name="__main__")
except SystemExit as exc:
    assert not exc.code, exc.code
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and the command's peak RSS in MiB."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *args], check=True, capture_output=True, text=True)
    took = time.perf_counter() - start
    return took, int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cases: dict[str, dict[str, float]] = {}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        commands = {
            "report, 4 variants + triage (HTML + PNG)": ["report", str(ALL), "--triage", str(TRIAGE), "--out",
                                                          str(out / "html"), "--gpu-usd-per-hour", "0.85"],
            "report, 4 variants + triage (--no-html)": ["report", str(ALL), "--triage", str(TRIAGE), "--out",
                                                         str(out / "plain"), "--no-html"],
            "compare, the two 2-variant demo runs": ["compare", str(DEMO), str(RERUN), "--out", str(out / "cmp")],
        }  # fmt: skip
        for name, command in commands.items():
            runs = [timed(command) for _ in range(args.repeats)]
            cases[name] = {"median_s": round(statistics.median(t for t, _ in runs), 2),
                           "min_s": round(min(t for t, _ in runs), 2), "peak_rss_mib": round(max(m for _, m in runs))}  # fmt: skip
        html = out / "html"
        sizes["report.html"] = (html / "report.html").stat().st_size
        sizes["charts/*.png (all)"] = sum(p.stat().st_size for p in (html / "charts").glob("*.png"))
        sizes["charts"] = len(list((html / "charts").glob("*.png")))
        sizes["compare.html"] = (out / "cmp" / "compare.html").stat().st_size
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.processor() or '?'}, python {platform.python_version()}",
        "repeats": args.repeats,
        "cases": cases,
        "sizes_bytes": sizes,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "report_html.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# report.html: time and size ({result['date']})", "",
             f"`nice python bench/report_html.py --repeats {args.repeats}` on {result['machine']}; each command a "
             "fresh process (imports included), wall time over the repeats, peak RSS of the process.", "",
             "| command | median s | min s | peak RSS MiB |", "|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {name} | {c['median_s']} | {c['min_s']} | {c['peak_rss_mib']} |" for name, c in cases.items()
    ]
    lines += ["", f"report.html of the 4-variant recording: {sizes['report.html'] / 1e3:,.0f} kB "
              f"({sizes['charts']} charts inline as SVG); its PNG copies: {sizes['charts/*.png (all)'] / 1e3:,.0f} kB "
              f"together; compare.html: {sizes['compare.html'] / 1e3:,.0f} kB.", ""]  # fmt: skip
    (RESULTS / "report_html.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
