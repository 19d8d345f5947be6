"""Runs logged to MLflow, read back with MLflow's own client: a local database and a real server."""

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers.cli import QUICK, cli_env, run_folders, run_in_process


def mlflow_runs(uri: str) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("seqlab")
    return client, client.search_runs([experiment.experiment_id])


def train_then_resume(tmp_path, env: dict) -> None:
    run_in_process(
        "train", *QUICK, "logger=[csv,mlflow]", "optimizer.lr=0.003", cwd=tmp_path, env=env
    )
    [run] = run_folders(tmp_path / "outputs")
    run_in_process("train", f"resume={run}", "trainer.max_epochs=2", cwd=tmp_path, env=env)


def check_one_run(uri: str, tmp_path) -> None:
    """One MLflow run for the seqlab run and its resume: config, tags, curves and final scores."""
    import json

    [run] = run_folders(tmp_path / "outputs")
    results = json.loads((run / "results.json").read_text())
    client, [found] = mlflow_runs(uri)
    assert found.info.status == "FINISHED" and found.info.run_name == "scan_gru_seq2seq"
    assert found.data.tags["seqlab.run_id"] == results["run_id"]
    assert {
        "task": "translation",
        "model": "gru_seq2seq",
        "size": "tiny",
    }.items() <= found.data.tags.items()
    assert (
        found.data.params["optimizer.lr"] == "0.003"
        and found.data.params["run.id"] == results["run_id"]
    )
    assert found.data.metrics["best/val/exact_match"] == pytest.approx(results["best"]["score"])
    assert found.data.metrics["test/loss"] == pytest.approx(results["metrics"]["test/loss"])
    assert (
        len(client.get_metric_history(found.info.run_id, "val/loss")) == 2
    )  # both epochs, one run
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"results.json", "MODEL_CARD.md", "config.yaml"} <= artifacts


def check_sweep(uri: str, tmp_path, env: dict) -> None:
    """A sweep is a parent run with one child run per job."""
    from mlflow import MlflowClient

    run_in_process("train", "-m", *QUICK, "logger=[csv,mlflow]", "seed=1,2",
                   "logger.mlflow.experiment_name=sweeps", cwd=tmp_path, env=env)  # fmt: skip
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("sweeps").experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("seqlab.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2
    assert {c.data.params["seed"] for c in children} == {"1", "2"}
    assert {c.data.tags["seqlab.sweep_id"] for c in children} == {
        parent.data.tags["seqlab.sweep_id"]
    }


@pytest.mark.slow
def test_a_run_and_its_resume_are_one_mlflow_run_in_the_local_database(
    data_root, cache_dir, tmp_path
):
    env = cli_env(data_root, cache_dir, tmp_path / "outputs")
    train_then_resume(tmp_path, env)
    check_one_run(f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}", tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_runs_reach_an_mlflow_tracking_server(data_root, cache_dir, tmp_path):
    """As a lab runs it: `mlflow server` on its own database, seqlab pointed at it by
    MLFLOW_TRACKING_URI, the run read back over HTTP."""
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server-artifacts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        env = {**cli_env(data_root, cache_dir, tmp_path / "outputs"), "MLFLOW_TRACKING_URI": uri}
        train_then_resume(tmp_path, env)
        check_one_run(uri, tmp_path)
        assert not (tmp_path / "outputs" / "mlflow.db").exists()  # everything went to the server
        check_sweep(uri, tmp_path, env)
    finally:
        server.terminate()
        server.wait(timeout=30)
