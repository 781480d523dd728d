#!/usr/bin/env bash
# One milestone of the transferable model's learning curve (README "The transferable model"):
# zero-shot samples of every held-out test dipeptide, evaluated against its MD, the NLL of its MD
# frames, then a row appended to Configs/models/dipeptides-curve.json and the table printed.
#
#   bash Jobs/dipeptides_milestone.sh CORE_HOURS [CHECKPOINT]
#
# CHECKPOINT defaults to Configs/models/dipeptides.h5. Sizes: SAMPLES (per test peptide, default
# 200; SAMPLES_RV=100 and the like set one peptide's count), NLL_FRAMES (default 20), NP (ranks,
# default 2); PEPTIDES="KS RV" limits the run to some test peptides (the row then has only those).
# Outputs in data/runs/dipeptides-milestone/step-STEP/NAME/ (STEP: the checkpoint's training step).
# Nothing is computed twice: run again after a stop (Ctrl-C, SIGTERM, a lost session) and it
# resumes the unfinished sampling (`tbg sample --resume`) and keeps every finished peptide; a
# peptide's finished samples are computed again only when its sample count changed (the earlier
# ones are kept as samples-nCOUNT.h5; unfinished sampling continues at the new count, keeping its
# chunks), its evaluation when NLL_FRAMES did.
# Data: Configs/datasets/dipeptides-campaign.yaml (its test split).
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
job=dipeptides_milestone
source Jobs/common.sh
mpi_environment

# A relative CHECKPOINT or DATASET is taken from where the script was called, then from the
# repository root (the README's commands).
from_caller() { if [[ "$1" != /* ]] && [ -e "$caller/$1" ]; then echo "$caller/$1"; else echo "$1"; fi; }
hours=${1:?usage: bash Jobs/dipeptides_milestone.sh CORE_HOURS [CHECKPOINT]}
[[ "$hours" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "CORE_HOURS must be a number (the campaign's core-hours so far), not '$hours'"
checkpoint=$(from_caller "${2:-Configs/models/dipeptides.h5}")
dataset=$(from_caller "${DATASET:-data/dipeptides-campaign}")
samples=${SAMPLES:-200}
nll_frames=${NLL_FRAMES:-20}
np=${NP:-2}
tbg=${TBG:-.build/release/tbg}
python=.venv/bin/python

[ -f "$dataset/index.json" ] || die "no dataset at $dataset: make it with Tools/make_dataset.py --spec Configs/datasets/dipeptides-campaign.yaml"
[ -f "$checkpoint" ] || die "no checkpoint $checkpoint"
read -r step seen < <("$tbg" inspect --json "$checkpoint" | "$python" -c 'import json,sys; d = json.loads(sys.stdin.readline()); print(d["step"], d.get("samples_seen") or "")') \
    && [ -n "$step" ] || die "$checkpoint: cannot read its training step (tbg inspect)"
out=data/runs/dipeptides-milestone/step-$step
tests=$("$python" -c 'import json,sys; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["peptides"] if p["split"] == "test"))' "$dataset/index.json" 2>/dev/null) \
    || die "$dataset/index.json is not a dataset index (a JSON object whose peptides have name and split)"
if [ -n "${PEPTIDES:-}" ]; then
    set -f   # PEPTIDES='*' is a name, not a glob
    for name in $PEPTIDES; do
        [[ " $tests " == *" $name "* ]] || die "PEPTIDES: $name is not a test peptide of $dataset (test peptides: $tests)"
    done
    tests=$PEPTIDES
    set +f
fi
[ -n "${tests// /}" ] || die "no test peptides to run (the test split of $dataset/index.json, or PEPTIDES, is empty)"
for name in $tests; do
    [ -f "$dataset/$name.h5" ] || die "no MD of test peptide $name: $dataset/$name.h5 is missing"
    count_variable=SAMPLES_$name
    count=${!count_variable:-$samples}
    [[ "$count" =~ ^[1-9][0-9]*$ ]] || die "$count_variable (or SAMPLES) must be a positive whole number, not '$count'"
done
mkdir -p "$out"
say "checkpoint $checkpoint (step $step); test peptides: $tests; $samples samples each unless SAMPLES_NAME says otherwise, NLL of $nll_frames frames, $np ranks; outputs in $out"
args=()
for name in $tests; do
    file=$dataset/$name.h5
    dir=$out/$name
    count_variable=SAMPLES_$name
    count=${!count_variable:-$samples}
    mkdir -p "$dir"
    # Outputs of another sample count are kept under their count's name (samples-n100.h5, …) and
    # the new count computed; outputs of this count are kept and continued. An unfinished run
    # (only samples.h5.chunks/) is continued at the new count instead: `tbg sample --resume` keeps
    # its finished chunks inside the new count and sets the rest aside.
    old_count=$(cat "$dir/count" 2>/dev/null || true)
    if [ "$old_count" != "$count" ]; then
        kept_files=(samples.h5 evaluate.json)
        [ -e "$dir/samples.h5" ] && kept_files+=(samples.h5.chunks)
        for f in "${kept_files[@]}"; do
            [ -e "$dir/$f" ] || continue
            kept=$dir/${f/samples/samples-n${old_count:-unknown}}
            [ "$f" = evaluate.json ] && kept=$dir/evaluate-n${old_count:-unknown}.json
            mv -n "$dir/$f" "$kept" && say "[$name] kept the outputs of $old_count samples as $kept"
        done
        echo "$count" >"$dir/count"
    fi
    if [ -f "$dir/samples.h5" ] && [ ! -d "$dir/samples.h5.chunks" ]; then
        say "[$name] $count samples are there already: $dir/samples.h5"
    else
        say "[$name] sampling $count"
        mpirun -np "$np" "$tbg" sample --checkpoint "$checkpoint" --peptide "$file" --count "$count" --chunk 8 \
            --out "$dir/samples.h5" --resume --progress-seconds 60
        # A stop signal ends tbg sample with status 0 and its chunks kept, but no samples.h5:
        # nothing to evaluate; the same command continues it.
        if [ ! -f "$dir/samples.h5" ]; then
            say "[$name] sampling stopped before it finished (its chunks are kept in $dir/samples.h5.chunks): run the same command again to continue"
            exit 0
        fi
    fi
    old_frames=$(cat "$dir/nll_frames" 2>/dev/null || true)
    if [ "$old_frames" != "$nll_frames" ]; then
        [ -e "$dir/evaluate.json" ] && mv -n "$dir/evaluate.json" "$dir/evaluate-nll${old_frames:-unknown}.json"
        echo "$nll_frames" >"$dir/nll_frames"
    fi
    if [ -s "$dir/evaluate.json" ]; then
        say "[$name] evaluated already: $dir/evaluate.json"
    else
        say "[$name] evaluating (with the NLL of $nll_frames MD frames)"
        mpirun -np "$np" "$tbg" evaluate --samples "$dir/samples.h5" --reference "$file" --nll-checkpoint "$checkpoint" \
            --nll-frames "$nll_frames" --json >"$dir/evaluate.json.partial"
        mv "$dir/evaluate.json.partial" "$dir/evaluate.json"
    fi
    args+=(--peptide "$name" "$dir/samples.h5" "$dir/evaluate.json")
done
# Samples seen come from the checkpoint's own record of its training peptides (tbg inspect), so the
# row is right even where the dataset folder holds only the test peptides (remade on a new machine).
seen_args=()
[ -n "$seen" ] && seen_args=(--samples-seen "$seen")
"$python" Tools/transferable_milestone.py --checkpoint "$checkpoint" --core-hours "$hours" "${seen_args[@]}" "${args[@]}" \
    --curve Configs/models/dipeptides-curve.json
