#!/usr/bin/env bash
# Install quanttui with its dev extras into ./.venv and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
# tmux drives the console in the smoke tests; chromium opens report.html in the browser tests
# (tests/io/test_report_browser.py); prometheus scrapes a DCGM-format exporter in the telemetry
# tests. Each set is skipped without its program.
missing=""
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null 2>&1 \
        || echo "not installed:$missing: their tests will be skipped"
fi
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
.venv/bin/ruff check quanttui tests bench
.venv/bin/ruff format --check quanttui tests bench
.venv/bin/lint-imports --no-cache  # the layer contracts in pyproject.toml
.venv/bin/python -m pytest -q "$@"
