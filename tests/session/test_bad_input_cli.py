"""Bad input on the command line: one line naming the flag or file and the field, exit 2, nothing written."""

import subprocess
import sys

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
