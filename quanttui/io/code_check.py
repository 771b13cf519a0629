"""Running a code prompt's tiny assert against the model's code, outside our process.

Model output is untrusted: it runs in a separate `python -I` (isolated: no site, no environment
variables, no current directory on the path), in an empty temporary directory, with stdin closed,
a minimal environment, limits on CPU time, memory, file size and core files, and a wall-clock
timeout after which its whole process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile

from quanttui.core.triage import Flag

CPU_SECONDS = 5
MEMORY_BYTES = 512 * 2**20
FILE_BYTES = 1 * 2**20


def _limits() -> None:  # runs in the child between fork and exec
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()


def run_python_assert(code: str, assert_snippet: str, timeout_s: float = 5.0) -> Flag | None:
    """None when the assert passes; else a code_assert flag saying how it failed."""
    program = f"{code}\n\n{assert_snippet}\n"
    with tempfile.TemporaryDirectory(prefix="quanttui-check-") as folder:
        script = os.path.join(folder, "check.py")  # a file, so the traceback quotes the failing line
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(program)
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", script],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                preexec_fn=_limits,  # noqa: PLW1509 - no threads are started between fork and exec here
            )
        except OSError as exc:
            return Flag("code_assert", f"could not run the check: {exc}")
        try:
            _, err = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return Flag("code_assert", f"timed out after {timeout_s:g} s (an endless loop?)")
    if process.returncode == 0:
        return None
    lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    if process.returncode < 0:
        return Flag(
            "code_assert", f"killed by signal {-process.returncode} (a resource limit?) {last}".strip()
        )
    if last.startswith("AssertionError"):
        failing = next((ln.strip() for ln in reversed(lines) if ln.strip().startswith("assert ")), "")
        return Flag("code_assert", f"assert failed: {failing or last}"[:200])
    return Flag("code_assert", (last or f"exit code {process.returncode}")[:200])
