"""The open-loop checks on request results as a recording holds them (core/open_loop_check.py)."""

from quanttui.core.arrivals import Arrivals
from quanttui.core.events import RequestResult
from quanttui.core.open_loop_check import check_open_loop


def served(
    rate: float, count: int, service_s: float, servers: int, late_s: float = 0.0
) -> list[RequestResult]:
    """Poisson arrivals at `rate` served FIFO by `servers` parallel slots of `service_s` each."""
    free = [0.0] * servers
    out = []
    for index, at in enumerate(Arrivals(seed=3).offsets(rate, count)):
        start = at + late_s
        slot = min(range(servers), key=lambda i: free[i])
        end = max(start, free[slot]) + service_s
        free[slot] = end
        out.append(RequestResult(t=end, variant="v", step=0, index=index, warmup=False, start=start,
                                 ok=True, e2e=end - start, intended=at))  # fmt: skip
    return out


def test_a_server_that_keeps_up_is_steady_and_sends_on_time_are_not_behind():
    check = check_open_loop(10.0, served(10.0, 300, 0.2, 4), finished=True)  # capacity 20 req/s
    assert check.queue_growing is False
    assert check.behind is False and check.lag_p99_ms == 0.0
    assert 8.0 < check.sent_req_s < 12.0
    assert "of 10 req/s offered" in check.queue_detail


def test_a_saturated_server_has_a_growing_queue():
    check = check_open_loop(10.0, served(10.0, 300, 0.2, 1), finished=True)  # capacity 5 req/s
    assert check.queue_growing is True
    assert 4.0 < check.completed_req_s < 6.0
    assert "the queue was still growing" in check.queue_detail


def test_late_sends_are_behind_and_a_running_step_has_no_queue_verdict():
    late = check_open_loop(10.0, served(10.0, 100, 0.05, 4, late_s=0.02), finished=False)
    assert late.behind is True and late.lag_p99_ms == 20.0  # 20 ms > max(5 ms, 10 % of 100 ms)
    assert late.queue_growing is None  # still running: requests in flight are not seen yet
    ok = check_open_loop(1.0, served(1.0, 40, 0.05, 4, late_s=0.02), finished=False)
    assert ok.behind is False  # 20 ms is 2 % of a 1 s gap


def test_too_short_a_step_is_not_judged_and_closed_loop_results_have_no_check():
    short = check_open_loop(10.0, served(10.0, 8, 0.2, 4), finished=True)
    assert short.queue_growing is None and "too" in short.queue_detail
    closed = [RequestResult(t=1.0, variant="v", step=0, index=0, warmup=False, start=0.5, ok=True)]
    assert check_open_loop(10.0, closed, finished=True).behind is None
