"""What does the console cost? CPU time of the UI and event-loop lag while a recording replays fast.

Two runs of the same replay (a recording made here by a simulated sweep at concurrency up to 32,
so it has tens of thousands of events): headless (the session alone: replayer, recorder-free
aggregator) and with the Textual app on a 200x60 virtual screen with every panel visible. The
difference in process CPU time is the UI's cost. Meanwhile a probe task sleeps 5 ms again and again
and records how late it wakes: that lateness is the event-loop lag the load generator would see.
The probe runs on the session's loop: its own thread in the console (the default), and, as a
comparison, the app's own loop (`session_thread=False`, how the console ran before).

Usage: `python bench/tui_cost.py [--quick]`; writes bench/results/tui_cost.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quanttui.core.stats import percentile
from quanttui.session import ReplaySession
from quanttui.session.handle import SessionHandle
from quanttui.session.thread import responsive_switching
from quanttui.sim.process import start_sim_server

RESULTS = Path(__file__).parent / "results"
PROBE_S = 0.005


def make_recording(folder: Path, quick: bool) -> Path:
    """A real sweep against two simulated engines: many requests, /metrics every 0.2 s."""
    steps = "1,4,16" if quick else "1,4,16,32"
    with (
        start_sim_server("bf16", ttft_ms=40, itl_ms=8, max_num_seqs=16, load_factor=0.05) as a,
        start_sim_server("awq", ttft_ms=30, itl_ms=5, max_num_seqs=32, load_factor=0.03) as b,
    ):
        done = subprocess.run(
            [sys.executable, "-m", "quanttui", "sweep", "--endpoint", f"bf16={a.url}", "--endpoint",
             f"awq={b.url}", "--concurrency", steps, "--requests-per-step", "48" if quick else "160",
             "--max-tokens", "48", "--ignore-eos", "--scrape-interval", "0.2", "--out", str(folder)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"making the recording failed: {done.stderr.strip()[-400:]}")
    return folder / "recording.jsonl"


async def _probe(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        due = loop.time() + PROBE_S
        await asyncio.sleep(PROBE_S)
        lags.append(max(0.0, loop.time() - due))


async def headless(path: Path, speed: float) -> dict[str, float]:
    session = ReplaySession(path, speed=speed)
    lags: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe(lags, stop))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await session.run()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stop.set()
    await probe
    return _row(cpu, wall, lags, session.info.duration)


async def with_console(path: Path, speed: float, out: Path, threaded: bool) -> dict[str, float]:
    """The probe runs where the load generator would: on the session's loop (its own thread, the
    default) or, with threaded=False, on the app's loop beside the UI (how it was before)."""
    from quanttui.ui.app import QuanttuiApp

    session = ReplaySession(path, speed=speed)
    app = QuanttuiApp(SessionHandle(session, own_thread=threaded), out)
    lags: list[float] = []
    stop = asyncio.Event()
    with responsive_switching_if(threaded):
        return await _console_run(app, session, lags, stop)


async def _console_run(
    app: Any, session: ReplaySession, lags: list[float], stop: asyncio.Event
) -> dict[str, float]:
    async with app.run_test(size=(200, 60)) as pilot:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if app.handle.own_thread:
            while app.session_task is None:
                await pilot.pause(0.01)
            stop_threadsafe = threading.Event()
            probe = app.handle.spawn(_probe_threadsafe(lags, stop_threadsafe))
        else:
            task = asyncio.create_task(_probe(lags, stop))
        while app.session_task is None or not app.session_task.done():
            await pilot.pause(0.05)
        await pilot.pause(0.3)  # the last redraw
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if app.handle.own_thread:
            stop_threadsafe.set()
            with contextlib.suppress(Exception):
                probe.result(1)
        else:
            stop.set()
            await task
    return _row(cpu, wall, lags, session.info.duration)


def responsive_switching_if(threaded: bool) -> contextlib.AbstractContextManager[None]:
    """As run_console does: a 1 ms GIL switch interval while the session has its own thread."""
    return responsive_switching() if threaded else contextlib.nullcontext()


async def _probe_threadsafe(lags: list[float], stop: threading.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        due = loop.time() + PROBE_S
        await asyncio.sleep(PROBE_S)
        lags.append(max(0.0, loop.time() - due))


def _row(cpu: float, wall: float, lags: list[float], duration: float) -> dict[str, float]:
    return {
        "recording_s": round(duration, 1),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_util": round(cpu / wall, 3) if wall else 0.0,
        "lag_p50_ms": round((percentile(lags, 50) or 0) * 1000, 2),
        "lag_p99_ms": round((percentile(lags, 99) or 0) * 1000, 2),
        "lag_max_ms": round(max(lags, default=0) * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--speed", type=float, default=20.0, help="replay speed (x real time)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        recording = make_recording(Path(tmp) / "rec", args.quick)
        events = sum(1 for _ in recording.open()) - 1
        base = asyncio.run(headless(recording, args.speed))
        ui = asyncio.run(with_console(recording, args.speed, Path(tmp) / "ui", threaded=True))
        shared = asyncio.run(with_console(recording, args.speed, Path(tmp) / "ui1", threaded=False))
    result = {
        "bench": "tui_cost",
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "python": platform.python_version()},
        "events": events,
        "speed": args.speed,
        "headless": base,
        "console_200x60": ui,
        "console_200x60_one_loop": shared,
        "ui_cpu_s": round(ui["cpu_s"] - base["cpu_s"], 2),
        "ui_cpu_per_recorded_s_ms": round(
            (ui["cpu_s"] - base["cpu_s"]) / max(base["recording_s"], 1e-9) * 1000, 1
        ),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tui_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        f"# tui_cost ({result['date_utc']})",
        "",
        f"Replay of a {base['recording_s']} s recording ({events} events) at {args.speed:g}x real time.",
        "",
        "| run | wall | CPU | CPU / wall | loop lag p50 | loop lag p99 | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows = (
        ("headless (session only)", base),
        ("console 200x60, all panels (session on its own thread)", ui),
        ("console 200x60, all panels, session on the UI's loop", shared),
    )
    for name, row in rows:
        md.append(
            f"| {name} | {row['wall_s']} s | {row['cpu_s']} s | {row['cpu_util']:.0%} | {row['lag_p50_ms']} ms "
            f"| {row['lag_p99_ms']} ms | {row['lag_max_ms']} ms |"
        )
    md += [
        "",
        f"UI cost: {result['ui_cpu_s']} s of CPU, {result['ui_cpu_per_recorded_s_ms']} ms per recorded second.",
        "",
    ]
    (args.out / "tui_cost.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
