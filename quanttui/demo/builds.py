"""Model directories that are built whole or not at all, and rebuilt only when their recipe changes.

A build writes into a sibling temp directory, puts a marker with the recipe's fingerprint in it,
and renames it into place: a killed prepare never leaves a half model where a whole one is expected.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quanttui.demo.paths import DemoPaths
from quanttui.demo.venvs import PrepareError

MODEL_MARKER = ".quanttui-model.json"


def ensure_built(
    target: Path,
    fingerprint: str,
    build: Callable[[Path], object],
    *,
    info: dict[str, Any] | None = None,
    expect: tuple[str, ...] = ("config.json", "*.safetensors"),
) -> float:
    """Build `target` with `build(tmp_dir)` unless its marker carries `fingerprint`; return seconds
    (0.0 when it was current). The build runs in a sibling temp dir that is renamed into place after
    the marker was written in it, so `target` is either the old complete model or the new one."""
    if read_marker(target).get("fingerprint") == fingerprint:
        return 0.0
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    remove_path(tmp)
    tmp.mkdir(parents=True)
    t0 = time.monotonic()
    try:
        build(tmp)
        missing = [pattern for pattern in expect if not any(tmp.glob(pattern))]
        if missing:
            raise PrepareError(f"build {target.name}: no {' and '.join(missing)} in the output")
        for path in tmp.iterdir():  # transformers writes model.safetensors 0600; the dir's mode still rules
            if path.is_file():
                path.chmod(path.stat().st_mode | 0o044)
        seconds = time.monotonic() - t0
        marker = {"fingerprint": fingerprint, "build_id": uuid.uuid4().hex, "seconds": round(seconds, 1)}
        marker.update(info or {})
        (tmp / MODEL_MARKER).write_text(json.dumps(marker, indent=1) + "\n")
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if target.exists() or target.is_symlink():
            target.rename(old)
        tmp.rename(target)
        remove_path(old)
    except BaseException:
        remove_path(tmp)
        raise
    return seconds


def read_marker(model_dir: Path) -> dict[str, Any]:
    try:
        marker = json.loads((model_dir / MODEL_MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def build_id(model_dir: Path) -> str | None:
    return read_marker(model_dir).get("build_id")


def remove_path(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def remove_leftovers(paths: DemoPaths) -> None:
    """Temp dirs of a prepare that was killed (we hold the lock, so no one else is using them)."""
    for parent in (paths.models, paths.root):
        if parent.is_dir():
            for leftover in (*parent.glob(".*.tmp-*"), *parent.glob(".*.old-*")):
                remove_path(leftover)


def weights_bytes(model_dir: Path) -> int:
    if not model_dir.is_dir():
        return 0
    return sum(p.stat().st_size for pattern in ("*.safetensors", "*.gguf") for p in model_dir.glob(pattern))
