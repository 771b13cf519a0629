"""Who runs first when the session and its load workers share a core.

A load worker woken by a chunk should stamp it at once; the session's own work (the fold, the
recorder, /metrics parsing: ~10 ms per full scrape) must not hold the core meanwhile. Measured on
2 cores at 64 streams (bench/vs_peers.py, session and worker on one core as every tool is): moving
the session off the worker's core cut the worker's ITL p99 error from ~1.6 ms to ~0.5 ms; the
settings here get most of that without moving anything (docs/ARCHITECTURE.md).

Since Linux 6.12 a normal task may choose its own EEVDF slice (`sched_setattr`'s `sched_runtime`,
0.1-100 ms, no privilege needed): a shorter slice means an earlier deadline, so it preempts on
wake-up; a longer one, a later deadline, so it gives way. Python's os module has no
`sched_setattr`, so these are the raw syscalls through ctypes; elsewhere they do nothing and say so.

- `request_short_slice`, in the worker: the shortest slice.
- `yield_to_workers`, in the session's thread while a pool runs: SCHED_BATCH (its wake-ups do not
  preempt) with a long slice; undone by the returned callable, so engines or tools the session
  starts afterwards run as usual (children inherit the policy of the thread that starts them).
  Unlike a higher nice value, which no unprivileged thread may lower again, all of it is undone.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
from collections.abc import Callable

SHORT_SLICE_NS = 100_000  # the kernel's floor: 0.1 ms
LONG_SLICE_NS = 20_000_000  # 20 ms: the session gives way to a waking worker
_SYSCALLS = {"x86_64": (314, 315), "aarch64": (274, 275)}  # sched_setattr, sched_getattr
_ATTR = struct.Struct("IIQiIQQQII")  # struct sched_attr, SCHED_ATTR_SIZE_VER1 (56 bytes)


def _syscalls() -> tuple[int, int] | str:
    if not sys.platform.startswith("linux"):
        return "not Linux"
    return _SYSCALLS.get(platform.machine()) or f"no sched_setattr number known for {platform.machine()}"


def read_attr(tid: int = 0) -> tuple[int, int, int] | str:
    """(policy, nice, slice ns) of a thread (0: the calling one), or why it cannot be read."""
    numbers = _syscalls()
    if isinstance(numbers, str):
        return numbers
    buffer = ctypes.create_string_buffer(_ATTR.size)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(numbers[1], tid, buffer, _ATTR.size, 0) != 0:
        return f"sched_getattr: {os.strerror(ctypes.get_errno())}"
    fields = _ATTR.unpack(buffer.raw)
    return fields[1], fields[3], fields[5]


def _write_attr(policy: int, nice: int, slice_ns: int) -> str | None:
    numbers = _syscalls()
    if isinstance(numbers, str):
        return numbers
    buffer = ctypes.create_string_buffer(
        _ATTR.pack(_ATTR.size, policy, 0, nice, 0, slice_ns, 0, 0, 0, 0), _ATTR.size
    )
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(numbers[0], 0, buffer, 0) != 0:
        return f"sched_setattr: {os.strerror(ctypes.get_errno())}"
    return None


def _set(policy: int | None, slice_ns: int) -> tuple[int, int, int] | str:
    """Set the calling thread's slice (and policy, None: keep it); the attributes before, or why not."""
    before = read_attr()
    if isinstance(before, str):
        return before
    if before[0] not in (os.SCHED_OTHER, os.SCHED_BATCH):
        return "not a normal scheduling policy"
    failed = _write_attr(before[0] if policy is None else policy, before[1], slice_ns)
    return failed if failed is not None else before


def request_short_slice() -> str | None:
    """The shortest slice for the calling thread; None when it took, else why not."""
    outcome = _set(None, SHORT_SLICE_NS)
    if isinstance(outcome, str):
        return outcome
    now = read_attr()
    if isinstance(now, str) or now[2] != SHORT_SLICE_NS:
        return "the kernel keeps its own slice (custom slices came in Linux 6.12)"
    return None


def yield_to_workers() -> Callable[[], str | None] | None:
    """SCHED_BATCH and a long slice for the calling thread; the callable (to call on the same
    thread) that gives back its policy and the kernel's default slice, or None when nothing was
    changed."""
    before = _set(os.SCHED_BATCH, LONG_SLICE_NS)
    if isinstance(before, str):
        return None
    policy, nice, _ = before

    def restore() -> str | None:
        return _write_attr(policy, nice, 0)  # 0: the kernel's default slice

    return restore
