"""Multirun support: failed jobs are recorded (the sweep goes on), a summary when it ends, and
DDP children that re-run the job, not the sweep."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, read_write

from seqlab.errors import SeqlabError
from seqlab.runs.folder import run_id_for, write_json
from seqlab.runs.redaction import redact, redact_text

log = logging.getLogger(__name__)


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def record_failure(error: BaseException, message: str) -> None:
    """Mark this job failed in its results.json (with a one-line reason) and keep the traceback."""
    folder = Path(HydraConfig.get().runtime.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    trace = redact_text("".join(traceback.format_exception(error)))
    (folder / "error.txt").write_text(trace, encoding="utf-8")
    message = redact_text(message)
    if finished(folder):  # an earlier attempt's result is never overwritten
        os.replace(folder / "results.json", folder / "results.previous.json")
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


def finished(folder: Path) -> dict | None:
    """The results of a run that finished in `folder` (results.json with status ok), else None."""
    try:
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return results if isinstance(results, dict) and results.get("status") == "ok" else None


def _recorded_overrides(folder: Path) -> list[str] | None:
    """The overrides a run folder was started with (overrides.txt up to the first resume)."""
    try:
        text = (folder / "overrides.txt").read_text(encoding="utf-8")
    except OSError:
        return None
    return [line for line in text.split("# resumed")[0].splitlines() if line]


def earlier_attempt(folder: Path, overrides: list[str]) -> str | None:
    """`skip_completed=true`: what this job's folder holds from an earlier run of the same command.

    Returns "finished" (results.json says ok: skip the job), "interrupted" (a last.ckpt but no
    finished results, e.g. killed or out of disk: resume it), or None (run it from the start).

    Raises:
        SeqlabError: the folder holds a run of different overrides (the sweep command changed).
    """
    recorded = _recorded_overrides(folder)
    if recorded is None:
        return None
    recorded, overrides = (
        [o for o in redact(list(given)) if not o.lstrip("+").startswith("skip_completed=")]
        for given in (recorded, overrides)
    )
    if recorded != overrides:
        raise SeqlabError(
            f"skip_completed: {folder} holds a run of other overrides ({' '.join(recorded)}); "
            "re-run the same sweep command, or choose a new hydra.sweep.dir"
        )
    if finished(folder):
        return "finished"
    if (folder / "checkpoints" / "last.ckpt").is_file() and (folder / "run.json").is_file():
        return "interrupted"
    return None


_TYPED_ARGV: list[str] | None = None  # the command as typed, before a job rewrote sys.argv


def job_command() -> list[str]:
    """The command that re-runs this one job: in a multirun, the program and the job's overrides."""
    if not in_multirun():
        return list(sys.argv)
    return [sys.argv[0], *HydraConfig.get().overrides.task]


def typed_command() -> list[str]:
    """The command line the user typed (the whole sweep in a multirun)."""
    return list(_TYPED_ARGV or sys.argv)


def relaunch_job_not_sweep() -> None:
    """Make Lightning's DDP children re-run this one job in this job's folder.

    Lightning starts each child with this process's argv plus `hydra.run.dir=<HydraConfig run.dir>`.
    In a multirun, argv holds the whole sweep (`-m`, comma lists) and run.dir is not the job's
    folder, so children would start sweeps of their own in new folders. Point both at the job.
    """
    global _TYPED_ARGV
    if not in_multirun():
        return
    _TYPED_ARGV = _TYPED_ARGV or list(sys.argv)
    hydra_cfg = HydraConfig.get()
    sys.argv = job_command()
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
