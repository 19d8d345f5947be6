"""Run folders, loggers and multi-process training through the real CLI."""

import csv
import json

import pytest

from helpers.cli import QUICK, run_folders

# fmt: skip


def test_every_logger_writes_offline(run_cli, tmp_path):
    run_cli("train", *QUICK, "logger=many")
    [run] = run_folders(tmp_path / "outputs")
    assert (run / "metrics.csv").is_file()
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))
    assert list((run / "wandb").glob("offline-run-*"))
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}")
    [found] = client.search_runs([client.get_experiment_by_name("seqlab").experiment_id])
    assert found.info.status == "FINISHED" and "val/loss" in found.data.metrics


def test_run_folder_records_provenance(run_cli, tmp_path):
    run_cli("train", *QUICK, "seed=7", "trainer.log_every_n_steps=1")
    [run] = run_folders(tmp_path / "outputs")
    assert "seed=7" in (run / "overrides.txt").read_text()
    assert "seed: 7" in (run / "config.yaml").read_text()
    env = json.loads((run / "environment.json").read_text())
    assert {"python", "torch", "lightning"} <= set(env)
    assert "commit" in json.loads((run / "git.json").read_text())
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert any(r.get("train/loss") for r in rows) and any(r.get("test/exact_match") for r in rows)


def test_two_runs_get_two_folders(run_cli, tmp_path):
    run_cli("train", *QUICK, "test=false")
    run_cli("train", *QUICK, "test=false")
    assert len(run_folders(tmp_path / "outputs")) == 2


def test_debug_fast_runs_one_batch_of_everything(run_cli, tmp_path):
    proc = run_cli("train", "size=tiny", "debug=fast")
    assert "run folder" in proc.stdout
    [run] = run_folders(tmp_path / "outputs")
    rows = list(csv.DictReader((run / "metrics.csv").open()))  # a smoke test's folder is complete
    assert any(r.get("train/loss") for r in rows) and any(r.get("val/loss") for r in rows)
    assert any(r.get("test/loss") for r in rows)


def test_missing_checkpoint_is_one_line(run_cli):
    proc = run_cli("evaluate", "ckpt_path=nowhere/best.ckpt", expect=2)
    assert proc.stderr.strip().startswith("seqlab: error: checkpoint not found:")


@pytest.mark.slow
def test_ddp_cpu_two_processes_one_run_folder(run_process, tmp_path):
    proc = run_process("train", *QUICK, "trainer=ddp_cpu")
    [run] = run_folders(tmp_path / "outputs")
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "ok" and "test/loss" in results["metrics"]
    assert "sync_dist=True" not in proc.stderr  # epoch metrics are reduced by torchmetrics


@pytest.mark.slow
def test_model_compile_option_trains(run_cli, tmp_path):
    run_cli(
        "train", "experiment=shakespeare_gpt", "model.compile={options: {cpp_wrapper: true}}",
        "trainer.max_steps=3",
        "trainer.val_check_interval=3", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
    )  # fmt: skip
    [run] = run_folders(tmp_path / "outputs")
    assert json.loads((run / "results.json").read_text())["steps"] == 3


def test_lightning_load_from_checkpoint_rebuilds_the_module(run_cli, tmp_path):
    """Lightning's own API loads a seqlab checkpoint: same class, same weights, same run id."""
    import torch

    from seqlab.errors import SeqlabError
    from seqlab.lit.lm import LanguageModelModule
    from seqlab.lit.seq2seq import Seq2SeqModule

    run_cli("train", *QUICK, "test=false")
    [run] = run_folders(tmp_path / "outputs")
    path = run / "checkpoints" / "best.ckpt"
    module = Seq2SeqModule.load_from_checkpoint(path)
    saved = torch.load(path, weights_only=True)["state_dict"]
    assert module.state_dict().keys() == saved.keys()
    assert all(torch.equal(module.state_dict()[k], v) for k, v in saved.items())
    assert module.run_id == json.loads((run / "run.json").read_text())["run_id"]
    with pytest.raises(SeqlabError, match="holds a Seq2SeqModule, not a LanguageModelModule"):
        LanguageModelModule.load_from_checkpoint(path)
