#!/usr/bin/env bash
# Training demonstration: make a small real dataset with OpenMM, check it, and train on it.
#
#   bash Jobs/train_demo.sh [OUT_DIR]        (default: data/train-demo)
#
# Generates alanine dipeptide (amber99sbildn-obc2, Configs/datasets/ad2-quick.yaml) and five
# zwitterionic dipeptides (amber14-obc1, Configs/datasets/dipeptides-quick.yaml), one process per
# core, runs `tbg inspect` on both datasets, a 2-rank MPI self-check, the force-field energy of a
# few frames, and a short 2-rank training run of the alanine-dipeptide model (Configs/ad2.yaml with
# a small batch, since the quick dataset has only 100 frames).
# Needs Tools/setup.sh and `swift build -c release` first (the README's first command does both).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-data/train-demo}
tbg=.build/release/tbg
python=.venv/bin/python
jobs=$(nproc 2>/dev/null || echo 2)

[ -x "$tbg" ] || { echo "train_demo: error: $tbg not found; run: swift build -c release" >&2; exit 1; }
[ -x "$python" ] || { echo "train_demo: error: $python not found; run: bash Tools/setup.sh" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

echo "train_demo: output $out, $jobs parallel MD processes"
mkdir -p "$out"
"$python" Tools/make_dataset.py --spec Configs/datasets/ad2-quick.yaml --out "$out/ad2-quick" --jobs "$jobs"
"$python" Tools/make_dataset.py --spec Configs/datasets/dipeptides-quick.yaml --out "$out/dipeptides-quick" --jobs "$jobs"

"$tbg" inspect "$out/ad2-quick" "$out/dipeptides-quick"
mpirun -np 2 "$tbg" selftest communicator
"$tbg" energy "$out/ad2-quick/AD.h5" --frames 0:3
# A demonstration starts over each time: --overwrite replaces the previous demo's checkpoint (tbg
# train refuses an existing checkpoint without --resume or --overwrite).
mpirun -np 2 "$tbg" train --overwrite --config Configs/ad2.yaml --set data.dataset="$out/ad2-quick" \
  --set data.frames_per_peptide=32 --set data.validation_frames=16 --set training.steps=60 \
  --set training.log_every=10 --set training.validate_every=30 --set training.checkpoint="$out/train/checkpoint.h5"
echo "train_demo: done; datasets in $out, checkpoint $out/train/checkpoint.h5"
