"""The console's own commands in the command palette (ctrl+p)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.app import SystemCommand


def palette_commands(app: Any) -> Iterator[SystemCommand]:
    out = app.out_dir
    yield SystemCommand("Export summary", f"Write summary JSON and sweep.csv into {out}", app.action_export)
    yield SystemCommand(
        "Write report",
        f"report.html (charts), capacity.md, cost_model.md, business_case.md into {out / 'report'}",
        app.write_report,
    )
    yield SystemCommand(
        "Compare outputs", "Quality triage: answers side by side, flags, tags", app.action_compare
    )
    yield SystemCommand(
        "Compute graphs", "Where each variant's step time goes, op by op (g)", app.action_compute
    )
    if app.info.can_profile and app.mode == "live":
        yield SystemCommand(
            "Profile variants",
            "One profiled generation per variant; a running ramp pauses until it ends",
            app.profile_from_palette,
        )
    yield SystemCommand(
        "Export failure catalog", f"Write failure_catalog.md/.csv/.json into {out}", app.export_catalog
    )
    yield SystemCommand("Screenshot", f"Save an SVG of the screen into {out}", app.action_screenshot)
    for name in sorted(app.available_themes):
        if name.startswith("quanttui-"):
            yield SystemCommand(
                f"Theme: {name}", "Switch to this theme", partial(setattr, app, "theme", name)
            )
