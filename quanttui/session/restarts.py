"""Starting failed engines again from the console (`R`): each rejoins the ramp at the next step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace

from quanttui.core.clock import SessionClock
from quanttui.core.engine_log import Phase
from quanttui.core.events import EndpointInfo, Event, OperatorCommand
from quanttui.io.launcher import EngineStartError, Launcher
from quanttui.session.load_runner import LoadRunner


class EngineRestarts:
    """Restarts in flight for one session; `cancel_all` when the session ends."""

    def __init__(self, publish: Callable[[Event], None], clock: SessionClock) -> None:
        self.publish = publish
        self.clock = clock
        self.tasks: set[asyncio.Task[None]] = set()
        self._restarting: set[str] = set()

    def restart_failed(
        self, launcher: Launcher, runner: LoadRunner, resolved: Sequence[EndpointInfo]
    ) -> None:
        """Start again every engine that failed or stopped (not one already restarting)."""
        for name, engine in launcher.engines.items():
            if engine.phase in (Phase.FAILED, Phase.STOPPED) and name not in self._restarting:
                self._restarting.add(name)
                self.publish(OperatorCommand(t=self.clock.now(), command="restart", value=None))
                task = asyncio.create_task(self._restart(launcher, runner, resolved, name))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _restart(
        self, launcher: Launcher, runner: LoadRunner, resolved: Sequence[EndpointInfo], name: str
    ) -> None:
        try:
            engine = await launcher.restart(name)
        except EngineStartError:
            return  # the launcher published why
        finally:
            self._restarting.discard(name)
        old = next((i for i in resolved if i.variant == name), None)
        if old is not None:
            self.publish(replace(old, t=self.clock.now(), pids=engine.pids()))  # its new pids
        runner.rejoin(name)
