#!/usr/bin/env bash
# One milestone of the AD2 campaign's learning curve (README "The AD2 campaign"): samples of
# alanine dipeptide from the checkpoint, `tbg evaluate` against a biased test segment (frames
# weighted by exp(+V/kT), so both φ basins and the MD ΔF are there), the NLL of frames of the
# unbiased test trajectory, then a row appended to Configs/models/ad2-curve.json and the table.
#
#   bash Jobs/ad2_milestone.sh CORE_HOURS [CHECKPOINT]
#
# CHECKPOINT defaults to Configs/models/ad2.h5. SAMPLES (default 2000), NLL_EVERY (every k-th test
# frame, default 100: 200 frames), NP (ranks, default 2). Outputs in data/runs/ad2-milestone/; a
# finished sampling run is reused when its samples.h5 exists (delete it to sample again), a
# stopped one resumes. Data: Configs/datasets/ad2-test.yaml (NLL) and ad2-test-biased.yaml (the
# reference; without it the unbiased test trajectory is the reference and the MD ΔF is undefined).
set -euo pipefail
cd "$(dirname "$0")/.."
job=ad2_milestone
source Jobs/common.sh
mpi_environment

hours=${1:?usage: bash Jobs/ad2_milestone.sh CORE_HOURS [CHECKPOINT]}
checkpoint=${2:-Configs/models/ad2.h5}
samples=${SAMPLES:-2000}
every=${NLL_EVERY:-100}
np=${NP:-2}
out=${OUT:-data/runs/ad2-milestone}
tbg=${TBG:-.build/release/tbg}
python=.venv/bin/python
test_md=data/ad2-test/AD-s201.h5
reference=${REFERENCE:-data/ad2-test-biased/AD-s401.h5}

[ -f "$test_md" ] || die "no $test_md: make it with Tools/make_dataset.py --spec Configs/datasets/ad2-test.yaml --out data/ad2-test"
if [ ! -f "$reference" ]; then
    say "no biased reference $reference (Configs/datasets/ad2-test-biased.yaml): evaluating against $test_md, MD ΔF undefined"
    reference=$test_md
fi
mkdir -p "$out"
if [ ! -f "$out/samples.h5" ]; then
    resume=()
    [ -d "$out/samples.h5.chunks" ] && resume=(--resume)
    say "sampling $samples on $np ranks from $checkpoint"
    mpirun -np "$np" "$tbg" sample --checkpoint "$checkpoint" --peptide "$test_md" --count "$samples" --round-trip 32 \
        --out "$out/samples.h5" --progress-seconds 60 "${resume[@]}"
fi
say "evaluating against $reference"
"$tbg" evaluate --samples "$out/samples.h5" --reference "$reference" --json >"$out/evaluate.json"
say "NLL of every ${every}th frame of $test_md"
mpirun -np "$np" "$tbg" nll --checkpoint "$checkpoint" --data "$test_md" --every "$every" --json >"$out/nll.jsonl"
"$python" Tools/campaign_milestone.py --checkpoint "$checkpoint" --samples "$out/samples.h5" \
    --evaluate "$out/evaluate.json" --nll "$out/nll.jsonl" --core-hours "$hours"
cp "$out/evaluate.json" Configs/models/ad2-evaluate.json
