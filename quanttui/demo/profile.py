"""`quanttui profile --demo`: the demo's BF16 and AWQ vLLM-CPU engines, launched with vLLM's torch
profiler on (traces into the run's folder), one profiled generation each, then stopped (issue 18).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from quanttui.demo.cpu import demo_variants
from quanttui.demo.paths import DemoPaths
from quanttui.io.profile_capture import ProfileRequest
from quanttui.session.profiling import ProfileRecording, profile_launched


async def profile_demo(
    paths: DemoPaths,
    out: Path,
    request: ProfileRequest,
    progress: Callable[[str], None],
    recording: ProfileRecording,
) -> int:
    """The number of profiles captured."""
    return await profile_launched(demo_variants(paths), out, request, progress, recording)
