"""Multirun support: failed jobs are recorded (the sweep goes on), a summary when it ends, and
DDP children that re-run the job, not the sweep."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, read_write

from seqlab.runs import run_id_for, write_json

log = logging.getLogger(__name__)


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def record_failure(error: BaseException, message: str) -> None:
    """Mark this job failed in its results.json (with a one-line reason) and keep the traceback."""
    folder = Path(HydraConfig.get().runtime.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "error.txt").write_text("".join(traceback.format_exception(error)), encoding="utf-8")
    write_json(
        folder / "results.json",
        {
            "run_id": run_id_for(folder),
            "run_dir": str(folder),
            "status": "failed",
            "error": message,
        },
    )
    log.error("job failed: %s", message)


def relaunch_job_not_sweep() -> None:
    """Make Lightning's DDP children re-run this one job in this job's folder.

    Lightning starts each child with this process's argv plus `hydra.run.dir=<HydraConfig run.dir>`.
    In a multirun, argv holds the whole sweep (`-m`, comma lists) and run.dir is not the job's
    folder, so children would start sweeps of their own in new folders. Point both at the job.
    """
    if not in_multirun():
        return
    hydra_cfg = HydraConfig.get()
    sys.argv = [sys.argv[0], *hydra_cfg.overrides.task]
    with read_write(hydra_cfg.run):
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir


class SweepSummary(Callback):
    """Writes summary.csv / summary.md (and the dashboard) into the sweep folder when it ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from seqlab.reporting import build_report, write_summary

        folder = Path(config.hydra.sweep.dir)
        rows = write_summary(folder)  # first, and alone: the tables must exist even if plots fail
        try:
            build_report(folder)
        except Exception as e:  # the dashboard can be rebuilt with seqlab-report
            log.warning("report.html not written (%s); run seqlab-report %s", e, folder)
        failed = [r for r in rows if r.get("status") != "ok"]
        print(
            f"sweep summary: {folder / 'summary.md'} ({len(rows) - len(failed)} ok, {len(failed)} failed)"
        )
        if failed:
            sys.exit(1)
