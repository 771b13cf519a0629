#!/usr/bin/env bash
# Install quanttui with its dev extras into ./.venv and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
.venv/bin/ruff check quanttui tests bench
.venv/bin/ruff format --check quanttui tests bench
.venv/bin/python -m pytest -q "$@"
