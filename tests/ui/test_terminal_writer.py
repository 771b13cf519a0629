"""The console's output thread when the terminal goes away (a real pty whose master is closed)."""

import contextlib
import os
import signal
import threading

from waiting import wait_until

from quanttui.ui.terminal import MAX_QUEUED_WRITES, TerminalWriter


def test_a_closed_terminal_never_blocks_the_writer_and_raises_a_hangup(tmp_path):
    heard: list[int] = []
    previous = signal.signal(signal.SIGHUP, lambda signum, _frame: heard.append(signum))
    master, slave = os.openpty()
    terminal = os.fdopen(slave, "w", encoding="utf-8")
    writer = TerminalWriter(terminal)
    writer.start()
    try:
        writer.write("drawn while the terminal is there\n")
        assert os.read(master, 100).startswith(b"drawn")
        os.close(master)  # the SSH session drops
        # Far more writes than the queue holds: each returns (dropped once the terminal is gone).
        done = threading.Event()

        def frames() -> None:
            for i in range(MAX_QUEUED_WRITES * 20):
                writer.write(f"frame {i}\n" * 100)
            done.set()

        threading.Thread(target=frames, daemon=True).start()
        wait_until(done.is_set, what="every write to return")
        wait_until(lambda: heard, what="the hang-up raised for the lost terminal")
        assert writer.gone.is_set() and heard == [signal.SIGHUP]
        writer.stop()
        assert not writer.is_alive()
    finally:
        signal.signal(signal.SIGHUP, previous)
        with contextlib.suppress(OSError):  # what is still buffered cannot reach a closed terminal
            terminal.close()
