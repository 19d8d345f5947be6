"""What a run sends to TensorBoard and W&B, read back with their own readers."""

import base64
import hashlib
import json

from helpers.cli import QUICK, run_folders
from helpers.dashboards import tensorboard_hparams, wandb_records, wandb_run


def test_config_and_final_scores_reach_tensorboard_and_wandb(run_cli, tmp_path):
    """Dashboards can filter, group and compare runs by their settings: the config arrives as
    hyperparameters, the best and test scores fill TensorBoard's HPARAMS columns and W&B's summary,
    and metrics.csv is written even when no CSV logger was chosen (seqlab-report reads it)."""
    run_cli("train", *QUICK, "logger=many", "~logger.csv", "optimizer.lr=0.003")
    [run] = run_folders(tmp_path / "outputs")
    results = json.loads((run / "results.json").read_text())
    git = json.loads((run / "git.json").read_text())
    best = {"best/val/exact_match": results["best"]["score"]}
    assert (run / "metrics.csv").is_file()

    hparams, columns, last = tensorboard_hparams(run / "tensorboard")
    assert hparams["optimizer.lr"] == 0.003 and hparams["model.name"] == "gru_seq2seq"
    assert hparams["run.id"] == results["run_id"] and hparams["run.git_commit"] == (
        git["commit"] or "None"
    )
    assert columns == ["best/val/exact_match", "test/exact_match", "test/loss"]
    assert last == {**best, **{k: results["metrics"][k] for k in columns[1:]}}

    wandb = wandb_run(run)
    assert wandb["id"] == results["run_id"] and wandb["job_type"] == "train"
    assert {"task:translation", "model:gru_seq2seq", "data:scan", "size:tiny"} <= set(wandb["tags"])
    assert (
        wandb["config"]["optimizer.lr"] == 0.003 and wandb["config"]["run.id"] == results["run_id"]
    )
    assert wandb["summary"]["best/val/exact_match"] == results["best"]["score"]
    assert wandb["summary"]["test/loss"] == results["metrics"]["test/loss"]


def test_wandb_log_model_keeps_the_best_checkpoint_as_an_artifact_offline(run_cli, tmp_path):
    """W&B records model artifacts in an offline run (``wandb sync`` uploads them); Lightning's own
    logger refuses log_model with offline, so seqlab's passes it through."""
    run_cli("train", *QUICK, "logger=[csv,wandb]", "logger.wandb.log_model=true")
    [run] = run_folders(tmp_path / "outputs")
    [path] = (run / "wandb").glob("offline-run-*/run-*.wandb")
    models = [r.artifact for r in wandb_records(path) if r.WhichOneof("record_type") == "artifact"]
    models = [a for a in models if a.type == "model"]
    best = next(a for a in models if "best" in a.aliases)
    results = json.loads((run / "results.json").read_text())
    assert best.name == f"model-{results['run_id']}"
    [entry] = best.manifest.contents
    digest = base64.b64encode(
        hashlib.md5((run / "checkpoints" / "best.ckpt").read_bytes()).digest()
    )
    assert entry.path == "model.ckpt" and entry.digest == digest.decode()
    assert json.loads(best.metadata)["ModelCheckpoint"]["monitor"] == "val/exact_match"
