"""A stand-in engine for recordings: prints a real vLLM start-up log, then serves with the simulator.

Usage (as a launcher `command`): python fake_engine.py LOGFILE SECONDS [simulator flags...]
The log lines are spread over SECONDS so start-up phases show one after the other.
"""

import os
import sys
import time
from pathlib import Path

log_path, seconds, *flags = sys.argv[1:]
lines = Path(log_path).read_text(encoding="utf-8").splitlines()
for line in lines:
    print(line, flush=True)
    time.sleep(float(seconds) / len(lines))  # start-up pacing, so each phase is seen (the point)
os.execv(sys.executable, [sys.executable, "-m", "quanttui.sim.server", *flags])
