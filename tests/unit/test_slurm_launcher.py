"""`launcher=slurm` without a cluster: the sbatch script it would submit, bad device settings,
and the preemption signal (the jobs themselves run in tests/cli/test_slurm.py)."""

from __future__ import annotations

import logging
import signal
import unittest.mock as mock

import submitit
import submitit.slurm.slurm
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

import seqlab.resolvers  # noqa: F401  (the launcher settings use seqlab's resolvers)
from helpers.cli import error_line
from helpers.inprocess import compose_train
from seqlab.runs.slurm import QuietSacct, preemption_signal


def sbatch_script(tmp_path, data_root, cache_dir, *overrides: str) -> str:
    """The script submitit writes for a job of this config (as Hydra's submitit launcher maps
    the launcher's settings onto submitit's), without submitting it."""
    cfg = compose_train(tmp_path / "run", "launcher=slurm", *overrides, data_root=data_root,
                        cache_dir=cache_dir)  # fmt: skip
    params = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    for key in ("_target_", "submitit_folder"):
        params.pop(key)
    # Writing the script needs no cluster: say srun exists (submitit looks for it on PATH).
    with mock.patch.object(submitit.slurm.slurm.SlurmExecutor, "affinity", return_value=2):
        executor = submitit.AutoExecutor(folder=tmp_path / "submitit", cluster="slurm",
                                         slurm_max_num_timeout=params.pop("max_num_timeout"))  # fmt: skip
    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in shared else f"slurm_{k}": v for k, v in params.items()})
    return executor._executor._make_submission_file_text("python -m submitit.core._submit", "0")


def test_a_two_node_four_gpu_job_asks_for_one_task_per_gpu(tmp_path, data_root, cache_dir):
    script = sbatch_script(tmp_path, data_root, cache_dir, "trainer=ddp", "trainer.devices=4",
                           "trainer.num_nodes=2", "hydra.launcher.partition=gpu",
                           "hydra.launcher.account=lab", "hydra.launcher.timeout_min=600",
                           "+hydra.launcher.additional_parameters.mail-type=END")  # fmt: skip
    for line in ("--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--partition=gpu",
                 "--account=lab", "--time=600", "--signal=USR2@120", "--requeue",
                 "--mail-type=END"):  # fmt: skip
        assert f"#SBATCH {line}\n" in script, script
    assert "\nsrun " in script  # every task under srun: Lightning reads its rank from Slurm


def test_cpu_only_jobs_ask_for_no_gpus(tmp_path, data_root, cache_dir):
    script = sbatch_script(tmp_path, data_root, cache_dir, "trainer=ddp_cpu")
    assert "#SBATCH --ntasks-per-node=2\n" in script and "gpus" not in script


def test_devices_that_are_not_a_count_are_one_line(run_process, tmp_path):
    # A subprocess: a multirun sets up Hydra's logging on this process's streams.
    proc = run_process("train", "-m", "launcher=slurm", "trainer=ddp", expect=2)  # devices: -1
    assert error_line(proc) == (
        "config key 'trainer.devices' is -1: launcher=slurm needs the number of "
        "devices per node (one Slurm task each), e.g. trainer.devices=4"
    )
    assert not (tmp_path / "outputs").exists()


def test_the_preemption_signal_is_submitits_and_only_in_its_jobs(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    assert preemption_signal() is None
    monkeypatch.setenv("SLURM_JOB_ID", "12")
    assert preemption_signal() == signal.SIGUSR2
    monkeypatch.delenv("SUBMITIT_EXECUTOR")  # sbatch'd by hand: a requeue would not resume
    assert preemption_signal() is None
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    monkeypatch.setenv("SUBMITIT_PREEMPT_SIGNAL", "USR1")
    assert preemption_signal() == signal.SIGUSR1


def test_a_cluster_without_sacct_is_said_once():
    quiet = QuietSacct()
    record = logging.LogRecord("submitit", logging.WARNING, __file__, 1,
                               "Call #%d - Bypassing sacct error %s", (1, "exit 1"), None)  # fmt: skip
    assert quiet.filter(record) and "sacct is not available" in record.getMessage()
    again = logging.LogRecord("submitit", logging.WARNING, __file__, 1,
                              "Call #2 - Bypassing sacct error", (), None)  # fmt: skip
    other = logging.LogRecord("submitit", logging.WARNING, __file__, 1, "job 3 failed", (), None)
    assert not quiet.filter(again) and quiet.filter(other)
