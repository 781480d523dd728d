"""The job scripts in Jobs/ (SLURM and workstation) and how a multi-rank tbg run ends.

SLURM itself is faked: `srun` is a small script that runs mpirun on SLURM_NTASKS ranks, and
`scontrol` records its arguments, so the batch scripts run for real (real tbg, real mpirun, real
signals) on the committed alanine-dipeptide fixture with a tiny model. Rank failures are tested
without the scripts: an MPMD mpirun in which one rank has a bad dataset, and a rank killed with
SIGKILL mid-training. Needs the release build (a copy of it is run, so a rebuild does not disturb
the tests); TBG=/path/to/tbg tests another binary. Skipped with a reason when there is none.
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import h5py
import pytest

from conftest import AD2_FIXTURE as FIXTURE, ROOT, make_ad2_dataset, private_tbg
JOB_ID = "4242"

needs_mpirun = pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed (Tools/setup.sh)")

FAKE_SRUN = """#!/usr/bin/env bash
# Fake srun: drop srun's own options, then run the program on SLURM_NTASKS ranks with mpirun.
while [ $# -gt 0 ] && [[ $1 == -* ]]; do shift; done
exec mpirun -np "${SLURM_NTASKS:?}" "$@"
"""
FAKE_SCONTROL = """#!/usr/bin/env bash
echo "$*" >> "${FAKE_SCONTROL_LOG:?}"
"""
# Stands in for srun and mpirun where nothing may be launched: records that it was called.
FAKE_LAUNCHER = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "${FAKE_LAUNCH_LOG:?}"
exit 99
"""


def write_script(path, text):
    path.write_text(text)
    path.chmod(0o755)


def tiny_overrides(dataset, checkpoint, steps, checkpoint_every=1000000):
    return ["model.hidden=8", "model.layers=2", f"data.dataset={dataset}", "data.frames_per_peptide=4",
            "data.window_frames=4", "data.shuffle_windows=2", "data.validation_frames=3", f"training.steps={steps}",
            "training.log_every=1", "training.validate_every=1000000", f"training.checkpoint_every={checkpoint_every}",
            f"training.checkpoint={checkpoint}"]


def as_set_options(overrides):
    return [a for o in overrides for a in ("--set", o)]


def wait_for(path, pattern, process, timeout=30):
    """Polls the log file until `pattern` appears; fails if the process ends first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and re.search(pattern, open(path).read(), re.M):
            return
        assert process.poll() is None, f"ended with {process.returncode} before /{pattern}/:\n{open(path).read()}"
        time.sleep(0.05)
    raise AssertionError(f"/{pattern}/ not in the log after {timeout} s:\n{open(path).read()}")


def default_sigint():
    """In the child: SIGINT back to its default. A test suite started from a background job of a
    non-interactive shell inherits SIGINT ignored, and bash cannot trap a signal ignored on entry,
    so the Ctrl-C under test would never arrive (the run then trains to its last step)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finish(process, timeout):
    """Waits for the process; on a timeout kills its process group (started with a new session)."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def assert_whole_checkpoint_or_none(path):
    """A file under the checkpoint's final name is a complete checkpoint."""
    if not os.path.exists(path):
        return
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] in ("tbg-checkpoint", b"tbg-checkpoint")
        assert int(f.attrs["step"]) >= 0
        for group in ["parameters", "adam/m", "adam/v", "history"]:
            assert len(f[group]) > 0, group


@pytest.fixture(scope="module")
def tbg(tmp_path_factory):
    return private_tbg(tmp_path_factory)


@pytest.fixture
def dataset(tmp_path):
    return str(make_ad2_dataset(tmp_path / "dataset"))


# The job scripts' own settings: a caller's exported CONFIG (e.g. left from `Jobs/campaign.sh` of
# the transferable campaign) would otherwise change what the tests train.
JOB_SETTINGS = ("CONFIG", "RUN", "MODEL", "TBG_SET", "NP", "DATASET", "SAMPLES", "NLL_FRAMES", "PEPTIDES")


def mpi_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "OMPI_", "PMIX_", "PMI_")) and k not in JOB_SETTINGS}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    return env


@pytest.fixture
def slurm(tmp_path, tbg):
    """Environment of a fake 2-task SLURM job whose srun is mpirun and whose scontrol records calls."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    write_script(bin_dir / "srun", FAKE_SRUN)
    write_script(bin_dir / "scontrol", FAKE_SCONTROL)
    env = mpi_env()
    env.update(PATH=f"{bin_dir}:{env['PATH']}", TBG=tbg, FAKE_SCONTROL_LOG=str(tmp_path / "scontrol.log"),
               SLURM_JOB_ID=JOB_ID, SLURM_JOB_NAME="tbg-train", SLURM_NTASKS="2", SLURM_NNODES="1",
               SLURM_CPUS_PER_TASK="1", SLURM_SUBMIT_DIR=ROOT, SLURM_RESTART_COUNT="0")
    return env


def scontrol_calls(env):
    path = env["FAKE_SCONTROL_LOG"]
    return open(path).read().splitlines() if os.path.exists(path) else []


def job_scripts():
    return sorted(glob.glob(os.path.join(ROOT, "Jobs", "*.sh")) + glob.glob(os.path.join(ROOT, "Jobs", "*.sbatch")))


@pytest.mark.parametrize("script", job_scripts(), ids=os.path.basename)
def test_job_script_syntax(script):
    subprocess.run(["bash", "-n", script], check=True)


@needs_mpirun
def test_train_sbatch_stops_on_usr1_requeues_and_resumes(tmp_path, dataset, slurm):
    checkpoint = str(tmp_path / "run" / "checkpoint.h5")
    env = dict(slurm, TBG_SET=" ".join(tiny_overrides(dataset, checkpoint, steps=100000)))

    # The job: SLURM sends SIGUSR1 to the batch shell (--signal=B:USR1@300) while tbg trains.
    log = str(tmp_path / "job1.out")
    job = subprocess.Popen(["bash", "Jobs/train.sbatch"], cwd=ROOT, env=env, stdout=open(log, "w"),
                           stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(log, r"^step \d+/100000 ", job)
    job.send_signal(signal.SIGUSR1)
    assert finish(job, timeout=60) == 0, open(log).read()
    text = open(log).read()
    assert text.index("resolved configuration (tbg train --print-config)") < text.index("launching: srun --kill-on-bad-exit=1")
    assert "starting fresh: no checkpoint at " + checkpoint in text
    stopped = int(re.search(r"stopping after step (\d+) on SIGUSR1: checkpoint written to " + re.escape(checkpoint), text).group(1))
    assert 0 < stopped < 100000
    assert f"requeueing job {JOB_ID}" in text
    assert scontrol_calls(env) == [f"requeue {JOB_ID}"]
    with h5py.File(checkpoint, "r") as f:
        assert int(f.attrs["step"]) == stopped
    assert_whole_checkpoint_or_none(checkpoint)

    # The requeued job (same job id and environment) resumes and finishes 5 steps later. A temporary
    # file left by a killed checkpoint write on this host is removed first; another live process's
    # (this test's, standing for a second job on the same file) and another host's are left alone.
    finished = subprocess.Popen(["true"])
    finished.wait()
    stale = checkpoint + f".partial-{socket.gethostname()}-{finished.pid}"
    live = checkpoint + f".partial-{socket.gethostname()}-{os.getpid()}"
    elsewhere = checkpoint + ".partial-other-node-17-12345"
    older = checkpoint + ".partial-12345"
    for path in (stale, live, elsewhere, older):
        open(path, "w").write("cut off")
    log = str(tmp_path / "job2.out")
    job = subprocess.Popen(["bash", "Jobs/train.sbatch", "--set", f"training.steps={stopped + 5}"], cwd=ROOT, env=env,
                           stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    assert finish(job, timeout=60) == 0, open(log).read()
    text = open(log).read()
    assert f"removing unfinished checkpoint write {stale}" in text and not os.path.exists(stale)
    assert f"leaving {live}: process {os.getpid()} on this host is still writing it" in text and os.path.exists(live)
    assert f"leaving {elsewhere}: written on another host (other-node-17)" in text and os.path.exists(elsewhere)
    assert f"leaving {older}: named by an older tbg without its host" in text and os.path.exists(older)
    assert f"resumed from {checkpoint} at step {stopped} " in text
    assert re.search(rf"^step {stopped + 5}/{stopped + 5} ", text, re.M)
    if shutil.which("h5dump"):
        assert f"resuming from {checkpoint} at step {stopped} of {stopped + 5}" in text
        assert f"training finished: step {stopped + 5} of {stopped + 5}" in text
    assert scontrol_calls(env) == [f"requeue {JOB_ID}"], "a finished run must not be requeued"
    with h5py.File(checkpoint, "r") as f:
        assert int(f.attrs["step"]) == stopped + 5


@needs_mpirun
def test_train_sbatch_failure_is_not_requeued(tmp_path, dataset, slurm):
    # Both ranks fail in set-up (no step fits in an epoch of the 20-frame fixture): non-zero, no requeue.
    checkpoint = str(tmp_path / "checkpoint.h5")
    overrides = tiny_overrides(dataset, checkpoint, steps=10) + ["data.frames_per_peptide=1000"]
    result = subprocess.run(["bash", "Jobs/train.sbatch"] + as_set_options(overrides), cwd=ROOT, env=slurm,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "tbg train: error:" in result.stderr + result.stdout
    assert "tbg train failed with status" in result.stdout
    assert scontrol_calls(slurm) == []
    assert not os.path.exists(checkpoint)


@pytest.mark.parametrize("missing", ["binary", "config", "dataset"])
def test_train_sbatch_fails_fast_naming_what_is_missing(tmp_path, dataset, slurm, missing):
    launch_log = tmp_path / "launched.log"
    bin_dir = tmp_path / "fakebin"
    for name in ["srun", "mpirun"]:
        write_script(bin_dir / name, FAKE_LAUNCHER)
    env = dict(slurm, FAKE_LAUNCH_LOG=str(launch_log))
    overrides = tiny_overrides(dataset, str(tmp_path / "checkpoint.h5"), steps=10)
    expected = {"binary": str(tmp_path / "no-such-tbg"), "config": "Configs/no-such-config.yaml",
                "dataset": str(tmp_path / "no-such-dataset")}[missing]
    if missing == "binary":
        env["TBG"] = expected
    elif missing == "config":
        env["CONFIG"] = expected
    else:
        overrides.append(f"data.dataset={expected}")
    started = time.time()
    result = subprocess.run(["bash", "Jobs/train.sbatch"] + as_set_options(overrides), cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert time.time() - started < 10
    assert expected in result.stderr and "train.sbatch: error:" in result.stderr
    if missing == "binary":
        assert "swift build -c release" in result.stderr
    assert not launch_log.exists(), "nothing may be launched when a check fails"


@pytest.mark.parametrize("missing", ["checkpoint", "peptide"])
def test_sample_sbatch_fails_fast_naming_what_is_missing(tmp_path, slurm, missing):
    launch_log = tmp_path / "launched.log"
    bin_dir = tmp_path / "fakebin"
    for name in ["srun", "mpirun"]:
        write_script(bin_dir / name, FAKE_LAUNCHER)
    absent = str(tmp_path / f"no-such-{missing}.h5")
    env = dict(slurm, FAKE_LAUNCH_LOG=str(launch_log), CHECKPOINT=FIXTURE, PEPTIDE=FIXTURE, COUNT="4",
               OUT=str(tmp_path / "out.h5"))
    env[missing.upper()] = absent
    result = subprocess.run(["bash", "Jobs/sample.sbatch"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert absent in result.stderr and "sample.sbatch: error:" in result.stderr
    assert not launch_log.exists()


@needs_mpirun
def test_sample_sbatch_writes_samples(tmp_path, dataset, slurm, tbg):
    checkpoint = str(tmp_path / "model.h5")
    subprocess.run([tbg, "train"] + as_set_options(tiny_overrides(dataset, checkpoint, steps=5)), check=True,
                   capture_output=True, env=mpi_env())
    out = str(tmp_path / "samples" / "AD.h5")
    env = dict(slurm, CHECKPOINT=checkpoint, PEPTIDE=FIXTURE, COUNT="4", OUT=out, METHOD="rk4", STEPS="3")
    result = subprocess.run(["bash", "Jobs/sample.sbatch"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"checkpoint {checkpoint}, peptide {FIXTURE}, 4 samples -> {out}" in result.stdout
    assert "method rk4" in result.stdout and "launching: srun" in result.stdout
    assert "wrote " + out in result.stdout
    with h5py.File(out, "r") as f:
        assert f["samples/log_q"].shape == (4,)
    assert glob.glob(out + ".partial-*") == []


@needs_mpirun
def test_sample_sbatch_array_tasks_draw_other_seeds_that_pool(tmp_path, dataset, slurm, tbg):
    """Two tasks of an array job with one OUT: each task samples with its task id as seed into its
    own file, and tbg pool joins them into one sample file holding both."""
    checkpoint = str(tmp_path / "model.h5")
    subprocess.run([tbg, "train"] + as_set_options(tiny_overrides(dataset, checkpoint, steps=5)), check=True,
                   capture_output=True, env=mpi_env())
    out = str(tmp_path / "samples" / "AD.h5")
    for task in ("1", "2"):
        env = dict(slurm, CHECKPOINT=checkpoint, PEPTIDE=FIXTURE, COUNT="3", OUT=out, METHOD="rk4", STEPS="3",
                   SLURM_ARRAY_TASK_ID=task)
        result = subprocess.run(["bash", "Jobs/sample.sbatch"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"array task {task}: seed {task}, output {out[:-3]}-s{task}.h5" in result.stdout
    pooled = str(tmp_path / "samples" / "pool.h5")
    result = subprocess.run([tbg, "pool", out[:-3] + "-s1.h5", out[:-3] + "-s2.h5", "--out", pooled, "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["samples"] == 6 and [i["seeds"] for i in report["inputs"]] == [[1], [2]]
    with h5py.File(pooled, "r") as f:
        assert list(f["samples/seed"][:]) == [1, 1, 1, 2, 2, 2]
        assert list(f["samples/index"][:]) == [0, 1, 2, 0, 1, 2]
    assert not os.path.exists(out)


@needs_mpirun
def test_sample_sbatch_stopped_keeps_chunks_and_resumes(tmp_path, dataset, slurm, tbg):
    checkpoint = str(tmp_path / "model.h5")
    subprocess.run([tbg, "train"] + as_set_options(tiny_overrides(dataset, checkpoint, steps=5)), check=True,
                   capture_output=True, env=mpi_env())
    out = str(tmp_path / "samples.h5")
    env = dict(slurm, CHECKPOINT=checkpoint, PEPTIDE=FIXTURE, COUNT="60", OUT=out, METHOD="rk4", STEPS="3")
    extra = ["--chunk", "2", "--progress-seconds", "0"]
    log = str(tmp_path / "sample.out")
    job = subprocess.Popen(["bash", "Jobs/sample.sbatch"] + extra, cwd=ROOT, env=env, stdout=open(log, "w"),
                           stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(log, r"tbg sample: progress", job, timeout=120)
    job.send_signal(signal.SIGTERM)   # scancel / preemption: stop, keep the chunks, do not requeue
    assert finish(job, timeout=60) == 0, open(log).read()
    text = open(log).read()
    assert "received SIGTERM: sending SIGUSR1 to tbg" in text and "stopped on SIGUSR1" in text, text
    assert "not requeued: submit the same job again to resume" in text, text
    assert scontrol_calls(env) == []
    assert not os.path.exists(out) and glob.glob(out + ".partial-*") == []
    kept = glob.glob(out + ".chunks/chunk-*.h5")
    assert 0 < len(kept) < 30, text
    # Submitted again, the job resumes: only the missing chunks are computed, then merged.
    result = subprocess.run(["bash", "Jobs/sample.sbatch"] + extra, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"resuming: {len(kept)} finished chunks" in result.stdout
    assert f"resumed: {len(kept)} of 30 chunks" in result.stdout
    assert "done: " + out in result.stdout and not os.path.exists(out + ".chunks")
    with h5py.File(out, "r") as f:
        assert list(f["samples/index"][:]) == list(range(60))


@needs_mpirun
def test_run_local_ctrl_c_checkpoints_and_resumes(tmp_path, dataset, tbg):
    checkpoint = str(tmp_path / "checkpoint.h5")
    env = dict(mpi_env(), TBG=tbg)
    overrides = tiny_overrides(dataset, checkpoint, steps=100000)
    log = str(tmp_path / "local.out")
    # A Ctrl-C in a terminal sends SIGINT to the foreground process group: here, the new session's.
    run = subprocess.Popen(["bash", "Jobs/run_local.sh", "train", "2", "Configs/ad2.yaml"] + as_set_options(overrides),
                           cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
                           preexec_fn=default_sigint)
    wait_for(log, r"^step \d+/100000 ", run)
    os.killpg(run.pid, signal.SIGINT)
    assert finish(run, timeout=60) == 0, open(log).read()
    text = open(log).read()
    assert "launching: setsid mpirun -np 2 " in text or "launching: mpirun -np 2 " in text
    stopped = int(re.search(r"stopping after step (\d+) on SIGUSR1", text).group(1))
    assert "stopped on SIGINT" in text
    # Run again (1 rank now) with 2 more steps: it resumes where Ctrl-C stopped it.
    result = subprocess.run(["bash", "Jobs/run_local.sh", "train", "1"] + as_set_options(overrides)
                            + ["--set", f"training.steps={stopped + 2}"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"resumed from {checkpoint} at step {stopped} " in result.stdout


@needs_mpirun
def test_failing_rank_ends_the_job(tmp_path, dataset, tbg):
    # MPMD: rank 0 has the dataset, rank 1 a path that does not exist. Rank 1 fails in set-up while
    # rank 0 waits in a collective; MPI_Abort must end both, with the rank and reason in the output.
    overrides = tiny_overrides(dataset, str(tmp_path / "checkpoint.h5"), steps=100000)
    common = as_set_options([o for o in overrides if not o.startswith("data.dataset=")])
    missing = str(tmp_path / "no-such-dataset")
    command = (["mpirun", "-np", "1", tbg, "train"] + common + ["--set", f"data.dataset={dataset}", ":",
               "-np", "1", tbg, "train"] + common + ["--set", f"data.dataset={missing}"])
    run = subprocess.Popen(command, env=mpi_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        output, _ = run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate()
        raise AssertionError("a rank failing in set-up left the job hanging")
    assert run.returncode != 0
    assert f"rank 1 of 2: tbg train: error: {missing}" in output


@needs_mpirun
@pytest.mark.parametrize("victim", [0, 1])
def test_killed_rank_ends_the_job_and_leaves_no_broken_checkpoint(tmp_path, dataset, tbg, victim):
    # A checkpoint after every step, so that the kill may land in a write; one rank gets SIGKILL.
    checkpoint = str(tmp_path / "checkpoint.h5")
    log = str(tmp_path / "mpirun.out")
    overrides = tiny_overrides(dataset, checkpoint, steps=100000, checkpoint_every=1)
    run = subprocess.Popen(["mpirun", "-np", "2", tbg, "train"] + as_set_options(overrides), env=mpi_env(),
                           stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(log, r"^step \d+/100000 ", run)
    ranks = {}
    for pid in subprocess.run(["pgrep", "-P", str(run.pid)], capture_output=True, text=True).stdout.split():
        environment = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        rank = [e for e in environment if e.startswith(b"OMPI_COMM_WORLD_RANK=")]
        if rank and checkpoint in open(f"/proc/{pid}/cmdline").read():
            ranks[int(rank[0].split(b"=")[1])] = int(pid)
    assert sorted(ranks) == [0, 1], f"ranks found among mpirun's children: {ranks}"
    started = time.time()
    os.kill(ranks[victim], signal.SIGKILL)
    assert finish(run, timeout=60) != 0
    elapsed = time.time() - started
    assert elapsed < 60
    text = open(log).read()
    assert f"rank {victim}" in text and "signal 9" in text, text[-2000:]
    assert_whole_checkpoint_or_none(checkpoint)
    # SIGKILL during a write can leave CHECKPOINT.partial-HOST-PID (never the final name); only rank 0
    # writes. tbg and the job scripts remove such files at the next start (tested above).
    partials = glob.glob(checkpoint + ".partial-*")
    assert victim == 0 or partials == []
    # No rank outlives mpirun.
    deadline = time.time() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in ranks.values()) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in ranks.values()), "a rank outlived mpirun"


@needs_mpirun
def test_quickstart_main_job_on_tiny_settings(tmp_path, tbg):
    """The README's first command (the main job) end to end, with a few samples and picoseconds of MD."""
    out = tmp_path / "quickstart"
    env = dict(mpi_env(), TBG=tbg, KS_SAMPLES="3", AD_SAMPLES="3", KS_MD_PS="4", AD_MD_PS="4")
    result = subprocess.run(["bash", "Jobs/quickstart.sh", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    text = result.stdout
    for name in ["KS", "AD"]:
        assert f"[{name}] 2. 3 zero-shot samples" in text
        for produced in ["peptide.h5", "samples.h5", "md.h5", "evaluate.txt", "evaluate.json",
                         "plots/ramachandran.png", "plots/energy.png"]:
            assert (out / name / produced).exists(), f"{name}/{produced} missing:\n{text[-3000:]}"
        report = json.loads((out / name / "evaluate.json").read_text())
        assert report["counts"]["samples"] == 3
        with h5py.File(out / name / "samples.h5", "r") as f:
            assert f["samples/log_q"].shape == (3,)
    assert "quickstart: done" in text and "What the numbers mean" in text
    # KS with the transferable model, AD with the AD2 model.
    for name, model in [("KS", "Configs/models/dipeptides.h5"), ("AD", "Configs/models/ad2.h5")]:
        with h5py.File(out / name / "samples.h5", "r") as f:
            checkpoint = f["samples"].attrs["checkpoint"]
            assert (checkpoint.decode() if isinstance(checkpoint, bytes) else str(checkpoint)).endswith(model)
