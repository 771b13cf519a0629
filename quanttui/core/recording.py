"""The recording format: JSON Lines, one header line then one event per line. Never pickle.

Header: {"format": "quanttui-recording", "schema": 6, "quanttui": "...", "started_utc": "...",
"config": {...}, "host": {...}}. Event line: {"type": "<EventClass>", "t": ..., <fields>}.
Decoding checks every field against the event's type hints, so a damaged or foreign line is
reported with its line number and field name instead of surfacing later as a crash.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from quanttui.core.compute_events import COMPUTE_EVENT_TYPES, COMPUTE_VALUE_TYPES
from quanttui.core.events import EVENT_TYPES as _CORE_EVENT_TYPES
from quanttui.core.events import VALUE_TYPES as _CORE_VALUE_TYPES
from quanttui.core.events import Event
from quanttui.core.loadplan import LoadPlan
from quanttui.core.triage_events import TRIAGE_EVENT_TYPES, TRIAGE_VALUE_TYPES

# Every event type a recording may hold, by class name, and the values nested in them.
EVENT_TYPES: dict[str, type[Event]] = {
    **_CORE_EVENT_TYPES,
    **{cls.__name__: cls for cls in TRIAGE_EVENT_TYPES},
    **{cls.__name__: cls for cls in COMPUTE_EVENT_TYPES},
}
VALUE_TYPES: dict[str, type] = {
    **_CORE_VALUE_TYPES,
    **{cls.__name__: cls for cls in (*TRIAGE_VALUE_TYPES, *COMPUTE_VALUE_TYPES)},
}

FORMAT_NAME = "quanttui-recording"
# 1: the first format. 2: adds the RampStatus event (where the ramp stands); schema-1 files read
# as before, with the ramp's state unknown ("—"). 3: StepStarted carries its decision plan (looks,
# per-look errors, confidence, trial) and counts the fill wave in warmup_requests; HostSample
# (noise); the plan has adaptive steps, a multi-bound SLO, schedule and trials. Older files decide
# each step once at its end at 95 % one-sided, as they did, and show no noise ("—"). 4: ClientSample
# (the load client's own lag, CPU and coalesced chunks); older files show the client check as "—".
# 5: profiles (ProfileStarted, ProfileCaptured with its ComputeProfile, ProfileUnavailable,
# ProfileFinished; core/compute_events.py); older files hold none, which the Compute screen says.
# 6: workloads (issue 19): StepStarted.rate (open-loop steps) and .input_tokens (prompt-length
# steps), RequestResult.intended (its scheduled send time); the plan's rates, arrivals (kind,
# burstiness, seed), max_in_flight and input_lengths, and the header's workload. Older files are
# closed-loop concurrency ramps and read as such (no lag, no queue check: "—"). 7: the plan's
# own_history and the config's tokenizer (issue 19); older plans read as recorded history.
# 8: GpuSample from a DCGM exporter (issue 21): source, host, uuid, the variant it maps to, memory
# copy utilisation, clocks and the exporter's labels; older samples are local NVML ("nvml").
# 9: fleets (issue 21): EndpointInfo.replicas, RequestResult/EngineSample/MetricsUnavailable.replica
# and ReplicaState; older files have one endpoint per variant (per-replica numbers show "—").
SCHEMA_VERSION = 9


class RecordingError(ValueError):
    """A recording that cannot be read; the message is one line naming file, line and field."""


@dataclass(frozen=True)
class RecordingHeader:
    started_utc: str
    quanttui: str
    config: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT_NAME
    schema: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=False, separators=(",", ":"))


def header_from_json(line: str, where: str) -> RecordingHeader:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{where}: header is not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise RecordingError(f"{where}: field 'format': not a quanttui recording")
    schema = data.get("schema")
    if not isinstance(schema, int):
        raise RecordingError(f"{where}: field 'schema': expected an integer")
    if schema > SCHEMA_VERSION:
        raise RecordingError(
            f"{where}: field 'schema': recording schema {schema} is newer than this quanttui "
            f"understands ({SCHEMA_VERSION}); upgrade quanttui"
        )
    for key, kind in (("started_utc", str), ("quanttui", str), ("config", dict), ("host", dict)):
        if not isinstance(data.get(key), kind):
            raise RecordingError(f"{where}: field '{key}': expected {kind.__name__}")
    return RecordingHeader(
        started_utc=data["started_utc"],
        quanttui=data["quanttui"],
        config=data["config"],
        host=data["host"],
        schema=schema,
    )


def _encode_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_encode_value(v) for v in value]
    return value


def encode_event(event: Event) -> str:
    data: dict[str, Any] = {"type": type(event).__name__}
    for f in dataclasses.fields(event):
        data[f.name] = _encode_value(getattr(event, f.name))
    # ASCII: a model's raw escape or bidi character never reaches the file (`head` of a recording
    # is safe in a terminal); readers decode the \u escapes back to the same text.
    return json.dumps(data, separators=(",", ":"))


class _FieldError(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _decode_value(value: Any, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        last: _FieldError | None = None
        for option in args:
            if option is type(None):
                continue
            try:
                return _decode_value(value, option, path)
            except _FieldError as exc:
                last = exc
        raise last or _FieldError(path, "unexpected value")
    if origin is tuple:
        if not isinstance(value, list):
            raise _FieldError(path, "expected a list")
        item_hint = args[0] if args else Any
        return tuple(_decode_value(v, item_hint, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _FieldError(path, "expected an object")
        return value
    if hint is Any:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _FieldError(path, "expected a number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _FieldError(path, "expected an integer")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise _FieldError(path, "expected true or false")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise _FieldError(path, "expected a string")
        return value
    if isinstance(hint, type) and hint.__name__ in VALUE_TYPES:
        if not isinstance(value, dict):
            raise _FieldError(path, "expected an object")
        return _build(hint, value, f"{path}.")
    raise _FieldError(path, f"unsupported type {hint!r}")


def _build(cls: type, data: dict[str, Any], path: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names - {"type"})
    if unknown:
        raise _FieldError(f"{path}{unknown[0]}", "unknown field")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _FieldError(f"{path}{f.name}", "missing")
            continue
        kwargs[f.name] = _decode_value(data[f.name], hints[f.name], f"{path}{f.name}")
    return cls(**kwargs)


def decode_event(line: str, where: str) -> Event:
    """Parse one event line; `where` is "FILE:LINE" for the error message."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{where}: not a JSON object ({exc.msg})") from None
    except RecursionError:
        raise RecordingError(f"{where}: nested too deeply to be an event") from None
    if not isinstance(data, dict):
        raise RecordingError(f"{where}: not a JSON object")
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise RecordingError(f"{where}: field 'type': unknown event type {kind!r}")
    try:
        event = _build(cls, data, "")
    except _FieldError as exc:
        raise RecordingError(f"{where}: {kind} field '{exc.path}': {exc.message}") from None
    except (TypeError, ValueError) as exc:
        raise RecordingError(f"{where}: {kind}: {exc}") from None
    except RecursionError:
        raise RecordingError(f"{where}: {kind}: nested too deeply") from None
    if not (math.isfinite(event.t) and event.t >= 0):
        raise RecordingError(
            f"{where}: {kind} field 't': expected seconds since the start (>= 0), got {event.t}"
        )
    return event


def header_variants(header: RecordingHeader) -> tuple[str, ...]:
    """The variant names a recording's header declares (a launched run's variants, else a sweep's
    endpoints); empty when it declares none (then any name is accepted)."""
    for key in ("variants", "endpoints"):
        entries = header.config.get(key)
        if isinstance(entries, list):
            names = [e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)]
            if names:
                return tuple(names)
    return ()


def plan_from_header(header: RecordingHeader, path: object) -> LoadPlan | None:
    plan_data = header.config.get("plan")
    try:
        return LoadPlan.from_dict(plan_data) if isinstance(plan_data, dict) else None
    except (ValueError, KeyError, TypeError) as exc:
        raise RecordingError(f"{path}:1: field 'config.plan': {exc}") from None
