"""Load worker processes (io/load_pool.py) against the simulator: real child processes, real HTTP."""

import asyncio
import os
import signal
import sys

import psutil
import pytest
from waiting import wait_until_async

from quanttui.core.events import ErrorClass
from quanttui.io.cpu_priority import SHORT_SLICE_NS, read_attr
from quanttui.io.load_pool import LoadPool, PooledClient, default_workers
from quanttui.io.openai_client import RequestOptions, Timeouts


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_requests_run_in_the_workers_timed_and_sampled(sim_server):
    server = sim_server(ttft_ms=50, itl_ms=10, max_num_seqs=16)
    samples = []
    pool = LoadPool(2, lambda source, window: samples.append((source, window)))
    await pool.start()
    pids = [w.process.pid for w in pool.workers]
    try:
        assert len(set(pids)) == 2 and os.getpid() not in pids
        assert psutil.Process(pids[0]).ppid() == os.getpid()
        client = PooledClient(pool, "a", server.url + "/v1", "sim", None, 8, Timeouts())
        outs = await asyncio.gather(
            *(
                client.stream_chat(ask(f"p{i}"), RequestOptions(max_tokens=10, ignore_eos=True))
                for i in range(8)
            )
        )
        assert all(o.ok for o in outs), [o.error_detail for o in outs]
        assert [o.output_tokens for o in outs] == [10] * 8 and all(len(o.itl_us) == 9 for o in outs)
        assert min(o.ttft_s for o in outs) >= 0.05  # the server's own first-token delay, seen from the child

        # Each request went to the worker with the fewest in flight: four each, counted by its probe.
        def chunks_by_worker() -> dict[str, int]:
            counts: dict[str, int] = {}
            for source, window in samples:
                counts[source] = counts.get(source, 0) + window.token_chunks
            return counts

        await wait_until_async(
            lambda: chunks_by_worker() == {"load worker 1": 40, "load worker 2": 40},
            what="every chunk counted by the probe of the worker that read it", detail=chunks_by_worker,
        )  # fmt: skip
        assert all(w.lag_max_ms >= w.lag_p99_ms >= w.lag_p50_ms >= 0 for _, w in samples)
    finally:
        await pool.aclose()
    assert all(gone(pid) for pid in pids)


async def test_a_worker_that_dies_fails_its_requests_and_the_pool_says_so(sim_server):
    server = sim_server(ttft_ms=10_000, itl_ms=10)
    pool = LoadPool(1, lambda source, window: None)
    await pool.start()
    try:
        client = PooledClient(pool, "a", server.url, "sim", None, 1, Timeouts())
        pending = asyncio.create_task(client.stream_chat(ask("slow"), RequestOptions(max_tokens=4)))
        await wait_until_async(lambda: pool.workers[0].pending, what="the request to reach the worker")
        os.kill(pool.workers[0].process.pid, signal.SIGKILL)
        out = await asyncio.wait_for(pending, 30)
        assert not out.ok and out.error == ErrorClass.CLIENT_FAILED
        assert out.error_detail == "load worker 1 exited mid-request"
        after = await client.stream_chat(ask("again"), RequestOptions(max_tokens=4))
        assert after.error == ErrorClass.CLIENT_FAILED and after.error_detail == "no load worker is running"
    finally:
        await pool.aclose()


def test_default_workers_follow_the_streams_and_the_cores():
    cores = os.cpu_count() or 1
    assert default_workers(1) == 1
    assert default_workers(256) == 1
    assert default_workers(257) == min(2, cores)
    assert default_workers(100_000) == cores


async def test_a_request_the_worker_cannot_run_fails_alone():
    pool = LoadPool(1, lambda source, window: None)
    await pool.start()
    try:
        out = await asyncio.wait_for(pool.stream_chat("never-opened", "m", ask("x"), RequestOptions()), 30)
        assert out.error == ErrorClass.CLIENT_FAILED and out.error_detail.startswith("load worker: KeyError")
        assert pool.workers[0].alive  # the worker goes on
    finally:
        await pool.aclose()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sched_setattr is Linux's")
async def test_workers_run_first_on_a_shared_core_and_the_session_gets_its_priority_back():
    """Workers: own process group (a terminal's Ctrl-C reaches the session only) in the session's
    own session, hence its autogroup, where priorities compare; the shortest slice. The session's
    thread: SCHED_BATCH while they run, as before once they are closed."""
    before = read_attr()
    pool = LoadPool(1, lambda source, window: None)
    await pool.start()
    pid = pool.workers[0].process.pid
    try:
        assert os.getpgid(pid) == pid != os.getpgid(0)
        assert os.getsid(pid) == os.getsid(0)
        assert pool.session_yields and read_attr()[0] == os.SCHED_BATCH
        if "0.1 ms slice" in pool.event_loop:  # Linux 6.12 on
            assert read_attr(pid) == (os.SCHED_OTHER, before[1], SHORT_SLICE_NS)
        else:
            assert read_attr(pid)[2] != SHORT_SLICE_NS
    finally:
        await pool.aclose()
    assert read_attr() == before
