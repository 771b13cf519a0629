#!/usr/bin/env bash
# The test suite on a busy machine: two CPU-spinning processes (normal priority, nice 0) run for as
# long as the tests do, as other work would on a shared CI runner, so a test whose timing only holds
# on an idle machine shows up here. Arguments go to pytest:
#     bash scripts/busy_tests.sh -m "not engine"
# With ./.venv present the tests run straight from it (the pytest line of scripts/test.sh); without
# it, scripts/test.sh installs it first. Prints the wall time; exits with pytest's exit code.
# BUSY_SPINNERS=N changes the number of spinners.
#
# The spinners are stopped on every way out (trap), and each also ends by itself once this script is
# gone (its parent pid changes), so not even a SIGKILL of the script leaves one spinning.
set -uo pipefail
cd "$(dirname "$0")/.."

pids=()
stop_spinners() {
    for pid in "${pids[@]+"${pids[@]}"}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    pids=()
}
trap stop_spinners EXIT
trap 'stop_spinners; exit 130' INT
trap 'stop_spinners; exit 143' TERM
trap 'stop_spinners; exit 129' HUP

for _ in $(seq "${BUSY_SPINNERS:-2}"); do
    nice -n 0 python3 -c 'import os
parent = os.getppid()
while os.getppid() == parent:
    pass' &
    pids+=("$!")
done
echo "busy: ${#pids[@]} CPU spinners (pids ${pids[*]}) on $(nproc) cores" >&2

start=$(date +%s)
# pytest runs in the foreground: Ctrl-C reaches it and it cleans up; a signal sent to this script
# alone is acted on (spinners stopped) once pytest has returned.
if [ -x .venv/bin/python ]; then
    .venv/bin/python -m pytest -q "$@"
else
    bash scripts/test.sh "$@"
fi
code=$?
stop_spinners
elapsed=$(($(date +%s) - start))
printf 'busy run: %dm%02ds wall, pytest exit code %d\n' $((elapsed / 60)) $((elapsed % 60)) "$code" >&2
exit "$code"
