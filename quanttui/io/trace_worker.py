"""`python -m quanttui.io.trace_worker TRACE`: analyse a profiler trace in a process of its own.

A 200-token trace holds ~1e6 ops; parsing its JSON (~10 s, ~1.2 GB) holds the GIL, so in a thread
it stalls the console and the session's loop for seconds. The parent (io/profile_capture.py
`analyse_trace`) starts this child with asyncio, as it starts the load workers, rather than through
multiprocessing, whose spawn failed inside the console ("bad value(s) in fds_to_keep").
The child writes the ComputeProfile pickled on stdout (parent and child are the same quanttui; a
pipe between them, like the load workers' frames, never a file), or one line on stderr and exit 2.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from quanttui.core.compute import analyse
from quanttui.io.torch_trace import TraceError, read_trace


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m quanttui.io.trace_worker TRACE", file=sys.stderr)
        return 2
    try:
        trace = read_trace(Path(argv[0]))
    except TraceError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    profile = analyse(trace.ops, trace.steps, trace.nested)
    sys.stdout.buffer.write(pickle.dumps(profile, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
