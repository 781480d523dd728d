#!/usr/bin/env bash
# The whole test suite: builds tbg, runs the Python data-tool tests (real OpenMM runs), a real
# 2-rank MPI smoke run of tbg, and the Swift tests (which include further mpirun runs).
# Run Tools/setup.sh first (the README's test command does both).
set -euo pipefail
cd "$(dirname "$0")/.."

# Open MPI refuses to run as root (CI, containers) without these, and needs oversubscription to
# start more ranks than this machine has cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# One release build serves everything: --build-tests compiles the modules once with testing
# enabled, and that build's tbg runs the Python tests and the smoke run. (A plain
# `swift build -c release` followed by `swift test -c release` compiled every module twice, once
# without and once with -enable-testing.)
echo "== build (release, with the tests)"
swift build -c release --build-tests

echo "== Python data tools (OpenMM generation, format, dataset builder)"
.venv/bin/python -m pytest Tools/tests -q

echo "== MPI smoke run: mpirun -np 2 tbg selftest communicator"
mpirun -np 2 .build/release/tbg selftest communicator

echo "== Swift tests (release build)"
swift test -c release --skip-build --disable-swift-testing
