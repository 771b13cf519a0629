"""Profiles on the event stream (schema 5, issue 18): the summary of each capture, never the trace.

A profile run publishes `ProfileStarted`, then per variant `ProfileCaptured` (its `ComputeProfile`:
categories, top ops, per-step times) or `ProfileUnavailable` (the engine has no profiler, its
profiler is off, the capture failed: the reason in words), then `ProfileFinished`. `ComputeFold`
keeps the latest of each variant; the session's fold holds one, so the console, the report and a
replay read the same profiles. Recordings older than schema 5 hold none (the Compute screen and the
report say so).
"""

from __future__ import annotations

from dataclasses import dataclass

from quanttui.core.compute import CategoryTime, ComputeProfile, OpTime, PhaseProfile
from quanttui.core.compute_words import ProfiledVariant
from quanttui.core.events import Event, ReplayReset


@dataclass(frozen=True)
class ProfileStarted(Event):
    """A profile run begins: which variants, what generation; `paused_ramp`: the ramp was running
    and is paused until the run ends."""

    variants: tuple[str, ...]
    request: str  # "1 x 200 output tokens (greedy, ignore_eos), prompt: '...'"
    paused_ramp: bool = False


@dataclass(frozen=True)
class ProfileCaptured(Event):
    """One variant's profiled generation, analysed (the trace stays a file: `trace`)."""

    variant: str
    precision: str
    profile: ComputeProfile
    trace: str  # the trace's file name under the run's traces/
    capture_s: float | None = None
    trace_bytes: int | None = None
    weights_bytes: int | None = None
    bandwidth_gbps: float | None = None

    @property
    def profiled(self) -> ProfiledVariant:
        return ProfiledVariant(
            self.variant,
            self.precision,
            self.profile,
            self.trace,
            self.capture_s,
            self.trace_bytes,
            self.weights_bytes,
            self.bandwidth_gbps,
        )

    @classmethod
    def of(cls, t: float, v: ProfiledVariant) -> ProfileCaptured:
        return cls(
            t, v.variant, v.precision, v.profile, v.trace, v.capture_s, v.trace_bytes, v.weights_bytes,
            v.bandwidth_gbps,
        )  # fmt: skip


@dataclass(frozen=True)
class ProfileUnavailable(Event):
    """No profile for this variant: why, in one line (an engine without a profiler, the flag to
    add, the error of a failed capture)."""

    variant: str
    reason: str


@dataclass(frozen=True)
class ProfileFinished(Event):
    reason: str  # "completed", "stopped", "failed"


COMPUTE_EVENT_TYPES: tuple[type[Event], ...] = (
    ProfileStarted,
    ProfileCaptured,
    ProfileUnavailable,
    ProfileFinished,
)
COMPUTE_VALUE_TYPES: tuple[type, ...] = (ComputeProfile, PhaseProfile, CategoryTime, OpTime)


class ComputeFold:
    """The profiles a session holds, folded from its events (the newest of each variant)."""

    def __init__(self) -> None:
        self.profiles: dict[str, ProfileCaptured] = {}
        self.unavailable: dict[str, str] = {}  # variant -> why it has no profile
        self.request = ""  # the generation the newest run profiled
        self.running: ProfileStarted | None = None  # a profile run in progress
        self.runs = 0  # profile runs finished
        self.version = 0  # changes with every profile event (a screen redraws on it)

    def apply(self, event: Event) -> None:
        if isinstance(event, (ReplayReset, *COMPUTE_EVENT_TYPES)):
            self.version += 1
        match event:
            case ReplayReset():
                self.profiles, self.unavailable, self.request, self.running, self.runs = {}, {}, "", None, 0
                return
            case ProfileStarted():
                self.running = event
                self.request = event.request
                for name in event.variants:
                    self.unavailable.pop(name, None)
            case ProfileCaptured():
                self.profiles[event.variant] = event
                self.unavailable.pop(event.variant, None)
            case ProfileUnavailable():  # an earlier capture of the variant is kept, and said to be older
                self.unavailable[event.variant] = event.reason
            case ProfileFinished():
                self.running = None
                self.runs += 1
            case _:
                pass

    def variants(self, order: tuple[str, ...] = ()) -> list[ProfiledVariant]:
        """The captured profiles, in `order` first (the session's variants: the baseline leads)."""
        names = [n for n in order if n in self.profiles] + [n for n in self.profiles if n not in order]
        return [self.profiles[n].profiled for n in names]

    def problem(self, variant: str) -> str | None:
        """Why the variant's newest profile run gave no profile, in words that say whether an
        earlier profile is what is shown; None when its newest run captured one."""
        reason = self.unavailable.get(variant)
        if reason is None:
            return None
        if variant in self.profiles:
            return f"the newest capture failed ({reason}); the profile shown is an earlier one"
        return f"no profile: {reason}"

    @property
    def empty(self) -> bool:
        return not self.profiles and not self.unavailable and self.running is None
