"""The headless entry points: a live session run straight through, no console."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quanttui.core.prompts import Prompt
from quanttui.io.config import VariantConfig
from quanttui.session.live import LiveSession
from quanttui.session.spec import SessionResult, SweepConfig


async def run_sweep(
    config: SweepConfig, prompts: list[Prompt], progress: Callable[[str], None] | None = None
) -> SessionResult:
    """Attach to running endpoints and sweep them; nothing is written if an endpoint is unreachable."""
    return await LiveSession(config, prompts, None, autostart=True, progress=progress).run()


async def run_launched_sweep(
    variants: list[VariantConfig],
    config: SweepConfig,
    prompts: list[Prompt],
    progress: Callable[[str], None] | None = None,
    extra_header: dict[str, Any] | None = None,
) -> SessionResult:
    """Launch the variants' engines, sweep the ones that became ready, and stop them all."""
    session = LiveSession(
        config, prompts, variants, autostart=True, progress=progress, extra_header=extra_header
    )
    return await session.run()
