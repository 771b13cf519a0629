"""Runs the console on the UI test recording in a real terminal (the tmux smoke test starts this).

python tests/console_app_main.py OUT_DIR [replay|live] [THEME]
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from console_fakes import FakeLiveSession, FakeReplaySession  # noqa: E402

from quanttui.ui import run_console  # noqa: E402

if __name__ == "__main__":
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "pid").write_text(str(os.getpid()))
    kind = sys.argv[2] if len(sys.argv) > 2 else "replay"
    theme = sys.argv[3] if len(sys.argv) > 3 else None
    session = FakeLiveSession() if kind == "live" else FakeReplaySession()
    code = run_console(session, out_dir, theme=theme)
    (out_dir / "exit-code").write_text(f"{code} {session.calls}\n")
    sys.exit(code)
