"""The roofline gauge of batch-1 decode: how close one stream gets to the memory-bandwidth bound.

Decoding one token for one stream reads every weight once, so tok/s can never exceed
bandwidth / bytes of weights. Measured batch-1 tok/s (1000 / TPOT p50 at concurrency 1) over that
bound says how much of the hardware the engine uses: a 4-bit model has a bound ~3.5x higher than
its BF16 original; whether it gets near it is what the kernels decide. Bandwidth on a GPU comes
from NVML (bus width x max memory clock x 2 for double data rate); elsewhere from the
configuration, or a measured single-thread memory copy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Roofline:
    variant: str
    bandwidth_gbps: float | None
    bandwidth_source: str
    weights_bytes: int | None
    bound_tok_s: float | None
    measured_tok_s: float | None
    efficiency: float | None  # measured / bound


def nvml_bandwidth_gbps(bus_width_bits: int, max_memory_clock_mhz: float) -> float:
    """Peak memory bandwidth from NVML's numbers (double data rate)."""
    return bus_width_bits / 8 * max_memory_clock_mhz * 1e6 * 2 / 1e9


def roofline(
    variant: str, bandwidth_gbps: float | None, source: str, weights_bytes: int | None, measured: float | None
) -> Roofline:
    bound = bandwidth_gbps * 1e9 / weights_bytes if bandwidth_gbps and weights_bytes else None
    efficiency = measured / bound if bound and measured else None
    return Roofline(variant, bandwidth_gbps, source, weights_bytes, bound, measured, efficiency)


def gauge(r: Roofline, width: int = 20) -> str:
    """A one-line text gauge, the number first (a narrow column cuts the bar, not the number):
    `23% of 410 tok/s bound [#####---------------]`."""
    if r.efficiency is None or r.bound_tok_s is None:
        return "roofline: n/a (" + ("no bandwidth" if not r.bandwidth_gbps else "no weights size" if not
                                     r.weights_bytes else "no batch-1 step") + ")"  # fmt: skip
    filled = max(0, min(width, round(r.efficiency * width)))
    return f"{r.efficiency:.0%} of {r.bound_tok_s:,.0f} tok/s bound [{'#' * filled}{'-' * (width - filled)}]"
