#!/usr/bin/env bash
# SNIS vs resample-move SMC vs flow-MCMC vs plain MD on alanine dipeptide at equal target-energy
# budgets (issue 13; field.md §4-5; README "Sequential Monte Carlo and flow-MCMC"). Every row is
# evaluated by tbg evaluate against the biased test segment (frames weighted by exp(+V/kT), so both
# φ basins and the MD ΔF are there), and Tools/sampler_table.py writes the table.
#
#   bash Jobs/ad2_samplers.sh [POOL]
#
# POOL: a tbg sample output of the AD2 model (default data/runs/ad2-milestone/samples.h5, the last
# milestone's; its wall time is read from sample.log beside it, or SAMPLE_SECONDS). With N samples
# in the pool:
#   budget ≈ N        SNIS on the whole pool; SMC and flow-MCMC on its first N/2 samples plus N/2
#                     MALA steps (SMC in three allocations of them: N/4 particles x 3 steps,
#                     "smc-small"; N/2 particles x 1 step, "smc-small-wide"; N/20 particles x N/400
#                     steps, "smc-small-deep"); MD for N steps
#   budget ≈ LARGE    SMC (1000 particles, 5 stages x 10 MALA steps, with and without tempering from
#                     beta0 = 0.5) and flow-MCMC (32 chains x 220 sweeps x 8 MALA steps) on the
#                     whole pool, MD for the same number of steps; SNIS at this budget would need a
#                     pool of LARGE samples (shown as not run)
#   pairings         every SMC and flow-MCMC row against SNIS on the same pool at the row's M (at
#                     most the pool's valid samples) and seeds 1-3, so on the same MD frames (a W2
#                     is biased upward at small M and moves with the seed): tbg evaluate --max-points
#                     M --seed s of both into OUT/paired/, a second table (sampler_table.py --paired)
# NP ranks (default 2), OUT (default data/runs/ad2-samplers). Finished outputs are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
job=ad2_samplers
source Jobs/common.sh
mpi_environment

pool=${1:-data/runs/ad2-milestone/samples.h5}
np=${NP:-2}
out=${OUT:-data/runs/ad2-samplers}
tbg=${TBG:-.build/release/tbg}
python=.venv/bin/python
reference=${REFERENCE:-data/ad2-test-biased/AD-s401.h5}
md=${MD:-data/ad2-test/AD-s201.h5}
[ -f "$pool" ] || die "no pool $pool: run SAMPLES=4000 bash Jobs/ad2_milestone.sh first"
[ -f "$reference" ] || die "no $reference: make it with Tools/make_dataset.py --spec Configs/datasets/ad2-test-biased.yaml --out data/ad2-test-biased"
mkdir -p "$out"
n=$("$python" -c 'import h5py,sys; print(h5py.File(sys.argv[1])["coordinates"].shape[0])' "$pool")
half=$((n / 2))
sample_seconds=${SAMPLE_SECONDS:-$(sed -n 's/.* in \([0-9.]*\) s on .*/\1/p' "$(dirname "$pool")/sample.log" 2>/dev/null | tail -n 1)}
[ -n "$sample_seconds" ] || die "no wall time of the pool: set SAMPLE_SECONDS"
say "pool $pool: $n samples, sampled in $sample_seconds s"
rows=()

# run NAME SECONDS_OF_POOL_SHARE COMMAND…: runs the command unless $out/NAME.h5 exists, records its wall time.
run() {
    local name=$1 share=$2
    shift 2
    if [ ! -f "$out/$name.h5" ]; then
        local start end
        start=$(date +%s.%N)
        "$@" >"$out/$name.log" 2>&1 || { tail -n 20 "$out/$name.log" >&2; die "$name failed (log $out/$name.log)"; }
        end=$(date +%s.%N)
        "$python" -c 'import sys; print(float(sys.argv[1]) - float(sys.argv[2]) + float(sys.argv[3]))' "$end" "$start" "$share" >"$out/$name.seconds"
    fi
    # An evaluation newer than its samples and than tbg is kept.
    if [ ! "$out/$name.json" -nt "$out/$name.h5" ] || [ ! "$out/$name.json" -nt "$tbg" ]; then
        say "evaluating $name"
        "$tbg" evaluate --samples "$out/$name.h5" --reference "$reference" --json >"$out/$name.json"
    fi
    rows+=(--row "$name" "$out/$name.json" "$out/$name.seconds")
}

# MD's wall time is OpenMM's measured time per step × the budget (Tools/md_as_samples.py --time-steps).
md_seconds() {
    "$python" -c 'import h5py,sys,numpy; print(float(numpy.ravel(h5py.File(sys.argv[1])["samples"].attrs["wall_seconds"])[0]))' "$out/$1.h5" >"$out/$1.seconds"
    rows[${#rows[@]}-1]="$out/$1.seconds"
}

half_share=$("$python" -c 'import sys; print(float(sys.argv[1]) * int(sys.argv[2]) / int(sys.argv[3]))' "$sample_seconds" "$half" "$n")
# Budget ≈ N.
[ -f "$out/snis.h5" ] || { ln -sf "$(realpath "$pool")" "$out/snis.h5"; echo "$sample_seconds" >"$out/snis.seconds"; }
run snis "$sample_seconds" true
steps=$((half / 200 > 0 ? half / 200 : 1))
# Each particle costs one evaluation at the start and one per MALA step.
run smc-small "$half_share" mpirun -np "$np" "$tbg" smc "$pool" --proposals "$half" --out "$out/smc-small.h5" \
    --particles $((half / 4)) --stages 1 --steps-per-stage 3 --burn-in 2
run smc-small-wide "$half_share" mpirun -np "$np" "$tbg" smc "$pool" --proposals "$half" --out "$out/smc-small-wide.h5" \
    --particles $((half / 2)) --stages 1 --steps-per-stage 1 --burn-in 1
run smc-small-deep "$half_share" mpirun -np "$np" "$tbg" smc "$pool" --proposals "$half" --out "$out/smc-small-deep.h5" \
    --particles $((half / 10)) --stages 1 --steps-per-stage "$steps" --burn-in $(((steps + 1) / 2))
sweeps=$((half / (20 * 5)))
run mcmc-small "$half_share" mpirun -np "$np" "$tbg" mcmc "$pool" --proposals "$half" --out "$out/mcmc-small.h5" \
    --chains 20 --steps-per-sweep 5 --burn-in $((sweeps / 5)) --chain-length $((sweeps - sweeps / 5))
budget=$("$python" -c 'import h5py,sys,numpy; print(int(numpy.ravel(h5py.File(sys.argv[1])["samples"].attrs["energy_evaluations"])[0]))' "$out/snis.h5")
run md-small 0 "$python" Tools/md_as_samples.py --md "$md" --evaluations "$budget" --out "$out/md-small.h5" --time-steps 5000
md_seconds md-small

# Budget ≈ LARGE.
run smc "$sample_seconds" mpirun -np "$np" "$tbg" smc "$pool" --out "$out/smc.h5" --particles 1000 --stages 5 --steps-per-stage 10
run smc-tempered "$sample_seconds" mpirun -np "$np" "$tbg" smc "$pool" --out "$out/smc-tempered.h5" --particles 1000 \
    --stages 5 --steps-per-stage 10 --beta0 0.5
# 32 chains x 220 sweeps x 0.5 independence proposals = 3520 pool draws, each used once.
run mcmc "$sample_seconds" mpirun -np "$np" "$tbg" mcmc "$pool" --out "$out/mcmc.h5" --chains 32 --steps-per-sweep 8 \
    --burn-in 20 --chain-length 200
large=$("$python" -c 'import h5py,sys,numpy; print(int(numpy.ravel(h5py.File(sys.argv[1])["samples"].attrs["energy_evaluations"])[0]))' "$out/smc.h5")
run md 0 "$python" Tools/md_as_samples.py --md "$md" --evaluations "$large" --out "$out/md.h5" --time-steps 5000
md_seconds md

# Pairings with SNIS at each row's M and seed.
m_of() { "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["snis_tbg"]["resampled"])' "$out/$1.json"; }
# evaluate_at NAME M SEED: tbg evaluate of NAME's samples at --max-points M --seed SEED (kept while newer than both).
evaluate_at() {
    local file="$out/paired/$1-M$2-s$3.json"
    if [ ! "$file" -nt "$out/$1.h5" ] || [ ! "$file" -nt "$tbg" ]; then
        "$tbg" evaluate --samples "$out/$1.h5" --reference "$reference" --max-points "$2" --seed "$3" --json >"$file.tmp" \
            || die "tbg evaluate of $1 at --max-points $2 --seed $3 failed"
        mv "$file.tmp" "$file"
    fi
}
mkdir -p "$out/paired"
pairs=()
snis_m=$(m_of snis)
say "pairing the SMC and flow-MCMC rows with SNIS at their M, seeds 1-3"
for name in smc-small smc-small-wide smc-small-deep mcmc-small smc smc-tempered mcmc; do
    m=$(m_of "$name")
    [ "$m" -le "$snis_m" ] || m=$snis_m
    # No sample with a positive weight: no W2 to pair.
    if [ "$m" -lt 1 ]; then say "no pairing for $name: no samples in its W2s"; continue; fi
    for s in 1 2 3; do
        evaluate_at snis "$m" "$s"
        evaluate_at "$name" "$m" "$s"
        pairs+=(--paired "$name" "$s" "$out/paired/snis-M$m-s$s.json" "$out/paired/$name-M$m-s$s.json")
    done
done

"$python" Tools/sampler_table.py "${rows[@]}" "${pairs[@]}" --out "$out/table.md"
cat "$out/table.md"
