"""What every logger of a run receives (metrics.csv always, the config and the final scores), and a
CSV logger that keeps what a run already wrote, so a resumed run continues its files."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger as _LightningCSVLogger
from lightning.pytorch.loggers import MLFlowLogger as _LightningMLFlowLogger
from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

RUN_ID_TAG = "seqlab.run_id"
SWEEP_ID_TAG = "seqlab.sweep_id"
# What a reader of an MLflow run wants next to its numbers (samples.csv: validation generations).
RUN_FILES = ("results.json", "MODEL_CARD.md", "config.yaml", "overrides.txt", "samples.csv")


class _AppendingWriter(ExperimentWriter):
    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        if self._fs.isfile(self.metrics_file_path):
            # Continue with the existing columns; new ones widen the header (Lightning rewrites).
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = sorted(next(csv.reader(f), []))

    def _check_log_dir_exists(self) -> None:
        # Lightning deletes an existing metrics.csv here; a run folder is never reused by another
        # run, so an existing file can only be this run's own history (a resume): keep it.
        pass


class CSVLogger(_LightningCSVLogger):
    """Lightning's CSV logger, appending to an existing metrics.csv instead of replacing it."""

    @property
    @rank_zero_experiment
    def experiment(self) -> _AppendingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


class WandbLogger(_LightningWandbLogger):
    """Lightning's W&B logger, also keeping checkpoints as artifacts of an offline run.

    Lightning refuses ``log_model`` with ``offline``, yet W&B records artifacts in an offline run
    and ``wandb sync`` uploads them with the rest, which is how seqlab runs W&B by default.
    """

    def __init__(self, *args: Any, offline: bool = False, log_model: Any = False, **kwargs: Any):
        super().__init__(*args, offline=offline and not log_model, log_model=log_model, **kwargs)
        self._offline = offline  # read when the W&B run starts: sets WANDB_MODE for it


def with_metrics_csv(loggers: list, output_dir: str | Path) -> list:
    """``loggers`` plus metrics.csv in the run folder when none writes it: seqlab-report draws its
    learning curves from that file, whichever dashboards a run also streams to."""
    if any(isinstance(lg, _LightningCSVLogger) for lg in loggers):
        return loggers
    return [CSVLogger(save_dir=str(output_dir), name="", version=""), *loggers]


def final_metric_names(monitor: str) -> list[str]:
    """The scores a dashboard's run table shows: the best validation score (the checkpoint's) and
    the same metric and the loss on the test split."""
    test = f"test/{monitor.split('/', 1)[-1]}"
    return list(dict.fromkeys([f"best/{monitor}", test, "test/loss"]))


def final_scores(results: Mapping, names: list[str]) -> dict[str, float]:
    """Those scores from a run's results.json, where the run has them."""
    found = {**results.get("metrics", {})}
    best = results.get("best") or {}
    if best.get("score") is not None:
        found[f"best/{best['monitor']}"] = best["score"]
    return {name: float(found[name]) for name in names if found.get(name) is not None}


def log_run_config(loggers: list, params: Mapping, metric_names: list[str]) -> None:
    """Send the (redacted, flattened) config to every dashboard once per run (again on resume).

    TensorBoard's HPARAMS table fills its metric columns from scalars logged under the names given
    with the hyperparameters, so the final scores are declared here and logged by ``log_final``.
    """
    for lg in loggers:
        if isinstance(lg, _LightningCSVLogger):
            continue  # config.yaml is the run folder's record
        if type(lg).__name__ == "TensorBoardLogger":
            lg.log_hyperparams(dict(params), {name: math.nan for name in metric_names})
        else:
            lg.log_hyperparams(dict(params))


def log_final(loggers: list, scores: Mapping[str, float], step: int, run_dir: Path) -> None:
    """The run's best and test scores: TensorBoard's HPARAMS columns, W&B's run summary (test
    scores reached every logger already, as the test loop logged them); MLflow also gets the run
    folder's records as artifacts."""
    best = {k: v for k, v in scores.items() if k.startswith("best/")}
    for lg in loggers:
        if isinstance(lg, _LightningCSVLogger):
            continue
        if best:
            lg.log_metrics(best, step=step)
        if type(lg).__name__ == "WandbLogger":
            lg.experiment.summary.update(dict(scores))
        if isinstance(lg, MLFlowLogger):
            lg.log_run_files(run_dir)


class MLFlowLogger(_LightningMLFlowLogger):
    """Lightning's MLflow logger, keyed by the seqlab run id: a resumed run continues its MLflow
    run (found by its ``seqlab.run_id`` tag) instead of starting a second one, and a sweep's jobs
    are child runs of one parent run per sweep (MLflow's own grouping).

    Args:
        seqlab_run_id: the run's id, kept as a tag and looked up on resume.
        sweep_id: the sweep's id (tag ``seqlab.sweep_id``), null for a single run.
        tags: further tags (``run_tags``: task, model, data, size, experiment).
    """

    def __init__(
        self,
        *args: Any,
        seqlab_run_id: str,
        sweep_id: str | None = None,
        tags: Any = None,
        **kwargs: Any,
    ) -> None:
        if tags is not None and not isinstance(tags, Mapping):  # run_tags' "key:value" strings
            tags = dict(str(tag).partition(":")[::2] for tag in tags)
        tags = {**(tags or {}), RUN_ID_TAG: seqlab_run_id}
        if sweep_id:
            tags[SWEEP_ID_TAG] = sweep_id
        super().__init__(*args, tags=tags, **kwargs)
        self._seqlab_run_id, self._sweep_id = seqlab_run_id, sweep_id

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        if not self._initialized and self._run_id is None:
            self._run_id = self._existing_run_id()
            if self._run_id is None and self._sweep_id:
                self.tags["mlflow.parentRunId"] = self._sweep_parent_id()
        return super().experiment

    def _sweep_parent_id(self) -> str:
        """The sweep's parent run, made by its first job (the later ones find it by its tag)."""
        client = self._mlflow_client
        found = client.get_experiment_by_name(self._experiment_name)
        if found is not None:
            self._experiment_id = found.experiment_id
        else:
            self._experiment_id = client.create_experiment(
                self._experiment_name, artifact_location=self._artifact_location
            )
        query = f"tags.`{SWEEP_ID_TAG}` = '{self._sweep_id}' and tags.`seqlab.role` = 'sweep'"
        runs = client.search_runs([self._experiment_id], query, max_results=1)
        if runs:
            return runs[0].info.run_id
        tags = {SWEEP_ID_TAG: self._sweep_id, "seqlab.role": "sweep"}
        parent = client.create_run(
            self._experiment_id, tags=tags, run_name=f"sweep {self._sweep_id}"
        )
        client.set_terminated(parent.info.run_id)  # a container of runs: nothing left to run
        return parent.info.run_id

    def log_run_files(self, run_dir: Path) -> None:
        """results.json, the model card, the config and the samples, as the run's artifacts."""
        for name in RUN_FILES:
            if (Path(run_dir) / name).is_file():
                self.experiment.log_artifact(self.run_id, str(Path(run_dir) / name))

    def _existing_run_id(self) -> str | None:
        import mlflow

        mlflow.set_tracking_uri(self._tracking_uri)
        found = self._mlflow_client.get_experiment_by_name(self._experiment_name)
        if found is None:
            return None
        runs = self._mlflow_client.search_runs(
            [found.experiment_id], f"tags.`{RUN_ID_TAG}` = '{self._seqlab_run_id}'", max_results=1
        )
        return runs[0].info.run_id if runs else None

    def log_hyperparams(self, params: Any) -> None:
        # MLflow refuses to change a logged parameter: on resume, the first value stays.
        logged = self.experiment.get_run(self.run_id).data.params
        super().log_hyperparams({k: v for k, v in dict(params).items() if k not in logged})
