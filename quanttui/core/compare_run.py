"""One run of a comparison as data: where it was measured, its settings, each variant's capacity
and its steps' figures (`CompareRun`), and report.json, the same run as a file, read back with
every field checked so a report folder compares without its recording. Pure: no files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from quanttui.core.capacity import VariantCapacity
from quanttui.core.cost import usd_per_million
from quanttui.core.levels import LevelKind

REPORT_JSON_VERSION = 1


@dataclass(frozen=True)
class LevelPoint:
    """One variant's step as the comparison draws it."""

    variant: str
    trial: int
    level: float
    pct_ms: float | None  # the SLO metric's percentile, and its two-sided interval
    pct_lo_ms: float | None
    pct_hi_ms: float | None
    decision: str | None
    tok_s: float | None
    goodput_req_s: float | None
    req_s: float | None


@dataclass(frozen=True)
class CompareRun:
    label: str
    where: str
    usd_per_hour: float | None
    settings: dict[str, str]  # what must match for a like-for-like comparison: name -> value
    kind: LevelKind
    metric: str
    percentile: float
    slo_ms: float | None
    capacities: tuple[VariantCapacity, ...]  # the baseline first
    points: tuple[LevelPoint, ...]
    sentences: tuple[str, ...] = ()  # the run's own verdict
    source: str = ""

    def usd_per_million(self, cap: VariantCapacity) -> float | None:
        if self.usd_per_hour is None or cap.max_conc_meeting_slo is None:
            return None
        return usd_per_million(self.usd_per_hour, cap.tok_s_at_max_safe)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["report_json"] = REPORT_JSON_VERSION
        data["kind"] = self.kind.value
        for cap in data["capacities"]:
            cap["kind"] = cap["kind"].value if isinstance(cap["kind"], LevelKind) else cap["kind"]
        return data


class CompareInputError(ValueError):
    """A report.json that cannot be read as a run; the message names the field."""


def run_from_json(data: dict[str, Any], label: str, source: str) -> CompareRun:
    """A run from its report.json (the fields a newer quanttui adds are ignored)."""
    try:
        version = data["report_json"]
        if not isinstance(version, int) or version > REPORT_JSON_VERSION:
            raise CompareInputError(
                f"field 'report_json': version {version!r} is newer than this quanttui reads"
            )
        kind = LevelKind(data["kind"])
        caps = []
        for cap in data["capacities"]:
            known = {k: v for k, v in cap.items() if k in VariantCapacity.__dataclass_fields__}
            known["kind"] = LevelKind(known.get("kind", kind.value))
            caps.append(VariantCapacity(**known))
        points = [
            LevelPoint(**{k: v for k, v in p.items() if k in LevelPoint.__dataclass_fields__})
            for p in data["points"]
        ]
        settings = {str(k): str(v) for k, v in dict(data["settings"]).items()}
        _check_numbers(data, caps, points)
        return CompareRun(
            label=label or str(data["label"]), where=str(data["where"]), usd_per_hour=data.get("usd_per_hour"),
            settings=settings, kind=kind, metric=str(data["metric"]), percentile=float(data["percentile"]),
            slo_ms=data.get("slo_ms"), capacities=tuple(caps), points=tuple(points),
            sentences=tuple(str(s) for s in data.get("sentences", ())), source=source,
        )  # fmt: skip
    except CompareInputError:
        raise
    except KeyError as exc:
        raise CompareInputError(f"field {exc.args[0]!r}: missing") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise CompareInputError(f"not a quanttui report.json: {exc}") from None


_CAPACITY_NUMBERS = ("slo_ms", "max_conc_meeting_slo", "first_conc_over_slo", "blowup_conc", "peak_tok_s",
                     "tok_s_at_max_safe", "p95_at_max_safe_ms", "batch1_tok_s", "percentile", "confidence")  # fmt: skip
_POINT_NUMBERS = ("level", "pct_ms", "pct_lo_ms", "pct_hi_ms", "tok_s", "goodput_req_s", "req_s")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_numbers(
    data: dict[str, Any], caps: Sequence[VariantCapacity], points: Sequence[LevelPoint]
) -> None:
    """Every figure a finite number (or absent where it may be): a report.json edited by hand or
    by another tool is refused by field, not drawn wrong."""
    for name in ("usd_per_hour", "slo_ms"):
        if data.get(name) is not None and not _number(data[name]):
            raise CompareInputError(f"field {name!r}: {data[name]!r} is not a finite number")
    if not _number(data.get("percentile")):
        raise CompareInputError(f"field 'percentile': {data.get('percentile')!r} is not a finite number")
    for i, cap in enumerate(caps):
        if not isinstance(cap.variant, str):
            raise CompareInputError(f"field 'capacities[{i}].variant': not a string")
        for name in _CAPACITY_NUMBERS:
            value = getattr(cap, name)
            if value is not None and not _number(value):
                raise CompareInputError(f"field 'capacities[{i}].{name}': {value!r} is not a finite number")
    for i, point in enumerate(points):
        if not isinstance(point.variant, str) or not isinstance(point.trial, int):
            raise CompareInputError(f"field 'points[{i}]': variant must be a string, trial an integer")
        for name in _POINT_NUMBERS:
            value = getattr(point, name)
            if (value is not None or name == "level") and not _number(value):
                raise CompareInputError(f"field 'points[{i}].{name}': {value!r} is not a finite number")
