"""`launcher=slurm`: Hydra's submitit Slurm launcher (Hydra imports launchers only from here)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    SlurmLauncher as SubmititSlurmLauncher,
)

from seqlab.runs.slurm import QuietSacct


class SlurmLauncher(SubmititSlurmLauncher):
    """submitit's launcher, saying once (not at every poll) that the cluster has no `sacct`."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        quiet, logger = QuietSacct(), logging.getLogger("submitit")
        logger.addFilter(quiet)
        try:
            return super().launch(job_overrides, initial_job_idx)
        finally:
            logger.removeFilter(quiet)
