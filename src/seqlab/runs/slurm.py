"""Slurm: sweep jobs submitted through submitit, DDP ranks from `srun`, and preemption that saves,
requeues and resumes in the same job folder.

Flow of a preempted job: Slurm sends the warning signal (`--signal=USR2@<signal_delay_s>`, or
SIGTERM from `scontrol requeue`) to every task; `ExactResume` finishes the step, writes
`last.ckpt`, and rank 0 requeues the job; the requeued job re-runs the same pickled Hydra job in
the same folder, where `skip_completed=true` (set by `launcher=slurm`) resumes it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from typing import Any

from seqlab.errors import SeqlabError


def slurm_job_id() -> str | None:
    """This process's Slurm job (None outside Slurm, or in an interactive `salloc` shell)."""
    return os.environ.get("SLURM_JOB_ID")


def preemption_signal() -> signal.Signals | None:
    """The signal Slurm sends before a job's time limit, as submitit asked for it; None outside a
    job that `launcher=slurm` submitted (only such a job resumes in place once requeued). SIGTERM
    (a requeue, `scancel`) is handled as everywhere else."""
    if not slurm_job_id() or os.environ.get("SUBMITIT_EXECUTOR") != "slurm":
        return None
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    return getattr(signal, f"SIG{name}", None) or getattr(signal, name, None)


def requeue() -> str:
    """Put this job back in Slurm's queue (it restarts from its batch script, in the same folder)."""
    job = slurm_job_id()
    try:
        subprocess.run(
            ["scontrol", "requeue", str(job)],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", None) or error
        return (
            f"could not requeue job {job} ({str(detail).strip()}); run the same sweep command "
            "with hydra.sweep.dir=<this sweep's folder> to resume it"
        )
    return f"requeued job {job}: it resumes in this folder"


def tasks_per_node(devices: Any) -> int:
    """``${slurm_tasks:${trainer.devices}}``: Lightning's processes per node = Slurm's tasks."""
    if isinstance(devices, int) and not isinstance(devices, bool) and devices > 0:
        return devices
    raise SeqlabError(
        f"config key 'trainer.devices' is {devices!r}: launcher=slurm needs the number of devices "
        "per node (one Slurm task each), e.g. trainer.devices=4"
    )


def gpus_per_node(accelerator: str, devices: Any) -> int | None:
    """``${slurm_gpus:${trainer.accelerator},${trainer.devices}}``: GPUs to ask for (None on CPU)."""
    return tasks_per_node(devices) if accelerator in ("gpu", "cuda") else None


class QuietSacct(logging.Filter):
    """Clusters without accounting (`sacct` disabled) make submitit warn at every poll; say it once.
    Job completion is read from the result files submitit writes, so nothing is lost."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "Bypassing sacct error" not in record.getMessage():
            return True
        if self.seen:
            return False
        self.seen = True
        record.msg, record.args = (
            "sacct is not available on this cluster (no accounting); waiting for the jobs' result "
            "files instead",
            (),
        )
        return True
