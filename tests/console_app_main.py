"""Runs the console on a real session in a real terminal (the tmux smoke tests start this).

python tests/console_app_main.py OUT_DIR [replay|live] [THEME]

replay: the UI test recording (tests/data/recordings/ui-sim.jsonl) as fast as possible, held at
its end. live: an attached sweep of two simulated servers (started here, stopped on the way out)
that waits for the operator's s; it records into OUT_DIR. On the way out it writes OUT_DIR/events.jsonl
(every event the session published once the console was about to start, one encoded event per
line) and OUT_DIR/exit-code (the console's exit code).
"""

import os
import sys
from pathlib import Path

from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.core.recording import encode_event
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.session import EndpointSpec, LiveSession, ReplaySession, SweepConfig
from quanttui.sim.process import start_sim_server
from quanttui.ui import run_console

UI_RECORDING = Path(__file__).parent / "data" / "recordings" / "ui-sim.jsonl"


def live_session(out_dir: Path, servers: list) -> LiveSession:
    bf16 = start_sim_server("m-bf16", ttft_ms=40, itl_ms=20, kv_cache_tokens=512)
    servers.append(bf16)
    awq = start_sim_server("m-awq", ttft_ms=30, itl_ms=10, kv_cache_tokens=2048)
    servers.append(awq)
    config = SweepConfig(
        endpoints=(
            EndpointSpec("bf16", bf16.url, precision="bf16"),
            EndpointSpec("awq", awq.url, precision="awq"),
        ),
        plan=LoadPlan(concurrencies=(1, 2, 4), requests_per_step=100_000, slo=Slo(800.0)),
        options=RequestOptions(max_tokens=4, ignore_eos=True),
        timeouts=Timeouts(),
        out_dir=out_dir,
        scrape_interval_s=0.2,
        gpu_interval_s=0.2,
    )
    return LiveSession(config, list(DEFAULT_PROMPTS), autostart=False)


def main() -> int:
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "pid").write_text(str(os.getpid()))
    kind = sys.argv[2] if len(sys.argv) > 2 else "replay"
    theme = sys.argv[3] if len(sys.argv) > 3 else None
    servers: list = []
    try:
        if kind == "live":
            session = live_session(out_dir, servers)
        else:
            session = ReplaySession(UI_RECORDING, speed=None, hold_at_end=True)
        seen = session.stream.subscribe("console_app_main")
        code = run_console(session, out_dir, theme=theme)
        lines = [encode_event(e) + "\n" for e in seen.drain()]
        (out_dir / "events.jsonl").write_text("".join(lines), encoding="utf-8")
    finally:
        for server in servers:
            server.stop()
    (out_dir / "exit-code").write_text(f"{code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
