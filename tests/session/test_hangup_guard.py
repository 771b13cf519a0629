"""The hang-up guard's backstop, in a real process: a main thread blocked for ever (as Textual's
loop was, on a full output queue of a dead terminal) still hears SIGHUP, hands the stop on, and the
process ends at the deadline with 128 + the signal."""

import signal
import subprocess
import sys
import time

PROGRAM = """
import pathlib, queue, sys
from quanttui.session.signals import HangupGuard

heard = pathlib.Path(sys.argv[1])
with HangupGuard(lambda signum: heard.write_text(str(signum)), deadline_s=float(sys.argv[2])):
    print("ready", flush=True)
    blocked = queue.Queue(1)
    blocked.put(1)
    blocked.put(2)  # never returns: nobody reads this queue
"""

QUIET_PROGRAM = """
import sys, threading
from quanttui.session.signals import HangupGuard

stopped = threading.Event()
with HangupGuard(lambda signum: stopped.set(), deadline_s=60):
    print("ready", flush=True)
    stopped.wait()
print("stopped cleanly", flush=True)
"""


def start(program: str, *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", program, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def test_a_blocked_main_thread_ends_at_the_deadline_after_sighup(tmp_path):
    heard = tmp_path / "heard"
    process = start(PROGRAM, str(heard), "1.0")
    began = time.monotonic()
    process.send_signal(signal.SIGHUP)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGHUP
    assert heard.read_text() == str(int(signal.SIGHUP))  # the stop request got out at once
    assert "still running 1 s after SIGHUP: ended now" in err
    assert time.monotonic() - began >= 1.0  # not before its deadline


def test_a_process_that_stops_in_time_exits_normally_and_the_deadline_never_fires():
    process = start(QUIET_PROGRAM)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and out == "stopped cleanly\n" and err == ""
