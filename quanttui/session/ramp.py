"""The operator's hold on a running ramp: start, pause, resume, stop, step up or down, a new SLO.

RampControl is shared by the load runner (which asks it where the ramp stands) and the session
(which hands it the operator's commands); every command is published as an `OperatorCommand`
and every change of the ramp's state as a `RampStatus`. The SLO itself lives in the session's
fold (core/fold.py), which applies the recorded `set_slo`: this only validates and publishes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from quanttui.core.clock import SessionClock
from quanttui.core.events import Event, OperatorCommand, RampStatus
from quanttui.core.fold import valid_slo_ms
from quanttui.core.levels import LevelKind
from quanttui.core.loadplan import LoadPlan


class RampControl:
    """The operator's handle on a ramp; the runner reads it between requests.

    The plan position of a step is an index into `plan.levels` (concurrencies, rates or prompt
    lengths); past the plan's ends it goes on by doubling (index >= len) or halving (index < 0; a
    concurrency or a prompt length never below 1). `step_up`/`step_down` move
    the running step's index by one: the step ends once its requests in flight have finished and a
    step at the new index starts. After a step that ran to its end the ramp goes on at index + 1 and
    ends after the plan's last index.

    A command that would change nothing (pause while paused, step before the first step, anything
    after the sweep ended, an SLO that is not a positive number) is ignored and not recorded.
    """

    def __init__(
        self,
        plan: LoadPlan,
        publish: Callable[[Event], None],
        clock: SessionClock,
        started: bool = True,
    ) -> None:
        self.plan = plan
        self._publish = publish
        self._clock = clock
        self._started = started
        self._paused = False  # the operator's pause
        self._held = False  # a hold that is not the operator's (a profile run: session/profiling.py)
        self._stopped = False
        self._finished = False
        self._index: int | None = None  # plan index of the running step
        self._target: int | None = None  # index asked for by step_up/step_down, not applied yet
        self._paused_total = 0.0
        self._paused_since: float | None = None
        self._changed = asyncio.Event()
        self._status = ""  # what the last RampStatus said; the first is published by announce()

    # -- state -------------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._started

    @property
    def paused(self) -> bool:
        """The ramp waits: the operator paused it, or something holds it."""
        return self._paused or self._held

    @property
    def operator_paused(self) -> bool:
        return self._paused

    @property
    def held(self) -> bool:
        return self._held

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def interrupting(self) -> bool:
        """The running step must end now: stop, or a concurrency change is pending."""
        return self._stopped or self._target is not None

    def concurrency_at(self, index: int) -> int:
        """The step's concurrency (a rate step's: its cap on requests in flight)."""
        if self.plan.kind is LevelKind.CONCURRENCY:
            return int(self.level_at(index))
        if self.plan.kind is LevelKind.RATE:
            return self.plan.in_flight_cap
        return self.plan.concurrencies[0]

    def level_at(self, index: int) -> float:
        """The step's level in the plan's unit: users, requests/s or prompt tokens."""
        levels = self.plan.levels
        if self.plan.kind is LevelKind.RATE:
            if index < 0:
                return levels[0] / 2**-index
            if index >= len(levels):
                return levels[-1] * 2 ** (index - len(levels) + 1)
            return levels[index]
        if index < 0:
            return max(1, int(levels[0]) // 2**-index)
        if index >= len(levels):
            return levels[-1] * 2 ** (index - len(levels) + 1)
        return levels[index]

    def active_time(self) -> float:
        """Monotonic seconds that stand still while paused (timed steps run on this clock)."""
        now = time.monotonic()
        paused = self._paused_total + (now - self._paused_since if self._paused_since is not None else 0.0)
        return now - paused

    @property
    def state(self) -> str:
        """waiting, running, paused, stopping or finished (what `RampStatus` says)."""
        if self._finished:
            return "finished"
        if self._stopped:
            return "stopping"
        if not self._started:
            return "waiting"
        return "paused" if self.paused else "running"  # held or paused by the operator

    def announce(self) -> None:
        """Publish where the ramp stands if that changed (the session calls it once it runs, so
        every subscriber, a console included, hears the first state)."""
        self._announce()

    def _announce(self) -> None:
        state = self.state
        if state != self._status:
            self._status = state
            self._publish(RampStatus(t=self._clock.now(), state=state))

    # -- commands ----------------------------------------------------------------------------
    def _record(self, command: str, value: float | None = None) -> None:
        self._publish(OperatorCommand(t=self._clock.now(), command=command, value=value))
        self._announce()
        self._changed.set()
        self._changed = asyncio.Event()

    def start(self) -> None:
        if self._started or self._finished or self._stopped:
            return
        self._started = True
        self._record("start")

    def _halt(self) -> None:
        if self._paused_since is None:
            self._paused_since = time.monotonic()

    def _unhalt(self) -> None:
        if not self.paused and self._paused_since is not None:
            self._paused_total += time.monotonic() - self._paused_since
            self._paused_since = None

    def pause(self) -> None:
        if self._paused or self._finished or self._stopped:
            return
        self._paused = True
        self._halt()
        self._record("pause")

    def resume(self) -> None:
        """Ends the operator's pause (a hold, if any, still keeps the ramp waiting)."""
        if not self._paused or self._finished:
            return
        self._paused = False
        self._unhalt()
        self._record("resume")

    def hold(self) -> bool:
        """Keep the ramp waiting without the operator's pause (which stays theirs to give and take
        back); False when there is nothing to hold (not started, already held, ended)."""
        if self._held or not self._started or self._finished or self._stopped:
            return False
        self._held = True
        self._halt()
        self._announce()
        self._wake()
        return True

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        self._unhalt()
        self._announce()
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def stop(self) -> None:
        if self._stopped or self._finished:
            return
        self._stopped = True
        self._record("stop")

    def step_up(self) -> None:
        self._shift(+1)

    def step_down(self) -> None:
        self._shift(-1)

    def _shift(self, by: int) -> None:
        if not self._started or self._finished or self._stopped:
            return
        # Typed right after `s`, before the first step began: counted from the plan's first level.
        current = self._target if self._target is not None else (self._index or 0)
        target = current + by
        if self.level_at(target) == self.level_at(current):
            return  # already at concurrency 1
        self._target = target
        self._record("step_up" if by > 0 else "step_down", float(self.level_at(target)))

    def set_slo(self, p95_ms: float) -> None:
        """Published for the fold to apply (the stop rules read their decisions from it)."""
        value = valid_slo_ms(p95_ms)
        if self._finished or value is None:
            return
        self._record("set_slo", value)

    # -- for the runner ----------------------------------------------------------------------
    async def wait_started(self) -> None:
        """Until start() or stop()."""
        while not (self._started or self._stopped):
            await self._changed.wait()

    async def wait_running(self) -> None:
        """Until not paused (nor held), or the step must end."""
        while self.paused and not self.interrupting:
            await self._changed.wait()

    async def wait_stopped(self) -> None:
        """Until stop(), or the sweep has ended."""
        while not (self._stopped or self._finished):
            await self._changed.wait()

    def enter_step(self, index: int) -> None:
        """The runner is about to run the step at this plan index."""
        self._index = index

    def take_target(self) -> int | None:
        """The plan index the operator moved to since the last call, if any (then forgotten)."""
        target, self._target = self._target, None
        return target

    def finish(self) -> None:
        """The sweep has ended: nothing is held any more and further commands are ignored."""
        self._finished = True
        self._paused, self._held, self._paused_since = False, False, None
        self._announce()
        self._changed.set()
        self._changed = asyncio.Event()
