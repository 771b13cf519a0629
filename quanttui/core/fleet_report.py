"""capacity.md's section on fleets (issue 21): the capacity per fleet and per replica, each
replica's part of each step, and when a replica was out of the balancer. Pure; foreign text (a
replica's URL, a server's words) is escaped."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from quanttui.core.catalog import escape_cell, escape_prose
from quanttui.core.events import ReplicaState
from quanttui.core.fleet import ReplicaRow, replica_label
from quanttui.core.md import md_number, md_table


def fleets_markdown(
    sentences: Sequence[str],
    rows: Sequence[ReplicaRow],
    events: Sequence[ReplicaState],
    level_of: Callable[[str, int], str],
    unit: str,
    measure: str,
) -> list[str]:
    """The section's lines (none without a fleet); `level_of(variant, step)` writes a step's level."""
    if not rows and not sentences:
        return []
    out = ["", "## Fleets: per fleet and per replica", ""]
    for sentence in sentences:
        out += [sentence, ""]
    out += ["Each replica's measured requests in each step, the share of its fleet's it took, its errors, and "
            f"its {measure} over its own successful requests (no interval: a replica's part of a step is a "
            "sample chosen by the balancer, the decision is the fleet's).", ""]  # fmt: skip
    out += md_table(
        ["variant", unit, "replica", "requests", "share", "errors", "p50 ms", f"{measure} ms", "tok/s"],
        [[row.variant, level_of(row.variant, row.step), escape_cell(row.label), str(row.requests),
          f"{row.share:.0%}", str(row.errors), md_number(row.p50_ms, 0), md_number(row.p95_ms, 0),
          md_number(row.output_tok_s)] for row in rows],
    )  # fmt: skip
    if events:
        out += ["", "Replicas out of the balancer and back:", ""]
        out += [f"- {e.t:,.1f} s: {e.variant} {escape_prose(replica_label(e.replica))} "
                f"{'back' if e.up else 'out'}: {escape_prose(e.detail)}" for e in events]  # fmt: skip
    return out
