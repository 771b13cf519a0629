"""Where a run writes: never over another run, never half over one.

An explicit `--out DIR` that already holds a run (a recording, a sweep.csv or a tag journal) is
refused with one line unless `--overwrite`; even then nothing is deleted: the earlier run's files
move into `DIR/previous-<UTC time>/` first, so the folder only ever holds files of one run. With
no `--out`, each run gets its own folder `DEFAULT/<UTC time>/` and `DEFAULT/latest` points at it.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

from quanttui.cli.common import UsageError

RUN_FILES = ("recording.jsonl", "sweep.csv", "tags.jsonl", "logs")


def add_out_options(p: argparse.ArgumentParser, default: str, required: bool = False) -> None:
    p.add_argument(
        "--out", required=required, default=None, metavar="DIR",
        help=f"the run's folder (default: a new {default}/<time>/, with {default}/latest pointing at it)",
    )  # fmt: skip
    p.add_argument(
        "--overwrite", action="store_true", help="--out may hold a run: it moves to DIR/previous-<time>/"
    )
    p.set_defaults(out_default=default)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def _check_writable(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path}: exists and is not a folder")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"--out {path}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"--out {path}: {ancestor} is not writable")


def run_folder(args: argparse.Namespace) -> Path:
    """The folder this run writes into (created), following the rules above."""
    if args.out is None:
        base = Path(args.out_default)
        _check_writable(base)
        folder = base / _stamp()
        suffix = 1
        while folder.exists():
            folder = base / f"{_stamp()}-{suffix}"
            suffix += 1
        folder.mkdir(parents=True)
        latest = base / "latest"
        try:
            if latest.is_symlink() or not latest.exists():
                tmp = base / f".latest-{os.getpid()}"
                tmp.unlink(missing_ok=True)
                tmp.symlink_to(folder.name)
                tmp.replace(latest)
        except OSError:
            pass  # a file system without links: the folder is named on stderr anyway
        return folder
    folder = Path(args.out)
    _check_writable(folder)
    held = [name for name in RUN_FILES if (folder / name).exists()]
    if held:
        if not args.overwrite:
            raise UsageError(
                f"--out {folder} already holds a run ({', '.join(held)}); give a new folder, or "
                "--overwrite to move that run into a previous-<time>/ folder inside it"
            )
        keep = folder / f"previous-{_stamp()}"
        keep.mkdir()
        for name in held:
            (folder / name).replace(keep / name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {folder}: cannot create it ({exc.strerror})") from None
    return folder
