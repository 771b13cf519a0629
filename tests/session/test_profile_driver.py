"""A live session's profile run and the ramp (issue 18), on a real simulated engine: the ramp is
held while anything is profiled and released after; the operator's own pause is theirs (it survives
the hold and a toggle during it does not lift the hold); a start asked for meanwhile happens after;
a run that starts nothing holds nothing. The simulator has no profiler, so each capture ends in
its /start_profile 404: the run still ends with its events."""

import asyncio

from quanttui.core.clock import SessionClock
from quanttui.core.compute_events import ProfileFinished, ProfileStarted, ProfileUnavailable
from quanttui.core.events import Event, RampStatus
from quanttui.core.loadplan import LoadPlan
from quanttui.session.profiling import ProfileDriver, ProfileTarget
from quanttui.session.ramp import RampControl


def setup(tmp_path, started: bool):
    events: list[Event] = []
    clock = SessionClock()
    control = RampControl(LoadPlan(concurrencies=(1,)), events.append, clock, started=started)
    driver = ProfileDriver(events.append, clock, tmp_path / "traces", lambda line: None)
    return events, control, driver


def target(server, tmp_path, name: str = "bf16") -> ProfileTarget:
    return ProfileTarget(name, name, server.url, "sim", tmp_path, None)


async def test_the_ramp_is_held_then_released_and_the_operator_s_pause_survives(sim_server, tmp_path):
    server = sim_server(ttft_ms=200, itl_ms=20)  # the warm-up request takes a while: the run is not instant
    events, control, driver = setup(tmp_path, started=True)
    assert driver.start([target(server, tmp_path)], control, None, None)
    await asyncio.sleep(0.05)
    assert control.held and control.paused and not control.operator_paused
    assert [e.state for e in events if isinstance(e, RampStatus)][-1] == "paused"  # the hold is said
    control.pause()  # the operator presses p during the profile: their pause, recorded
    assert control.operator_paused
    control.resume()  # and again: their pause is lifted, the hold is not
    assert control.held and control.paused
    control.pause()
    await driver.task
    assert not control.held and control.operator_paused and control.paused  # still the operator's
    assert [e.state for e in events if isinstance(e, RampStatus)][-1] == "paused"
    started = [e for e in events if isinstance(e, ProfileStarted)]
    assert [s.paused_ramp for s in started] == [True]
    (unavailable,) = [e for e in events if isinstance(e, ProfileUnavailable)]
    assert "no /start_profile" in unavailable.reason and unavailable.variant == "bf16"
    assert [e.reason for e in events if isinstance(e, ProfileFinished)] == ["failed"]
    assert "paused" in [e.state for e in events if isinstance(e, RampStatus)]


async def test_a_start_asked_for_meanwhile_happens_after_and_a_waiting_ramp_is_not_held(sim_server, tmp_path):
    server = sim_server(ttft_ms=200, itl_ms=20)
    events, control, driver = setup(tmp_path, started=False)
    assert driver.start([target(server, tmp_path)], control, None, None)
    await asyncio.sleep(0.05)
    assert not control.held  # nothing ran: nothing to hold
    driver.then(control.start)
    assert not control.started
    await driver.task
    assert control.started and not control.paused
    assert [s.paused_ramp for s in events if isinstance(s, ProfileStarted)] == [False]


async def test_nothing_profilable_holds_nothing_and_one_run_at_a_time(sim_server, tmp_path):
    server = sim_server()
    events, control, driver = setup(tmp_path, started=True)
    unavailable = ProfileTarget("gguf", "gguf", server.url, "sim", None, "not available for this engine")
    assert driver.start([unavailable], control, None, None)
    assert not driver.start([unavailable], control, None, None)  # one at a time
    await driver.task
    assert not control.paused
    assert [e.reason for e in events if isinstance(e, ProfileUnavailable)] == [
        "not available for this engine"
    ]


def test_a_hold_is_said_as_paused_and_its_release_as_running(tmp_path):
    events, control, _ = setup(tmp_path, started=True)
    control.announce()
    assert control.hold() and not control.hold()  # one hold at a time
    control.release()
    assert [e.state for e in events if isinstance(e, RampStatus)] == ["running", "paused", "running"]
    assert "pause" not in [getattr(e, "command", None) for e in events]  # not an operator command
