"""`launcher=slurm` against a real Slurm cluster that the fixture starts on this machine (munged,
slurmctld, slurmd; `helpers/slurm.py`): a sweep, a 2-task DDP job under srun, and jobs that are
preempted or requeued mid-run and resume in place with the results of an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import cli_env, run_entry, run_folders
from helpers.polling import wait_for
from helpers.resume import assert_same_run, different_weights
from helpers.slurm import SlurmCluster
from helpers.system import ensure_debian_packages

pytestmark = pytest.mark.slow

# Small jobs: one CPU each, little memory, a short wall-time limit.
ON_SLURM = ["-m", "launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
            "hydra.launcher.timeout_min=10"]  # fmt: skip
QUICK = ["size=tiny", "loader.batch_size=8", "trainer.max_epochs=1", "trainer.limit_train_batches=4",
         "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
         "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip
# As in the local resume tests: 18 steps, a checkpoint every 3, the best by validation loss.
RESUMABLE = ["size=tiny", "loader.batch_size=8", "trainer.max_epochs=3", "trainer.limit_train_batches=6",
             "trainer.limit_val_batches=2", "trainer.limit_test_batches=1", "trainer.log_every_n_steps=1",
             "+callbacks.model_checkpoint.every_n_train_steps=3", "task.monitor=val/loss",
             "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    ensure_debian_packages(
        "Slurm", ["slurm-wlm", "munge"], ["slurmctld", "slurmd", "munged", "sbatch", "srun"]
    )
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def env(slurm, data_root, cache_dir, tmp_path):
    env = cli_env(data_root, cache_dir, tmp_path / "outputs", test_callbacks=True)
    return {**env, "SLURM_CONF": str(slurm.conf), "OMP_NUM_THREADS": "1"}


def sweep_folder(outputs: Path) -> Path:
    [folder] = (outputs / "sweeps").iterdir()
    return folder


def test_a_sweep_runs_each_job_in_its_own_folder_with_a_summary(env, tmp_path):
    proc = run_entry("train", *ON_SLURM, *QUICK, "seed=1,2", cwd=tmp_path, env=env, timeout=300)
    sweep = sweep_folder(tmp_path / "outputs")
    assert [p.name for p in run_folders(sweep)] == ["0", "1"]
    for job in ("0", "1"):
        results = json.loads((sweep / job / "results.json").read_text())
        assert results["status"] == "ok" and results["run_id"] == f"{sweep.name}-{job}"
    summary = (sweep / "summary.csv").read_text().splitlines()
    assert len(summary) == 3 and all(",ok," in row for row in summary[1:])
    [script] = (sweep / ".submitit").glob("*/*_submission.sh")
    assert "#SBATCH --array=0-1%" in script.read_text()  # one array, two Slurm jobs
    assert proc.stderr.count("sacct is not available") <= 1  # said once, not at every poll


def test_a_two_task_ddp_job_runs_under_srun_like_the_local_ddp_run(env, tmp_path):
    run_entry("train", *ON_SLURM, "trainer=ddp_cpu", *QUICK, "seed=1", cwd=tmp_path, env=env,
              timeout=300)  # fmt: skip
    sweep = sweep_folder(tmp_path / "outputs")
    assert run_folders(sweep) == [sweep / "0"]  # one folder for the job, not one per rank
    [script] = (sweep / ".submitit").glob("*/*_submission.sh")
    assert "#SBATCH --ntasks-per-node=2" in script.read_text()
    logs = {p.name: p.read_text() for p in (sweep / ".submitit").glob("*/*_log.err")}
    ranks = sorted(line.split("GLOBAL_RANK: ")[1][0] for log in logs.values() for line in
                   log.splitlines() if "GLOBAL_RANK: " in line)  # fmt: skip
    assert ranks == ["0", "1"], logs
    local = dict(env, SEQLAB_LOG_DIR=str(tmp_path / "local"))
    local.pop("SLURM_CONF")
    run_entry("train", "trainer=ddp_cpu", *QUICK, "seed=1", cwd=tmp_path, env=local, timeout=300)
    [reference] = run_folders(tmp_path / "local")
    assert not different_weights(sweep / "0", reference)


@pytest.mark.parametrize("interruption", ["time-limit warning", "scontrol requeue"])
def test_an_interrupted_job_is_requeued_and_ends_like_an_uninterrupted_run(
    slurm, env, tmp_path, interruption
):
    marker = tmp_path / "waiting"
    wait = ["+callbacks.wait._target_=helpers.chaos.WaitForSignalAtStep", "+callbacks.wait.step=8",
            f"+callbacks.wait.marker={marker}"]  # fmt: skip
    command = [sys.executable, "-m", "seqlab.train", *ON_SLURM, *RESUMABLE, *wait, "seed=1"]
    sweep_run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_for(marker.exists, "the job to reach step 8", 180)
        job = marker.read_text()
        if interruption == "time-limit warning":  # what --signal=USR2@<s> sends before the limit
            slurm.run("scancel", "--signal=USR2", job)
        else:
            slurm.run("scontrol", "requeue", job)
        out, _ = sweep_run.communicate(timeout=300)
    finally:
        sweep_run.kill()
    assert sweep_run.returncode == 0, out
    run = sweep_folder(tmp_path / "outputs") / "0"
    logs = "".join(p.read_text() for p in (run.parent / ".submitit").glob("*/*_log.*"))
    assert "stopped by" in logs and "after step 8; saved" in logs, logs
    assert f"skip_completed: {run} was interrupted; resuming" in logs
    if interruption == "time-limit warning":
        assert f"requeued job {job}: it resumes in this folder" in logs
    first_id = json.loads((run / "run.json").read_text())["run_id"]
    assert json.loads((run / "results.json").read_text())["run_id"] == first_id
    local = dict(env, SEQLAB_LOG_DIR=str(tmp_path / "local"))
    local.pop("SLURM_CONF")
    run_entry("train", *RESUMABLE, "seed=1", cwd=tmp_path, env=local, timeout=300)
    [reference] = run_folders(tmp_path / "local")
    assert_same_run(run, reference, steps=18)
