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
