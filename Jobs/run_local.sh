#!/usr/bin/env bash
# Workstation runs with plain mpirun, one rank per core by default: the same steps as the SLURM
# scripts (fail-fast checks, the resolved configuration printed first, automatic resume).
#
#   bash Jobs/run_local.sh train [NP] [CONFIG] [key=value | --set key=value …]
#   bash Jobs/run_local.sh sample [NP] --checkpoint CK --peptide FILE --count N --out OUT.h5 [tbg sample options]
#
#   bash Jobs/run_local.sh train                                  # Configs/ad2.yaml on $(nproc) ranks
#   bash Jobs/run_local.sh train 2 Configs/ad2.yaml --set training.steps=4000
#   bash Jobs/run_local.sh sample 2 --checkpoint Configs/models/ad2.h5 --peptide data/ad2-test/AD-s201.h5 \
#       --count 1000 --out data/runs/ad2/samples.h5
#
# Training resumes from training.checkpoint when it exists. Ctrl-C (or SIGTERM) asks tbg to finish
# the current step, write its checkpoint and exit; run the same command again to continue. Sampling
# stops at once (it is not resumable). TBG names the binary (default .build/release/tbg); TBG_SET
# adds space-separated key=value overrides, as for train.sbatch.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage:" >&2
    sed -n 's/^#   \(bash Jobs\/run_local.sh [a-z]* \[NP\].*\)/\1/p' "$0" >&2
    exit 2
}
[ $# -ge 1 ] || usage
mode=$1
shift
np=${NP:-$(nproc 2>/dev/null || echo 1)}
if [[ ${1:-} =~ ^[0-9]+$ ]]; then np=$1; shift; fi

# Not a SLURM job, even inside an allocation: mpirun directly, no requeue.
unset SLURM_JOB_ID SLURM_SUBMIT_DIR
case $mode in
    train)
        config=${CONFIG-Configs/ad2.yaml}
        if [ $# -ge 1 ] && [[ $1 != -* && $1 != *=* ]]; then config=$1; shift; fi
        NP=$np CONFIG=$config exec bash Jobs/train.sbatch "$@"
        ;;
    sample)
        NP=$np exec bash Jobs/sample.sbatch "$@"
        ;;
    *) usage ;;
esac
