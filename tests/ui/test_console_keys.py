"""Keys are honest (issue 15): the help lists exactly the keys the console binds, and each key it
lists for a mode acts, or says why not, in every state of that mode: a live ramp waiting,
running, paused and finished; a replay; a live triage. The footer keeps Help and Quit and every
key of its screen at 80 columns.

Real sessions (simulated engines on 127.0.0.1, the shipped recordings); a key's effect is read
from what the session published (its OperatorCommand and status events) or from the notification
the console posted.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from console_helpers import (
    SHIPPED_TRIAGE,
    ConsoleApp,
    Seen,
    console,
    live_config,
    play,
    redraw,
    replay_app,
    replay_session,
    settle,
    wait_until,
)
from textual.app import App
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.core.triage import Tag
from quanttui.io.quality_file import default_quality_set
from quanttui.session import LiveSession
from quanttui.session.commands import REPLAY_SPEEDS, TagOutput
from quanttui.session.triage import TriageSpec
from quanttui.ui.controls import COMPARE_HELP, COMPUTE_HELP, KEY_HELP, MODES, action_allowed, help_text
from quanttui.ui.keys import compare_bindings, compute_bindings, monitor_bindings
from quanttui.ui.run import finish_session
from quanttui.ui.screens.compare import CompareScreen
from quanttui.ui.screens.compute import ComputeScreen
from quanttui.ui.screens.help import HelpScreen, help_rows
from quanttui.ui.screens.monitor import MonitorScreen
from quanttui.ui.screens.slo import SloScreen
from quanttui.ui.widgets.text import LiteralLine

SIZE = (80, 24)
display = App().get_key_display


@contextlib.asynccontextmanager
async def running(app: ConsoleApp, size: tuple[int, int] = SIZE) -> AsyncIterator[Pilot]:
    try:
        async with app.run_test(size=size) as pilot:
            yield pilot
    finally:
        await finish_session(app, grace_s=10)


def shown_keys(app: ConsoleApp) -> list[str]:
    return [key.key_display for key in app.screen.query(FooterKey)]


def footer_fits(app: ConsoleApp, width: int) -> bool:
    keys = list(app.screen.query(FooterKey))
    return bool(keys) and all(k.region.width > 0 and k.region.right <= width for k in keys)


async def footer_settled(app: ConsoleApp, pilot: Pilot) -> None:
    """The screen's footer laid out in 80 columns with Help and Quit first. Under load the footer
    can still show the previous screen's keys for a frame (seen in CI): it must settle, not be
    right at once."""
    await wait_until(
        pilot, lambda: footer_fits(app, 80) and shown_keys(app)[:2] == ["?", "q"],
        what="the footer laid out, Help and Quit first",
    )  # fmt: skip


def help_keys(app: ConsoleApp) -> list[str]:
    assert isinstance(app.screen, HelpScreen)
    return [line.value for line in app.screen.query(".help-key").results(LiteralLine)]


async def says(app: ConsoleApp, pilot: Pilot, key: str, words: str) -> None:
    """The key changes nothing the session would do, and a warning says why."""
    before = len(app.told)
    await pilot.press(key)
    await wait_until(pilot, lambda: len(app.told) > before, what=f"{key!r} to say why it cannot act")
    title, message, severity = app.told[-1]
    assert words in message and severity == "warning", (key, message)


async def sends(app: ConsoleApp, pilot: Pilot, seen: Seen, key: str, command: str) -> None:
    before = len(seen.commands())
    told = len(app.told)
    await pilot.press(key)
    await wait_until(pilot, lambda: len(seen.commands()) > before, what=f"{key!r} to send {command}")
    assert seen.commands()[-1][0] == command and len(app.told) == told


async def opens(app: ConsoleApp, pilot: Pilot, key: str, screen: type) -> None:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, screen), what=f"{key!r} to open {screen.__name__}")
    await pilot.press("escape")
    await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), what="the monitor again")


async def everywhere_keys(app: ConsoleApp, pilot: Pilot, mode: str) -> None:
    """The keys every mode has: help (listing exactly this mode's keys), logs, Compare, palette."""
    await pilot.press("question_mark")
    await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
    expected = [
        *help_rows(monitor_bindings(), mode, display),
        *help_rows(compare_bindings(), mode, display),
        *help_rows(compute_bindings(), mode, display),
    ]
    assert help_keys(app) == [keys for keys, _ in expected]
    await pilot.press("escape")
    await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), what="the monitor again")
    await pilot.press("L")
    assert app.screen.has_class("-logs") and app.screen.query_one("#logs").display
    await pilot.press("L")
    assert not app.screen.has_class("-logs")
    await opens(app, pilot, "c", CompareScreen)
    await opens(app, pilot, "g", ComputeScreen)
    await opens(app, pilot, "ctrl+p", CommandPalette)


# -- the help and the bindings ------------------------------------------------------------------------
def test_help_is_made_from_the_bindings_and_documents_each_of_them():
    monitor, compare, compute = monitor_bindings(), compare_bindings(), compute_bindings()
    # Every described key is bound and every bound key is described (no drift either way).
    assert {b.action.removeprefix("app.") for b in monitor} == set(KEY_HELP)
    assert {b.action.removeprefix("app.") for b in compare} == set(COMPARE_HELP) | {"help", "quit"}
    assert {b.action.removeprefix("app.") for b in compute} == set(COMPUTE_HELP) | {"help", "quit"}
    for mode in MODES:
        rows = help_rows(monitor, mode, display)
        listed = [b for b in monitor if help_text(b.action, mode) is not None]
        assert [keys for keys, _ in rows] == [
            " ".join(display(type(b)(k, b.action)) for k in b.key.split(",")) for b in listed
        ]
        for binding in monitor:  # the footer (check_action) shows what the help lists, nothing else
            allowed = action_allowed(binding.action.removeprefix("app.").partition("(")[0], mode)
            assert allowed == (help_text(binding.action, mode) is not None), (mode, binding.action)
    assert [k for k, _ in help_rows(monitor, "replay", display)][:2] == ["?", "q"]
    assert "s" not in [k for k, _ in help_rows(monitor, "triage", display)]


# -- a replay -------------------------------------------------------------------------------------------
async def test_replay_keys_act_or_say_why_not(tmp_path):
    session = replay_session()  # held at its start, paused
    seen = Seen(session.stream)
    app = console(session, tmp_path)

    def replay():
        return app.state.replay

    async with running(app) as pilot:
        await wait_until(pilot, lambda: replay() is not None and replay().paused, what="the replay, paused")
        await says(app, pilot, "left", "the replay is at its start")
        await settle(app, pilot)  # plays to its end, as fast as possible
        await footer_settled(app, pilot)
        assert "Start" not in [k.description for k in app.screen.query(FooterKey)]  # live keys are off
        await says(app, pilot, "full_stop", "the replay is at its end")
        await says(app, pilot, "right", "the replay is at its end")
        await says(app, pilot, "right_square_bracket", "already as fast as possible")
        await pilot.press("space")
        await wait_until(pilot, lambda: replay().paused, what="space to pause")
        for speed in reversed(REPLAY_SPEEDS):  # from as fast as possible down to the slowest notch
            await pilot.press("left_square_bracket")
            await wait_until(pilot, lambda speed=speed: replay().speed == speed, what=f"{speed}x")
        await says(app, pilot, "left_square_bracket", "already at the slowest speed")
        await pilot.press("left")
        await wait_until(pilot, lambda: app.state.resets == 1 and not replay().at_end, what="a seek back")
        position = replay().position
        await pilot.press("n")
        await wait_until(pilot, lambda: replay().position > position, what="one event forward")
        await everywhere_keys(app, pilot, "replay")
        statuses = len(seen.replay_statuses())
        await pilot.press("s", "x", "p", "plus", "R", "l")  # not replay keys: off, as the help says
        assert not isinstance(app.screen, SloScreen) and len(seen.replay_statuses()) == statuses
        assert seen.commands() == []


# -- a live ramp ----------------------------------------------------------------------------------------
def attached(tmp_path: Path, sim_server) -> LiveSession:
    servers = {
        "bf16": sim_server("m-bf16", ttft_ms=150, itl_ms=50, kv_cache_tokens=512),
        "awq": sim_server("m-awq", ttft_ms=100, itl_ms=40, kv_cache_tokens=2048),
    }
    plan = LoadPlan(concurrencies=(1, 2, 4), requests_per_step=100_000, slo=Slo(800.0))
    return LiveSession(live_config(tmp_path, servers, plan), list(DEFAULT_PROMPTS), autostart=False)


async def test_live_keys_act_or_say_why_not_waiting_running_paused_and_finished(tmp_path, sim_server):
    session = attached(tmp_path, sim_server)
    seen = Seen(session.stream)
    app = console(session, tmp_path)
    async with running(app) as pilot:
        await wait_until(
            pilot, lambda: len(app.state.variants) == 2 and app.state.ramp_state == "waiting", what="waiting"
        )
        await redraw(app, pilot)
        await footer_settled(app, pilot)
        assert {"s", "p", "x", "+", "-", "l", "L", "c"} <= set(shown_keys(app))
        # waiting
        for key in ("p", "plus", "minus"):
            await says(app, pilot, key, "the ramp has not started: s starts it")
        await says(app, pilot, "R", "nothing to restart: these endpoints were not started by quanttui")
        await opens(app, pilot, "l", SloScreen)
        await everywhere_keys(app, pilot, "live")
        await sends(app, pilot, seen, "s", "start")
        # running
        await wait_until(pilot, lambda: app.state.step_concurrency == 1, what="the first step")
        await says(app, pilot, "s", "the ramp is already running")
        await says(app, pilot, "minus", "already at concurrency 1")
        await sends(app, pilot, seen, "plus", "step_up")
        await wait_until(pilot, lambda: app.state.step_concurrency == 2, what="the step at c=2")
        await sends(app, pilot, seen, "minus", "step_down")
        await sends(app, pilot, seen, "p", "pause")
        # paused
        await wait_until(pilot, lambda: app.state.ramp_state == "paused", what="paused")
        await says(app, pilot, "s", "the ramp is paused: p resumes it")
        await opens(app, pilot, "l", SloScreen)
        await sends(app, pilot, seen, "p", "resume")
        await sends(app, pilot, seen, "x", "stop")
        # finished: the ramp and its session ended
        await wait_until(pilot, lambda: app.session_task.done(), what="the session to end")
        for key, words in (
            ("s", "nothing to start"), ("p", "nothing to pause"), ("x", "nothing to stop (q quits)"),
            ("plus", "no concurrency to change"), ("minus", "no concurrency to change"),
            ("l", "the SLO is fixed"), ("R", "engines are not restarted"),
        ):  # fmt: skip
            await says(app, pilot, key, f"the sweep has finished: {words}")
        await everywhere_keys(app, pilot, "live")
        commands = len(seen.commands())
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="q to quit")
    assert len(seen.commands()) == commands


# -- a live triage -------------------------------------------------------------------------------------
async def test_triage_keys_act_or_say_why_not(tmp_path, sim_server):
    from quanttui.io.openai_client import RequestOptions, Timeouts
    from quanttui.session import EndpointSpec, SweepConfig

    # Slow enough that the triage is still under way when x is pressed.
    a, b = sim_server("a", ttft_ms=100, itl_ms=20), sim_server("b", ttft_ms=100, itl_ms=20)
    config = SweepConfig(
        endpoints=(EndpointSpec("bf16", a.url), EndpointSpec("awq", b.url)),
        plan=LoadPlan(concurrencies=(1,), requests_per_step=1), options=RequestOptions(), timeouts=Timeouts(),
        out_dir=tmp_path,
    )  # fmt: skip
    spec = TriageSpec(default_quality_set(), top_logprobs=0)
    session = LiveSession(config, list(DEFAULT_PROMPTS), None, autostart=True, triage=spec, triage_only=True)
    seen = Seen(session.stream)
    app = console(session, tmp_path)
    async with running(app) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the Compare screen")
        await wait_until(pilot, lambda: app.triage.rows, what="a first prompt")
        await pilot.pause()
        await footer_settled(app, pilot)
        assert {"e", "esc", "u"} <= {k.strip("/") for k in shown_keys(app)}
        await says(app, pilot, "r", "nothing to run here")  # the triage runs already
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), what="the monitor")
        await pilot.pause()
        assert [k for k in shown_keys(app) if k in ("s", "p", "+", "l", "x")] == ["x"]
        await everywhere_keys(app, pilot, "triage")
        await pilot.press("s", "p", "plus", "l")  # not triage keys: off, as the help says
        assert not isinstance(app.screen, SloScreen) and seen.commands() == []
        await sends(app, pilot, seen, "x", "stop")
        await wait_until(pilot, lambda: app.session_task.done(), what="the triage to stop")
        await says(app, pilot, "x", "the triage has been stopped: nothing to stop")


# -- the Compare screen --------------------------------------------------------------------------------
async def test_compare_says_when_the_filter_hides_every_prompt(tmp_path):
    recording = tmp_path / "triage.jsonl"
    shutil.copy(SHIPPED_TRIAGE, recording)
    app = replay_app(tmp_path / "out", recording)
    async with running(app) as pilot:
        await settle(app, pilot)
        for row in app.triage.rows.values():  # every answer tagged ok, through the session
            for variant in app.triage.variants:
                app.handle.send(TagOutput(Tag(row.prompt.prompt_id, variant, "ok"))).result(30)
        await wait_until(pilot, lambda: app.triage.counts()["untagged"] == 0, what="every answer tagged")
        app.action_compare()
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, CompareScreen) and app.screen.panes == list(app.triage.variants),
            what="the Compare screen with its panes",
        )
        await footer_settled(app, pilot)
        await pilot.press("u")
        await wait_until(
            pilot,
            lambda: (
                "No prompt is untagged.  Press a to show every prompt."
                in str(app.screen.query_one("#cmp-prompt-text").render())
            ),
            what="the empty filter's message",
        )
        assert "Press r" not in str(app.screen.query_one("#cmp-prompt-text").render())
        await says(app, pilot, "o", "nothing to tag: the filter hides every prompt")
        await says(app, pilot, "r", "nothing to run here")


@pytest.mark.parametrize("width", [80, 120, 200])
async def test_footer_keeps_help_quit_and_every_key_of_the_screen(tmp_path, width):
    app = replay_app(tmp_path)
    async with running(app, (width, 24)) as pilot:
        await play(app, pilot)
        await pilot.pause()
        await wait_until(pilot, lambda: footer_fits(app, width), what="the footer laid out")
        assert shown_keys(app)[:2] == ["?", "q"]
        shown = {k.action for k in app.screen.query(FooterKey)} - {"command_palette"}
        expected = {b.action for b in monitor_bindings() if b.show and help_text(b.action, "replay")}
        assert shown == expected - {"command_palette"}
        assert ("^p" in shown_keys(app)) == (width >= 100)  # the help lists it at every width


def test_a_step_up_typed_before_the_first_step_is_the_sessions_to_take():
    """`s +` typed fast: the ramp runs but no step has begun; + goes to the session (which counts
    from the plan's first level), - has nowhere to go yet and says so."""
    from quanttui.core.events import RampStatus
    from quanttui.core.live import LiveState
    from quanttui.ui.controls import refusal

    state = LiveState(LoadPlan(concurrencies=(1, 2, 4)))
    state.apply(RampStatus(t=1.0, state="running"))
    assert state.step_concurrency is None
    assert refusal("step_up", state) is None
    assert refusal("step_down", state) == "no step has started yet: the concurrency changes once one runs"
