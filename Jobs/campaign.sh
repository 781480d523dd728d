#!/usr/bin/env bash
# A training campaign that outlives sessions (README "The AD2 campaign"). Training continues
# from the shipped model (MODEL, default Configs/models/ad2.h5) (the full checkpoint with optimizer state) on NP
# ranks in the background; `pause` checkpoints and stops it (SIGUSR1) so the machine is free for
# benchmarks; `ship` pauses and copies the checkpoint back over the shipped model.
#
#   bash Jobs/campaign.sh start [STEPS]   # resume (or seed from Configs/models/ad2.h5) up to STEPS steps, in the background
#   bash Jobs/campaign.sh pause           # SIGUSR1: finish the step, checkpoint, exit
#   bash Jobs/campaign.sh status          # the last progress lines
#   bash Jobs/campaign.sh ship            # pause, then copy the checkpoint to Configs/models/ad2.h5
#
# CONFIG (default Configs/ad2-modern.yaml), RUN (default data/runs/ad2-campaign), NP (default 2),
# MODEL (the shipped checkpoint, default Configs/models/ad2.h5). The transferable campaign:
#   CONFIG=Configs/dipeptides-campaign.yaml RUN=data/runs/dipeptides-campaign MODEL=Configs/models/dipeptides.h5 bash Jobs/campaign.sh start
# The data must exist: Configs/datasets/ad2-pooled.yaml (the config names data/ad2-pooled).
set -euo pipefail
cd "$(dirname "$0")/.."
job=campaign
source Jobs/common.sh
mpi_environment
config=${CONFIG:-Configs/ad2-modern.yaml}
run=${RUN:-data/runs/ad2-campaign}
np=${NP:-2}
shipped=${MODEL:-Configs/models/ad2.h5}
checkpoint=$run/checkpoint.h5
tbg=${TBG:-.build/release/tbg}
pidfile=$run/train.pid

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

pause() {
    if running; then
        local pid
        pid=$(cat "$pidfile")
        say "pausing (SIGUSR1 to $pid)"
        kill -USR1 "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 1; done
        say "paused at step $("$python" -c 'import h5py,sys; print(h5py.File(sys.argv[1])["/"].attrs["step"])' "$checkpoint" 2>/dev/null || echo '?')"
    else
        say "not running"
    fi
}
python=${PYTHON:-.venv/bin/python}

case ${1:-status} in
    start)
        [ -x "$tbg" ] || die "no $tbg: run swift build -c release"
        running && die "already running (pid $(cat "$pidfile")); pause it first"
        mkdir -p "$run"
        if [ ! -f "$checkpoint" ]; then
            if [ -f "$shipped" ]; then
                say "seeding $checkpoint from the shipped model $shipped"
                cp "$shipped" "$checkpoint"
            else
                say "no shipped model: starting a new campaign"
            fi
        fi
        steps=${2:-10000000}
        sets=(--set "training.checkpoint=$checkpoint" --set "training.steps=$steps")
        for s in ${TBG_SET:-}; do sets+=(--set "$s"); done
        say "mpirun -np $np $tbg train --config $config ${sets[*]} --resume  (log: $run/train.log)"
        nohup mpirun -np "$np" "$tbg" train --config "$config" "${sets[@]}" --resume >>"$run/train.log" 2>&1 &
        echo $! >"$pidfile"
        ;;
    pause) pause ;;
    status)
        if running; then say "running (pid $(cat "$pidfile"))"; else say "not running"; fi
        [ -f "$run/train.log" ] && grep -E "^step|resumed|stopping|error" "$run/train.log" | tail -n 5 || true
        ;;
    ship)
        pause
        [ -f "$checkpoint" ] || die "no checkpoint at $checkpoint"
        mkdir -p "$(dirname "$shipped")"
        cp "$checkpoint" "$shipped.tmp" && mv "$shipped.tmp" "$shipped"
        cp "$config" "${shipped%.h5}.yaml"
        say "shipped $checkpoint as $shipped (config ${shipped%.h5}.yaml); commit both"
        ;;
    *) die "usage: bash Jobs/campaign.sh start [STEPS] | pause | status | ship" ;;
esac
