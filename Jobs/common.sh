# Shared by Jobs/train.sbatch, Jobs/sample.sbatch and Jobs/run_local.sh: sourced, not run.
# The sourcing script sets `job` (the prefix of its messages) and runs in the repository root.

say() { echo "$job: $*"; }
die() { echo "$job: error: $*" >&2; exit 1; }

# Open MPI refuses to run as root (containers, CI) without the first two; oversubscription lets
# mpirun start more ranks than cores (it changes nothing otherwise). One BLAS thread per rank.
mpi_environment() {
    if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
    export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
    export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
}

# Sets `launcher`: srun inside a SLURM job, else mpirun with NP ranks (default SLURM_NTASKS, else
# one per core). Local mpirun runs in its own session (setsid), so that a Ctrl-C in the terminal
# reaches only this script, which then asks tbg to stop cleanly, instead of mpirun killing the ranks.
choose_launcher() {
    if [ -n "${SLURM_JOB_ID:-}" ] && command -v srun >/dev/null 2>&1; then
        local extra=()
        read -r -a extra <<<"${SRUN_ARGS:-}"
        # --kill-on-bad-exit: one failing rank ends the step instead of leaving the others waiting.
        launcher=(srun --kill-on-bad-exit=1 --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}" "${extra[@]}")
    else
        launcher=(mpirun -np "${NP:-${SLURM_NTASKS:-$(nproc)}}")
        if command -v setsid >/dev/null 2>&1; then launcher=(setsid "${launcher[@]}"); fi
    fi
}

# Signals. `catch_signals FORWARD` (call it first thing) makes SIGUSR1, SIGTERM and SIGINT set
# `signal` to the signal's name and, once tbg runs, send FORWARD to the launcher (srun and mpirun
# pass it on to every rank). Without the traps, bash would die of SIGUSR1 and leave tbg running.
signal=""
forward_signal=TERM
launcher_pid=""
interrupted=0
on_signal() {
    signal=$1
    interrupted=1
    if [ -n "$launcher_pid" ]; then
        say "received SIG$1: sending SIG$forward_signal to tbg"
        kill -"$forward_signal" "$launcher_pid" 2>/dev/null || true
    else
        say "received SIG$1 before tbg started"
    fi
}
catch_signals() {
    forward_signal=$1
    trap 'on_signal USR1' USR1
    trap 'on_signal TERM' TERM
    trap 'on_signal INT' INT
}

# run_launched COMMAND…: runs `"${launcher[@]}" COMMAND…` in the background, waits until it exits
# and sets `status` to its exit status.
status=0
run_launched() {
    say "launching: ${launcher[*]} $*"
    "${launcher[@]}" "$@" &
    launcher_pid=$!
    # A signal may have come while the launcher started: pass it on now.
    [ -z "$signal" ] || kill -"$forward_signal" "$launcher_pid" 2>/dev/null || true
    # `wait` returns early when a trapped signal arrives: wait again until the launcher exits.
    while :; do
        interrupted=0
        wait "$launcher_pid" && status=0 || status=$?
        [ "$interrupted" = 1 ] || break
    done
    launcher_pid=""
}

# remove_stale_partials FILE WHAT: removes FILE.partial-<host>-<pid>, the temporary file of a write of
# FILE that was killed, when it was written on this host by a process that no longer runs (tbg does the
# same when it starts). Partial files of other hosts or of live processes (another job writing FILE on
# a shared filesystem) are left alone, and said so.
remove_stale_partials() {
    local file=$1 what=$2 host partial rest pid
    host=$(hostname)
    for partial in "$file".partial-*; do
        [ -e "$partial" ] || continue
        rest=${partial#"$file".partial-}
        pid=${rest##*-}
        case "$pid" in ''|*[!0-9]*) say "leaving $partial (not a partial-HOST-PID name)"; continue ;; esac
        if [ "$rest" = "$pid" ]; then
            say "leaving $partial: named by an older tbg without its host; remove it by hand if no job writes $file"
        elif [ "$rest" != "$host-$pid" ]; then
            say "leaving $partial: written on another host (${rest%-*}), which removes it when tbg starts there"
        elif kill -0 "$pid" 2>/dev/null && [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)" != Z ]; then
            say "leaving $partial: process $pid on this host is still writing it"
        else
            say "removing $what $partial"
            rm -f -- "$partial"
        fi
    done
}
