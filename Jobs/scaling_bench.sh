#!/usr/bin/env bash
# Measurements for the cluster scaling model (Tools/scaling_model.py, README "Scaling to clusters"):
# one rank's training step at several batches for the AD2 and the 2AA model sizes, and the
# all-reduce time against message size on NP ranks. Run it on a quiet machine (pause campaigns:
# bash Jobs/campaign.sh pause); about 3 minutes on 2 cores.
#
#   bash Jobs/scaling_bench.sh [OUT_DIR]      (default data/runs/scaling)
#   .venv/bin/python Tools/scaling_model.py data/runs/scaling
set -euo pipefail
cd "$(dirname "$0")/.."
job=scaling_bench
source Jobs/common.sh
mpi_environment
out=${1:-data/runs/scaling}
tbg=${TBG:-.build/release/tbg}
np=${NP:-2}
[ -x "$tbg" ] || die "$tbg not found; run: swift build -c release"
mkdir -p "$out"
echo "$(lscpu | sed -n "s/^Model name: *//p" | head -1) (family $(lscpu | sed -n "s/^CPU family: *//p" | head -1), model $(lscpu | sed -n "s/^Model: *//p" | head -1)), $(getconf _NPROCESSORS_ONLN) cores" >"$out/cpu.txt"
say "CPU: $(cat "$out/cpu.txt"); output $out"
for b in 8 32 128 256; do
    "$tbg" bench train --batch "$b" --steps 5 --warmup 1 --json >"$out/train-ad2-b$b.json"
    say "AD2 batch $b: $(cat "$out/train-ad2-b$b.json")"
done
for b in 8 16 32; do
    "$tbg" bench train --atoms 36 --hidden 128 --layers 9 --feature-width 40 --batch "$b" --steps 3 --warmup 1 --json >"$out/train-2aa-b$b.json"
    say "2AA batch $b: $(cat "$out/train-2aa-b$b.json")"
done
mpirun -np "$np" "$tbg" bench allreduce --repeats 20 --json >"$out/allreduce.json"
say "all-reduce on $np ranks: $(cat "$out/allreduce.json")"
