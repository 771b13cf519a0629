"""Engine log lines as the console shows them: vLLM's prefix folded, quanttui's scrapes counted out."""

from pathlib import Path

from quanttui.core.live_variant import VariantLive
from quanttui.core.log_view import fold_line, is_scrape_line

LOGS = Path(__file__).parents[1] / "data"


def test_vllm_prefix_folds_to_level_initial_and_time():
    line = "(APIServer pid=27229) INFO 11-23 22:23:45 [loggers.py:123] Engine 000: Avg prompt throughput: 1.0"
    assert fold_line(line) == "I 22:23:45 Engine 000: Avg prompt throughput: 1.0"
    assert fold_line(
        "(EngineCore_DP0 pid=15133) WARNING 11-23 20:07:31 [cpu.py:224] Triton is not installed."
    ) == ("W 20:07:31 EngineCore_DP0: Triton is not installed.")
    assert fold_line("ERROR 11-23 20:07:31.123 [core.py:9] boom") == "E 20:07:31 boom"  # no process part
    assert fold_line('INFO:     127.0.0.1:51234 - "POST /v1/chat/completions HTTP/1.1" 200 OK') == (
        "I POST /v1/chat/completions 200 OK"
    )
    assert fold_line("INFO:     Started server process [1234]") == "I Started server process [1234]"
    for other in ("llama_perf_context_print: load time = 1.0 ms", "  warnings.warn(", "", "[bold]x[/]"):
        assert fold_line(other) == other


def test_every_line_of_the_real_vllm_logs_keeps_its_message():
    for path in sorted((LOGS / "vllm-logs").glob("*.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            folded = fold_line(line)
            assert len(folded) <= len(line)
            if line.startswith("(APIServer pid=") and "] " in line:
                assert folded.endswith(line.split("] ", 1)[1])


def test_scrape_lines_are_the_get_metrics_access_lines():
    scrapes = [
        'INFO:     127.0.0.1:40948 - "GET /metrics HTTP/1.1" 200 OK',
        '(APIServer pid=1) INFO:     127.0.0.1:40948 - "GET /metrics HTTP/1.1" 200 OK',
        'INFO:     127.0.0.1:41208 - "GET /metrics HTTP/1.1" 404 Not Found',  # llama-cpp-python
    ]
    assert all(is_scrape_line(line) for line in scrapes)
    others = [
        'INFO:     127.0.0.1:40948 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
        "INFO 11-23 20:07:23 [api.py:1] Route: /metrics, Methods: GET",
        "GET /metrics is mentioned in a message",
    ]
    assert not any(is_scrape_line(line) for line in others)
    real = (LOGS / "vllm-logs" / "serve-vllm-0.32.0-cpu-bf16.log").read_text(encoding="utf-8").splitlines()
    assert sum(is_scrape_line(line) for line in real) == sum('"GET /metrics ' in line for line in real) > 0


def test_a_variant_counts_scrape_lines_instead_of_keeping_them():
    v = VariantLive("bf16", history_s=60, window_s=30, log_lines=3)
    v.on_log(1.0, "INFO 11-23 22:23:45 [a.py:1] kept", "stdout")
    for i in range(10):  # they would push the kept line out of a 3-line tail
        v.on_log(2.0 + i, 'INFO:     127.0.0.1:1 - "GET /metrics HTTP/1.1" 200 OK', "stdout")
    assert [e.text for e in v.logs] == ["INFO 11-23 22:23:45 [a.py:1] kept"]
    assert v.log_count == 1 and v.scrape_lines == 10
