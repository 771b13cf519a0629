"""quanttui: side-by-side load, telemetry and quality triage for BF16 vs INT4 models on vLLM."""

__version__ = "0.1.0"
