"""The console end to end as `run_console` runs it: the session on its own thread behind a
`SessionHandle`, a recording replayed and a live ramp on simulated engines, from start to quit."""

import json
from pathlib import Path

from console_helpers import (
    UI_RECORDING,
    Seen,
    commands_in,
    console,
    live_config,
    recorded_events,
    redraw,
    replay_session,
    settle,
    wait_until,
)

from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.session import LiveSession, replay_headless
from quanttui.ui.run import exit_code, finish_session


def shown(app, selector: str) -> str:
    return app.screen.query_one(selector).value


async def test_replay_session_on_its_own_thread(tmp_path):
    session = replay_session()
    seen = Seen(session.stream)
    app = console(session, tmp_path, own_thread=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert shown(app, "#status-capacity") == " ◆ bf16 undecided at 1 · awq undecided at 1 "
        assert shown(app, "#status-progress") == " 0:17/0:17 max · step 4/4 c=8 "
        await pilot.press("space")
        await wait_until(pilot, lambda: app.state.replay.paused, what="the replay's paused status")
        assert seen.replay_statuses()[-1].paused and seen.replay_statuses()[-1].at_end
        await redraw(app, pilot)
        assert "PAUSED" in shown(app, "#status-flags")
        await pilot.press("q")
        await wait_until(pilot, lambda: app.session_task.done(), 10, what="the replay to stop")
    assert exit_code(app) == 0
    assert app.session_result.summary == (await replay_headless(UI_RECORDING)).summary


async def test_live_session_on_simulated_engines(tmp_path, sim_server):
    servers = {
        "bf16": sim_server(
            model="bf16", ttft_ms=40, itl_ms=8, max_num_seqs=2, kv_cache_tokens=512, load_factor=0.3
        ),
        "awq": sim_server(model="awq", ttft_ms=30, itl_ms=5, max_num_seqs=4, kv_cache_tokens=2048),
    }
    plan = LoadPlan(concurrencies=(1, 2), requests_per_step=4, slo=Slo(2000.0))
    session = LiveSession(live_config(tmp_path, servers, plan, max_tokens=8), list(DEFAULT_PROMPTS))
    app = console(session, tmp_path, own_thread=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(
            pilot,
            lambda: [v.state for v in app.state.variants.values()] == ["attached", "attached"],
            what="both endpoints",
        )
        await redraw(app, pilot)
        assert shown(app, "#status-mode") == " LIVE " and app.state.step is None  # waits for s
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.sweep_end is not None, what="the end of the ramp")
        await redraw(app, pilot)
        assert app.state.sweep_end == "completed"
        assert shown(app, "#status-progress").endswith("step 2/2 c=2 ")
        assert shown(app, "#variant-0 .kv-text").endswith("of 512 tok")
        app.action_export()  # a job on the session's thread; the files come back in a notification
        await wait_until(pilot, lambda: any(t == "exported" for t, _, _ in app.told), what="the export")
        ((_, message, severity),) = [n for n in app.told if n[0] == "exported"]
        paths = [Path(p) for p in message.splitlines()]
        assert severity == "information" and all(p.exists() for p in paths)
        assert paths[0].name.startswith("export-t0") and paths[0].name.endswith("s-summary.json")
        summary = json.loads(paths[0].read_text())
        assert [v["name"] for v in summary["variants"]] == ["bf16", "awq"]
        await pilot.press("q")
        await wait_until(pilot, lambda: app.session_task.done(), 30, what="the session to end")
    await finish_session(app)
    assert exit_code(app) == 0
    assert (tmp_path / "recording.jsonl").exists() and (tmp_path / "sweep.csv").exists()
    assert commands_in(recorded_events(tmp_path / "recording.jsonl")) == [("start", None)]
