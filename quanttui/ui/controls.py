"""Keys to typed commands: what each console key asks of the session, and in which mode.

Pure (no Textual). Keys whose effect depends on where the session stands (pause or resume, seek
from here, the next speed) send commands the session resolves itself (TogglePause, SeekBy,
SpeedStep), so keys typed ahead of the screen still do what they say.
"""

from __future__ import annotations

from quanttui.core.live import LiveState
from quanttui.session.commands import (
    Command,
    SeekBy,
    SpeedStep,
    StartRamp,
    StepDown,
    StepOnce,
    StepUp,
    Stop,
    TogglePause,
)

LIVE_ACTIONS = frozenset(
    {"start_ramp", "pause_ramp", "stop_ramp", "step_up", "step_down", "set_slo", "restart_engines"}
)
REPLAY_ACTIONS = frozenset({"pause_replay", "step", "seek", "speed"})


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


def command_for(action: str, argument: float = 0.0) -> Command | None:
    """The command of a key's action (None: the action sends nothing)."""
    match action:
        case "start_ramp":
            return StartRamp()
        case "stop_ramp":
            return Stop()
        case "step_up":
            return StepUp()
        case "step_down":
            return StepDown()
        case "pause_ramp" | "pause_replay":
            return TogglePause()
        case "step":
            return StepOnce()
        case "seek":
            return SeekBy(argument)
        case "speed":
            return SpeedStep(int(argument))
    return None
