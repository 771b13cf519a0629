"""Bad input on the command line: one line naming the flag or file and the field, exit 2, nothing written."""

import subprocess
import sys
import time
from pathlib import Path

import pytest


def quanttui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("name", ["../../victim", "a/b", ".hidden", "x\x1b]0;t\x07", "a" * 41, "é"])
def test_a_variant_name_that_could_name_a_path_is_refused(tmp_path, name):
    done = quanttui("sweep", "--endpoint", f"{name}=http://127.0.0.1:9", "--concurrency", "1",
                    "--requests-per-step", "1", "--max-tokens", "4", "--out", str(tmp_path / "o"))  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not allowed (1-40 characters: letters, digits" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "o").exists()
    assert "\x1b" not in done.stderr


HEADER = (
    '{"format": "quanttui-recording", "schema": 2, "quanttui": "0", "started_utc": "x", "host": {}, '
    '"config": {"endpoints": [{"name": "bf16"}, {"name": "awq"}]}}\n'
)


def recording(tmp_path, *lines: str) -> str:
    path = tmp_path / "r.jsonl"
    path.write_text(HEADER + "".join(line + "\n" for line in lines))
    return str(path)


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda tmp: str(tmp), "is a folder, not a recording"),
        (lambda tmp: recording(tmp, "[" * 100_000 + "]" * 100_000), ":2: nested too deeply"),
        (
            lambda tmp: recording(tmp, '{"type": "OperatorNote", "t": -5, "text": "x"}'),
            ":2: OperatorNote field 't': expected seconds since the start (>= 0), got -5.0",
        ),
        (
            lambda tmp: recording(tmp, '{"type": "OperatorNote", "t": 1, "text": "x", "variant": "gptq"}'),
            ":2: OperatorNote field 'variant': 'gptq' is not a variant of this recording (its header has awq, bf16)",
        ),
    ],
)
@pytest.mark.parametrize(
    "command", [["replay", "--headless"], ["report", "--out", "REPORT"], ["triage", "--from"]]
)
def test_a_recording_that_is_not_one_is_refused_by_every_reader(tmp_path, make, needle, command):
    target = make(tmp_path)
    args = [a.replace("REPORT", str(tmp_path / "rep")) for a in command]
    done = quanttui(*args[:1], *([target] if args[0] != "triage" else []), *args[1:],
                    *([target] if args[0] == "triage" else []))  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in done.stderr


SWEEP = ["sweep", "--endpoint", "a=http://127.0.0.1:9", "--requests-per-step", "1", "--max-tokens", "4"]


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--concurrency", "1", "--endpoint", "b=http://127.0.0.1:99999"], "Port out of range"),
        (["--concurrency", "1,,2"], "--concurrency '1,,2': expected whole numbers"),
        ([], "give the ramp: --concurrency LIST, --rate LIST or --workload long-prefill"),
        (["--rate", "1,x"], "--rate: 'x' is not a number of requests/s"),
        (["--rate", "0"], "--rate: '0': a rate must be > 0"),
        (["--rate", "1", "--concurrency", "2"], "cap them with --max-concurrency"),
        (["--concurrency", "1", "--arrivals", "gamma"], "--arrivals applies to open-loop steps"),
        (["--rate", "1", "--arrivals", "poisson", "--burstiness", "2"], "burstiness applies to gamma"),
        (["--rate", "1", "--burstiness", "0"], "argument --burstiness: '0': must be > 0"),
        (["--rate", "1", "--max-concurrency", "0"], "--max-concurrency must be >= 1"),
        (["--rate", "1", "--workload", "long-prefill"], "--rate and --workload long-prefill"),
        (["--workload", "long-prefill", "--concurrency", "1,2"], "runs at one --concurrency"),
        (["--input-lengths", "64,0"], "--input-lengths '64,0': every value must be >= 1"),
        (["--concurrency", "1", "--scrape-interval", "0"], "argument --scrape-interval: '0': must be > 0"),
        (
            ["--concurrency", "1", "--temperature", "nan"],
            "argument --temperature: 'nan': expected a finite number",
        ),
        (["--concurrency", "1", "--temperature", "-0.5"], "argument --temperature: '-0.5': must be >= 0"),
        (["--concurrency", "1", "--idle-timeout", "inf"], "expected a finite number"),
        (["--concurrency", "1", "--prompts", "PROMPTS.csv"], "not .csv"),
    ],
)
def test_bad_numbers_and_files_on_the_command_line_are_one_line(tmp_path, extra, needle):
    (tmp_path / "PROMPTS.csv").write_text("prompt\nhello\n")
    args = [a.replace("PROMPTS.csv", str(tmp_path / "PROMPTS.csv")) for a in extra]
    done = quanttui(*SWEEP, *args, "--out", str(tmp_path / "o"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()  # bad input writes nothing


def test_a_report_price_must_be_finite(tmp_path):
    shipped = str(Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-bf16-awq.jsonl")
    done = quanttui("report", shipped, "--gpu-usd-per-hour", "inf", "--out", str(tmp_path / "r"))
    assert done.returncode == 2 and "expected a finite number" in done.stderr
    assert not (tmp_path / "r").exists()


def test_a_load_the_machine_cannot_hold_is_refused_at_once(tmp_path):
    started = time.monotonic()
    done = quanttui(*SWEEP, "--concurrency", "1,100000000", "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and time.monotonic() - started < 30
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "1 variant(s) x 100,000,000 streams need" in lines[0]
    assert "streams per variant" in lines[0] and not (tmp_path / "o").exists()
