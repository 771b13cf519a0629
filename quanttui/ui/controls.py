"""Keys to typed commands: what each console key asks of the session, and when it applies.

Pure (no Textual): the app's actions call these with what the screen shows and send the command
they return (None: the key does nothing in this mode or state).
"""

from __future__ import annotations

from quanttui.core.live import LiveState
from quanttui.session.commands import (
    Command,
    Pause,
    Resume,
    Seek,
    SetSpeed,
    StartRamp,
    StepDown,
    StepOnce,
    StepUp,
    Stop,
)

LIVE_ACTIONS = frozenset(
    {"start_ramp", "pause_ramp", "stop_ramp", "step_up", "step_down", "set_slo", "restart_engines"}
)
REPLAY_ACTIONS = frozenset({"pause_replay", "step", "seek", "speed"})
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def action_allowed(action: str, mode: str) -> bool:
    if action in LIVE_ACTIONS:
        return mode == "live"
    if action in REPLAY_ACTIONS:
        return mode == "replay"
    return True


def is_paused(state: LiveState, mode: str) -> bool:
    """As the session last said: the replay's status, or the ramp's."""
    if mode == "replay":
        return state.replay is not None and state.replay.paused
    return state.ramp_state == "paused"


def toggle_pause(state: LiveState, mode: str) -> Command:
    return Resume() if is_paused(state, mode) else Pause()


def simple(action: str) -> Command | None:
    """The keys whose command needs nothing from the screen."""
    return {
        "start_ramp": StartRamp(),
        "stop_ramp": Stop(),
        "step_up": StepUp(),
        "step_down": StepDown(),
        "step": StepOnce(),
    }.get(action)


def seek_by(state: LiveState, seconds: float) -> Seek:
    replay = state.replay
    position = replay.position if replay else state.now
    duration = replay.duration if replay else position + abs(seconds)
    return Seek(max(0.0, min(duration, position + seconds)))


def speed_notch(state: LiveState, direction: int) -> SetSpeed | None:
    """One notch along SPEEDS; a replay running as fast as possible (speed 0) is above them all."""
    current = state.replay.speed if state.replay else 1.0
    speed = current or float("inf")
    faster = [s for s in SPEEDS if s > speed]
    slower = [s for s in SPEEDS if s < speed]
    if direction > 0:
        return SetSpeed(faster[0]) if faster else None
    return SetSpeed(slower[-1] if slower else SPEEDS[0])
