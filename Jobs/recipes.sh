#!/usr/bin/env bash
# The AD2 training-recipe comparison at a fixed budget (README "Training recipes"): five recipes,
# each trained for STEPS steps of batch 256 on one rank (two at a time), then for each the NLL of
# 200 frames of the held-out test trajectory, dopri5 evaluations per sample, and for the two best
# by NLL the valid fraction and ESS of SAMPLES samples. Re-running skips finished parts (a stopped
# training resumes), so the comparison can be continued after an interruption.
#   bash Jobs/recipes.sh                  # 1000 steps = 2.56·10⁵ samples per recipe
#   STEPS=2000 SAMPLES=1000 bash Jobs/recipes.sh
#   EXTRA="data.frames_per_peptide=8 model.hidden=8" …   # further --set overrides for every recipe
# Needs data/ad2-pooled and data/ad2-test (Configs/datasets/ad2-pooled.yaml, ad2-test.yaml) and a
# release build. The table: .venv/bin/python Tools/recipe_table.py data/runs/recipes
set -euo pipefail
cd "$(dirname "$0")/.."
job=recipes
source Jobs/common.sh
mpi_environment
steps=${STEPS:-1000}
samples=${SAMPLES:-500}
out=${OUT:-data/runs/recipes}
data=${DATA:-data/ad2-pooled}
test_file=${TEST_FILE:-data/ad2-test/AD-s201.h5}
tbg=${TBG:-.build/release/tbg}
python=${PYTHON:-.venv/bin/python}
[ -x "$tbg" ] || die "no $tbg: run swift build -c release"
[ -f "$data/index.json" ] || die "no dataset $data (Tools/make_dataset.py --spec Configs/datasets/ad2-pooled.yaml --out $data)"
[ -f "$test_file" ] || die "no test trajectory $test_file (Tools/make_dataset.py --spec Configs/datasets/ad2-test.yaml --out data/ad2-test)"
mkdir -p "$out"

# ECNF++ standardises coordinates by the std of the centred training data (method.md §2.2).
scaling=$("$python" Tools/recipe_table.py --scaling "$data")
say "ECNF++ scaling: 1/std = $scaling per nm"

declare -A recipe
recipe[1-original]="data.stream=windowed"
recipe[2-ema-iid]="data.stream=iid training.ema_decay=0.999"
recipe[3-ot]="data.stream=iid training.ema_decay=0.999 training.coupling=ot"
recipe[4-equivariant-ot]="data.stream=iid training.ema_decay=0.999 training.coupling=equivariant_ot"
recipe[5-ecnf++]="data.stream=iid training.ema_decay=0.999 training.schedule=onecycle training.gradient_clip=1.0 training.adam.weight_decay=1e-4 training.sigma=0 training.random_rotation=true model.scaling=$scaling"
names=(1-original 2-ema-iid 3-ot 4-equivariant-ot 5-ecnf++)

train() {
    local name=$1 dir="$out/$1" sets=()
    mkdir -p "$dir"
    for s in ${recipe[$name]} "data.dataset=$data" "training.steps=$steps" "training.checkpoint=$dir/checkpoint.h5" \
             "training.validate_every=100" "training.log_every=50" ${EXTRA:-}; do sets+=(--set "$s"); done
    if [ -f "$dir/done" ]; then say "$name: trained"; return; fi
    say "$name: training ${recipe[$name]}"
    local start=$SECONDS
    "$tbg" train --mpi off --config Configs/ad2.yaml "${sets[@]}" --resume >>"$dir/train.log" 2>&1
    echo "$((SECONDS - start))" >>"$dir/train_seconds"
    touch "$dir/done"
}

evaluate() {
    local name=$1 dir="$out/$1"
    if [ ! -s "$dir/nll.jsonl" ]; then
        say "$name: NLL of 200 test frames"
        "$tbg" nll --mpi off --checkpoint "$dir/checkpoint.h5" --data "$test_file" --every 100 --json >"$dir/nll.jsonl.tmp"
        mv "$dir/nll.jsonl.tmp" "$dir/nll.jsonl"
    fi
    if [ ! -f "$dir/samples-64.h5" ]; then
        say "$name: 64 samples (evaluations per sample)"
        "$tbg" sample --mpi off --checkpoint "$dir/checkpoint.h5" --peptide "$test_file" --count 64 --out "$dir/samples-64.h5" >"$dir/sample-64.log"
    fi
}

for ((i = 0; i < ${#names[@]}; i += 2)); do
    train "${names[i]}" &
    if [ $((i + 1)) -lt ${#names[@]} ]; then train "${names[i + 1]}" & fi
    wait
done
for ((i = 0; i < ${#names[@]}; i += 2)); do
    evaluate "${names[i]}" &
    if [ $((i + 1)) -lt ${#names[@]} ]; then evaluate "${names[i + 1]}" & fi
    wait
done
# The two best by NLL (nm, so that recipes with another scaling compare): SAMPLES samples each, in parallel.
mapfile -t best < <("$python" Tools/recipe_table.py --best 2 "$out")
for name in "${best[@]}"; do
    if [ ! -f "$out/$name/samples-$samples.h5" ]; then
        say "$name: $samples samples (valid fraction, ESS)"
        "$tbg" sample --mpi off --checkpoint "$out/$name/checkpoint.h5" --peptide "$test_file" --count "$samples" \
            --out "$out/$name/samples-$samples.h5" >"$out/$name/sample-$samples.log" &
    fi
done
wait
"$python" Tools/recipe_table.py "$out"
