"""The console's roofline gauge: the machine's memory bandwidth and each variant's weight bytes,
read once from the session's header (kept across a replay's reset), against batch-1 decode as the
concurrency-1 step measured it. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from quanttui.core.roofline import Roofline, roofline
from quanttui.core.stepstats import StepStats


class LiveHardware:
    def __init__(self) -> None:
        self.bandwidth_gbps: float | None = None
        self.bandwidth_source = ""
        self.weights_bytes: dict[str, int] = {}

    def read(self, header_config: Mapping[str, object]) -> None:
        """Bandwidth and weight sizes from a session's header."""
        hardware = header_config.get("hardware")
        if isinstance(hardware, dict):
            value = hardware.get("memory_bandwidth_gbps")
            self.bandwidth_gbps = float(value) if isinstance(value, int | float) else None
            self.bandwidth_source = str(hardware.get("bandwidth_source", ""))
        variants = header_config.get("variants")
        for entry in variants if isinstance(variants, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("weights_bytes"), int):
                self.weights_bytes[str(entry.get("name"))] = entry["weights_bytes"]

    def roofline(self, name: str, step_rows: Mapping[tuple[str, int], StepStats]) -> Roofline | None:
        """Batch-1 decode (the concurrency-1 step) against bandwidth / weights, once both are known."""
        one = next((s for (n, _), s in sorted(step_rows.items()) if n == name and s.conc == 1), None)
        measured = 1000.0 / one.tpot_p50_ms if one and one.tpot_p50_ms else None
        if measured is None or not self.bandwidth_gbps or name not in self.weights_bytes:
            return None
        return roofline(name, self.bandwidth_gbps, self.bandwidth_source, self.weights_bytes[name], measured)
