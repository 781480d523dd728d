#!/usr/bin/env bash
# Installs what tbg needs on a Debian/Ubuntu machine, idempotently:
#   - system libraries: Open MPI, serial HDF5, OpenBLAS (the Swift package links them via pkg-config);
#   - a Python virtual environment in .venv with the pinned data tools (OpenMM, MDTraj, h5py, …).
# The Swift 6 toolchain itself must already be on PATH (swift.org installers).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for module in ompi-c hdf5 openblas; do
  pkg-config --exists "$module" 2>/dev/null || missing+=("$module")
done
command -v mpirun >/dev/null 2>&1 || missing+=(mpirun)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages (missing: ${missing[*]})"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libopenmpi-dev openmpi-bin libhdf5-dev libopenblas-dev pkg-config >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: error: the Swift toolchain (6.0 or newer) is not on PATH; install it from swift.org" >&2
  exit 1
fi

if ! python3 -m venv --help >/dev/null 2>&1; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
stamp=.venv/.requirements.sha256
wanted=$(sha256sum Tools/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: creating .venv with Tools/requirements.txt"
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r Tools/requirements.txt
  echo "$wanted" > "$stamp"
fi
echo "setup: ok ($(mpirun --version 2>/dev/null | head -1); HDF5 $(pkg-config --modversion hdf5); OpenBLAS $(pkg-config --modversion openblas); $(.venv/bin/python -c 'import openmm; print("OpenMM", openmm.__version__)'))"
