"""`quanttui compare` and report.html's options from the command line: the same run from a
recording and from its report folder, and bad input as one line, exit 2, nothing written."""

import json
import subprocess
import sys
from pathlib import Path

RECORDINGS = Path(__file__).resolve().parents[2] / "recordings"
DEMO = RECORDINGS / "demo-vllm-cpu-bf16-awq.jsonl"
RERUN = RECORDINGS / "demo-vllm-cpu-rerun.jsonl"


def quanttui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=300
    )


def one_line_error(done: subprocess.CompletedProcess, command: str, words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"quanttui {command}: error: "), (
        done.stderr
    )
    assert words in done.stderr, done.stderr


def test_a_report_folder_compares_as_its_recording(tmp_path):
    assert quanttui("report", str(RERUN), "--out", str(tmp_path / "rerun"), "--no-html").returncode == 0
    assert not (tmp_path / "rerun" / "report.html").exists()  # --no-html: markdown, CSV, JSON only
    by_folder = quanttui("compare", str(DEMO), str(tmp_path / "rerun"), "--out", str(tmp_path / "a"),
                         "--label", "demo", "--label", "rerun")  # fmt: skip
    by_file = quanttui("compare", str(DEMO), str(RERUN), "--out", str(tmp_path / "b"),
                       "--label", "demo", "--label", "rerun")  # fmt: skip
    assert by_folder.returncode == 0 and by_file.returncode == 0, by_folder.stderr + by_file.stderr
    pairs = [
        (tmp_path / d / "compare.md").read_text().split("## Pair by pair")[1].split("## Each")[0]
        for d in "ab"
    ]
    assert pairs[0] == pairs[1] and pairs[0].count("\n- ") == 4


def test_bad_runs_and_options_are_one_line(tmp_path):
    one_line_error(
        quanttui("compare", str(DEMO), str(tmp_path / "nope")), "compare", f"{tmp_path / 'nope'}: no such"
    )
    (tmp_path / "empty").mkdir()
    one_line_error(quanttui("compare", str(DEMO), str(tmp_path / "empty")), "compare",
                   "neither report.json (a report folder) nor recording.jsonl")  # fmt: skip
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "report.json").write_text(json.dumps({"report_json": 1, "label": "x"}))
    one_line_error(quanttui("compare", str(DEMO), str(tmp_path / "bad")), "compare",
                   f"{tmp_path / 'bad' / 'report.json'}: field 'kind': missing")  # fmt: skip
    (tmp_path / "bad" / "report.json").write_text("{not json")
    one_line_error(quanttui("compare", str(DEMO), str(tmp_path / "bad")), "compare", "report.json: Expecting")
    one_line_error(quanttui("compare", str(DEMO), str(RERUN), "--label", "a", "--label", "b", "--label", "c"),
                   "compare", "--label: 3 labels for 2 runs")  # fmt: skip
    one_line_error(quanttui("compare", str(DEMO), str(DEMO)), "compare", "two runs have the same name")
    one_line_error(quanttui("compare", str(DEMO), str(RERUN), "--gpu-usd-per-hour", "1", "--gpu-usd-per-hour", "2",
                            "--gpu-usd-per-hour", "3"), "compare", "give one price, or one per run")  # fmt: skip
    one_line_error(quanttui("report", str(DEMO), "--out", str(tmp_path / "r"), "--theme", "quanttui-ansi"), "report",
                   "field 'foreground': 'ansi_default' is not a #RRGGBB colour")  # fmt: skip
    one_line_error(quanttui("report", str(DEMO), "--out", str(tmp_path / "r"), "--theme", "nope"), "report",
                   "--theme: no theme called 'nope'")  # fmt: skip
    one_line_error(quanttui("report", str(DEMO), "--out", str(tmp_path / "r"), "--dist-level", "3"), "report",
                   "--dist-level 3: no step ran at that level (levels: 1, 2, 4, 8)")  # fmt: skip
    (tmp_path / "file").write_text("x")
    one_line_error(quanttui("compare", str(DEMO), str(RERUN), "--out", str(tmp_path / "file")), "compare",
                   "a file, not a folder")  # fmt: skip
    assert not (tmp_path / "r").exists()  # refused before anything was written
    assert not Path("quanttui-compare").exists()


def test_a_report_json_with_wrong_types_is_one_line(tmp_path):
    assert quanttui("report", str(RERUN), "--out", str(tmp_path / "ok"), "--no-html").returncode == 0
    good = json.loads((tmp_path / "ok" / "report.json").read_text())
    cases = {
        "usd_per_hour": (lambda d: d | {"usd_per_hour": "cheap"}, "field 'usd_per_hour': 'cheap' is not a finite"),
        "slo_ms": (lambda d: d | {"slo_ms": float("nan")}, "field 'slo_ms': nan is not a finite number"),
        "level": (lambda d: d | {"points": [d["points"][0] | {"level": "2"}]}, "field 'points[0].level': '2'"),
        "capacity": (lambda d: d | {"capacities": [d["capacities"][0] | {"max_conc_meeting_slo": [1]}]},
                     "field 'capacities[0].max_conc_meeting_slo': [1]"),
    }  # fmt: skip
    for name, (change, words) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "report.json").write_text(json.dumps(change(good)))
        one_line_error(quanttui("compare", str(DEMO), str(folder)), "compare", words)
