"""Keys to typed commands: what each console key asks of the session, in which mode it applies,
what the help screen says about it, and why a key cannot act where the session stands.

Pure (no Textual). The Binding objects live with the app and its screens; this module keys
everything by their action, so the help screen (generated from the same bindings), the footer
(`action_allowed`, the app's check_action) and the actions themselves cannot drift apart; a
test checks every binding against `KEY_HELP` and back. Keys whose effect depends on where the
session stands (pause or resume, seek from here, the next speed) send commands the session
resolves itself (TogglePause, SeekBy, SpeedStep), so keys typed ahead of the screen still do
what they say; `refusal` only speaks when the screen is up to date with the session.
"""

from __future__ import annotations

from quanttui.core.live import LiveState
from quanttui.session.commands import (
    REPLAY_SPEEDS,
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

MODES = ("live", "replay", "triage")  # a triage is a live session that runs the quality prompts only
ALL = "*"

# What each monitor key does, per mode (ALL: the same in every mode). A key without an entry for
# a mode is hidden from that mode's footer and help, and does nothing there.
KEY_HELP: dict[str, dict[str, str]] = {
    "help": {ALL: "this help (esc closes it)"},
    "quit": {
        "live": "quit (the session stops its engines first; q again forces)",
        "triage": "quit (the session stops its engines first; q again forces)",
        "replay": "quit",
    },
    "start_ramp": {"live": "start the ramp"},
    "pause_ramp": {"live": "pause / resume the ramp (in-flight requests finish)"},
    "stop_ramp": {
        "live": "stop the ramp now: the step in progress ends, then the engines stop and the "
        "recording and sweep.csv are written (q then quits)",
        "triage": "stop the triage after the prompt in progress (the engines then stop)",
    },
    "step_up": {"live": "step concurrency up (the step in progress ends, a new one starts)"},
    "step_down": {"live": "step concurrency down"},
    "set_slo": {"live": "set the p95 SLO (ms)"},
    "restart_engines": {"live": "restart engines that failed or stopped (they rejoin at the next step)"},
    "pause_replay": {"replay": "pause / resume playback"},
    "step": {"replay": "one event forward (pauses first)"},
    "seek(-10)": {"replay": "seek 10 s back"},
    "seek(10)": {"replay": "seek 10 s forward"},
    "speed(-1)": {"replay": "slower"},
    "speed(1)": {"replay": "faster"},
    "toggle_logs": {ALL: "engine logs: the panes full size / back (small terminals show one line)"},
    "cycle_y": {ALL: "the chart against load: y shows the SLO's p95, its other bounds, then tok/s per step"},
    "scroll('up')": {ALL: "scroll the panels (or the logs) up"},
    "scroll('down')": {ALL: "scroll the panels (or the logs) down"},
    "scroll('page_up')": {ALL: "scroll a page up"},
    "scroll('page_down')": {ALL: "scroll a page down"},
    "scroll('home')": {ALL: "to the top"},
    "scroll('end')": {ALL: "to the bottom (logs: follow new lines again)"},
    "compare": {ALL: "Compare: answers side by side (its keys below)"},
    "compute": {ALL: "Compute: where each variant's step time goes, op by op (its keys below)"},
    "fleet": {
        ALL: "Fleet: each replica of a fleet (serving or out, and why; its requests, errors, p95, "
        "KV); F or esc goes back"
    },
    "command_palette": {
        ALL: "command palette: themes (remembered), export summary + sweep.csv, report, screenshot"
    },
}

# The Compare screen's keys (the same in every mode; ones that cannot act say why).
COMPARE_HELP: dict[str, str] = {
    "move(1)": "next prompt",
    "move(-1)": "previous prompt",
    "next_variant": "next answer pane (the one o and t tag)",
    "tag_ok": "tag the selected answer ok",
    "tag": "tag the selected answer with a category and a symptom",
    "filter('all')": "show every prompt",
    "filter('different')": "only prompts whose answers differ",
    "filter('flagged')": "only prompts with an automatic flag",
    "filter('untagged')": "only prompts with an untagged answer",
    "export_catalog": "export the failure catalog (md, csv, json)",
    "run_triage": "run the quality prompts on the endpoints (live sessions that can)",
    "back": "back to the monitor",
}

# The Compute screen's keys.
COMPUTE_HELP: dict[str, str] = {
    "profile": "profile one generation per variant (live; a running ramp pauses until it ends)",
    "next_phase": "the next phase: decode, prefill",
    "close_compute": "back to the screen beneath",
}

LIVE_COMMANDS = frozenset({"start_ramp", "pause_ramp", "stop_ramp", "step_up", "step_down"})
FINISHED = ("stopping", "finished")


def help_text(action: str, mode: str) -> str | None:
    """What the help says `action` does in `mode`; None: the key does not apply there."""
    texts = KEY_HELP.get(action.removeprefix("app."))
    if texts is None:
        return COMPARE_HELP.get(action, COMPUTE_HELP.get(action))
    return texts.get(mode, texts.get(ALL))


def key_mode(mode: str, triage_only: bool) -> str:
    """The key set of a session: live, replay, or triage (a live session without a ramp)."""
    return "triage" if mode == "live" and triage_only else mode


def action_allowed(action: str, mode: str) -> bool:
    """Whether the key is on in this mode (the footer and help show exactly these)."""
    name = action.partition("(")[0]
    known = [texts for key, texts in KEY_HELP.items() if key.partition("(")[0] == name]
    if not known:
        return True  # not one of ours (Textual's own bindings)
    return any(mode in texts or ALL in texts for texts in known)


def is_paused(state: LiveState, mode: str) -> bool:
    """As the session last said: the replay's status, or the ramp's."""
    if mode == "replay":
        return state.replay is not None and state.replay.paused
    return state.ramp_state == "paused"


def refusal(
    action: str, state: LiveState, argument: float = 0.0, *, mode: str = "live", can_restart: bool = False
) -> str | None:
    """Why the key cannot act where the session stands (as its events said), or None: it acts."""
    if action in LIVE_COMMANDS or action in ("set_slo", "restart_engines"):
        return _ramp_refusal(action, state, can_restart, "triage" if mode == "triage" else "sweep")
    if action in ("pause_replay", "step", "seek", "speed"):
        return _replay_refusal(action, state, argument)
    return None


def _ramp_refusal(action: str, state: LiveState, can_restart: bool, what_runs: str) -> str | None:
    ramp = state.ramp_state
    if state.sweep_end is not None or ramp in FINISHED:
        nothing = {
            "start_ramp": "nothing to start",
            "pause_ramp": "nothing to pause",
            "stop_ramp": "nothing to stop (q quits)",
            "step_up": "no concurrency to change",
            "step_down": "no concurrency to change",
            "set_slo": "the SLO is fixed (quanttui report --slo judges the recording at another)",
            "restart_engines": "engines are not restarted",
        }[action]
        return f"the {what_runs} has {'been stopped' if ramp == 'stopping' else 'finished'}: {nothing}"
    if action == "restart_engines":
        return _restart_refusal(state, can_restart)
    if action == "set_slo" or action == "stop_ramp":
        return None
    if ramp in (None, "waiting"):
        return None if action == "start_ramp" else "the ramp has not started: s starts it"
    profiling = state.fold.compute.running
    if profiling is not None and profiling.paused_ramp and action in ("start_ramp", "pause_ramp"):
        return "a profile holds the ramp: it goes on by itself when the profile ends (g shows it)"
    if action == "start_ramp":
        return "the ramp is paused: p resumes it" if ramp == "paused" else "the ramp is already running"
    # Started, first step not yet begun: the session takes a step up from the plan's first level
    # (a `+` typed right after `s`); a step down has nowhere to go yet.
    if action == "step_down" and state.step_concurrency is None:
        return "no step has started yet: the concurrency changes once one runs"
    if action == "step_down" and state.step_concurrency == 1:
        return "already at concurrency 1"
    return None


def _restart_refusal(state: LiveState, can_restart: bool) -> str | None:
    if not can_restart:
        return "nothing to restart: these endpoints were not started by quanttui"
    states = {v.state for v in state.variants.values()}
    if not states & {"failed", "stopped"}:
        return "nothing to restart: no engine has failed or stopped"
    if states - {"failed", "stopped", "ready"}:
        return "engines are still starting: R restarts a failed one once the others are up"
    return None


def _replay_refusal(action: str, state: LiveState, argument: float) -> str | None:
    replay = state.replay
    if replay is None:
        return None
    if action == "step" and replay.at_end:
        return "the replay is at its end: ← seeks back"
    if action == "seek" and argument > 0 and replay.at_end:
        return "the replay is at its end"
    if action == "seek" and argument < 0 and replay.position <= 0.0:
        return "the replay is at its start"
    if action == "speed" and argument > 0 and not replay.speed:
        return "already as fast as possible"
    if action == "speed" and argument < 0 and replay.speed == REPLAY_SPEEDS[0]:
        return f"already at the slowest speed ({REPLAY_SPEEDS[0]:g}x)"
    return None


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
