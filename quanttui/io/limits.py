"""What load this machine can drive at all: one open connection (a file descriptor) per stream,
and memory for each stream's task, buffers and timings. A plan beyond that is refused before it
starts, with the limit in the message, instead of growing until the machine or the loop stalls.
"""

from __future__ import annotations

import resource

import psutil

FDS_RESERVED = 256  # logs, the recording, scrapers, engines' pipes, Python itself
BYTES_PER_STREAM = 256 * 1024  # an estimate with a wide margin: task, connection, buffers, timings


def raise_fd_limit() -> int:
    """Lift this process's soft limit on open files to its hard limit (load workers inherit it);
    returns the soft limit. `fd_limit_note()` says what was done."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft


_FD_LIMIT_AT_START = resource.getrlimit(resource.RLIMIT_NOFILE)[0]  # before anything raised it


def fd_limit_note() -> str:
    """ "open files: 1,048,576 (raised from 1,024)", or the limit as it stands."""
    soft = raise_fd_limit()
    if soft > _FD_LIMIT_AT_START:
        return f"open files: {soft:,} (raised from {_FD_LIMIT_AT_START:,})"
    return f"open files: {soft:,}"


def load_problem(concurrency: int, variants: int) -> str | None:
    """Why `variants` x `concurrency` streams cannot run here, or None when they fit."""
    streams = concurrency * max(1, variants)
    files = raise_fd_limit()
    fit_fds = max(0, files - FDS_RESERVED)
    if streams > fit_fds:
        return (
            f"{variants} variant(s) x {concurrency:,} streams need {streams:,} open connections; this "
            f"process may open {files:,} files (ulimit -n): at most {fit_fds // max(1, variants):,} "
            "streams per variant"
        )
    available = psutil.virtual_memory().available
    if streams * BYTES_PER_STREAM > available:
        return (
            f"{variants} variant(s) x {concurrency:,} streams need about "
            f"{streams * BYTES_PER_STREAM / 2**30:.1f} GiB ({BYTES_PER_STREAM // 1024} KiB a stream); "
            f"{available / 2**30:.1f} GiB is available: at most "
            f"{available // BYTES_PER_STREAM // max(1, variants):,} streams per variant"
        )
    return None
