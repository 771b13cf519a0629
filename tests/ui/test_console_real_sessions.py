"""The console on the real console sessions: a recording replayed, and a live ramp on simulated engines."""

import time
from pathlib import Path

import pytest
from console_fakes import UI_RECORDING

console_session = pytest.importorskip("quanttui.console_session")

from quanttui.core.loadplan import LoadPlan, Slo  # noqa: E402
from quanttui.core.prompts import DEFAULT_PROMPTS  # noqa: E402
from quanttui.io.openai_client import RequestOptions, Timeouts  # noqa: E402
from quanttui.session import EndpointSpec, SweepConfig  # noqa: E402
from quanttui.ui.app import QuanttuiApp  # noqa: E402
from quanttui.ui.run import exit_code, finish_session  # noqa: E402


async def wait_until(pilot, check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


async def test_replay_console_session(tmp_path):
    session = console_session.ReplayConsoleSession(UI_RECORDING, speed=None, hold_at_end=True)
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: session.at_end and not app.subscription.pending)
        app.refresh_view(force=True)
        await pilot.pause()
        assert app.screen.query_one("#status-knees").value == " ◆ knee bf16 c=8 "
        assert app.screen.query_one("#status-progress").value == " 0:17/0:17 max · step 4/4 c=8 "
        await pilot.press("space")
        assert session.paused
        await pilot.press("q")
        await wait_until(pilot, lambda: app.session_task.done(), 10)
    assert exit_code(app) == 0


async def test_live_console_session_on_simulated_engines(tmp_path, sim_server):
    bf16 = sim_server(
        model="bf16", ttft_ms=40, itl_ms=8, max_num_seqs=2, kv_cache_tokens=512, load_factor=0.3
    )
    awq = sim_server(model="awq", ttft_ms=30, itl_ms=5, max_num_seqs=4, kv_cache_tokens=2048)
    config = SweepConfig(
        endpoints=(EndpointSpec("bf16", bf16.url), EndpointSpec("awq", awq.url)),
        plan=LoadPlan(concurrencies=(1, 2), requests_per_step=4, slo=Slo(2000.0)),
        options=RequestOptions(max_tokens=8, ignore_eos=True),
        timeouts=Timeouts(),
        out_dir=tmp_path,
        scrape_interval_s=0.2,
    )
    session = console_session.LiveConsoleSession(config, list(DEFAULT_PROMPTS))
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: set(app.state.variants) == {"bf16", "awq"} and app.state.now > 0)
        app.refresh_view(force=True)
        assert "press s to start the ramp" in app.screen.query_one("#status-flags").value
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.sweep_end is not None)
        app.refresh_view(force=True)
        await pilot.pause()
        assert app.screen.query_one("#status-progress").value.endswith("step 2/2 c=2 ")
        kv = app.screen.query_one("#variant-0 .kv-text").value
        assert kv.endswith("of 512 tok")
        paths = app.on_export()
        assert all(Path(p).exists() for p in paths)
        await pilot.press("q")
        await wait_until(pilot, lambda: app.session_task.done(), 30)
    await finish_session(app)
    assert exit_code(app) == 0
    assert (tmp_path / "recording.jsonl").exists() and (tmp_path / "sweep.csv").exists()
