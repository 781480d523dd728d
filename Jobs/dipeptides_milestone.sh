#!/usr/bin/env bash
# One milestone of the transferable model's learning curve (README "The transferable model"):
# zero-shot samples of every held-out test dipeptide, evaluated against its MD, the NLL of its MD
# frames, then a row appended to Configs/models/dipeptides-curve.json and the table printed.
#
#   bash Jobs/dipeptides_milestone.sh CORE_HOURS [CHECKPOINT]
#
# CHECKPOINT defaults to Configs/models/dipeptides.h5. Sizes: SAMPLES (per test peptide, default
# 200), NLL_FRAMES (default 20), NP (ranks, default 2). Outputs in data/runs/dipeptides-milestone/.
# Data: Configs/datasets/dipeptides-campaign.yaml (its test split).
set -euo pipefail
cd "$(dirname "$0")/.."
job=dipeptides_milestone
source Jobs/common.sh
mpi_environment

hours=${1:?usage: bash Jobs/dipeptides_milestone.sh CORE_HOURS [CHECKPOINT]}
checkpoint=${2:-Configs/models/dipeptides.h5}
dataset=${DATASET:-data/dipeptides-campaign}
samples=${SAMPLES:-200}
nll_frames=${NLL_FRAMES:-20}
np=${NP:-2}
out=data/runs/dipeptides-milestone
tbg=${TBG:-.build/release/tbg}
python=.venv/bin/python

[ -f "$dataset/index.json" ] || die "no dataset at $dataset: make it with Tools/make_dataset.py --spec Configs/datasets/dipeptides-campaign.yaml"
mkdir -p "$out"
tests=$("$python" -c 'import json,sys; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["peptides"] if p["split"] == "test"))' "$dataset/index.json")
say "test peptides: $tests; $samples samples each, NLL of $nll_frames frames, $np ranks"
args=()
for name in $tests; do
    file=$dataset/$name.h5
    dir=$out/$name
    mkdir -p "$dir"
    rm -rf "$dir/samples.h5" "$dir/samples.h5.chunks"
    say "[$name] sampling"
    mpirun -np "$np" "$tbg" sample --checkpoint "$checkpoint" --peptide "$file" --count "$samples" --chunk 8 --out "$dir/samples.h5" \
        --progress-seconds 60
    say "[$name] evaluating (with the NLL of $nll_frames MD frames)"
    mpirun -np "$np" "$tbg" evaluate --samples "$dir/samples.h5" --reference "$file" --nll-checkpoint "$checkpoint" \
        --nll-frames "$nll_frames" --json >"$dir/evaluate.json"
    args+=(--peptide "$name" "$dir/samples.h5" "$dir/evaluate.json")
done
"$python" Tools/transferable_milestone.py --checkpoint "$checkpoint" --core-hours "$hours" "${args[@]}" \
    --curve Configs/models/dipeptides-curve.json
