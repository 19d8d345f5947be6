"""Sweeps, run identity and resume in place, through the real CLI."""

import csv
import json

import pytest
import torch
from hydra import compose, initialize_config_module

from helpers.cli import cli_env, run_folders, run_in_process

QUICK = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
         "trainer.limit_test_batches=1", "loader.batch_size=16"]  # fmt: skip


def summary_rows(outputs):
    [summary] = outputs.rglob("summary.csv")
    return list(csv.DictReader(summary.open()))


def test_resume_in_place_keeps_the_run_id_and_continues_the_steps(run_cli, tmp_path):
    run_cli("train", *QUICK, "test=false", "trainer.log_every_n_steps=1")
    [run] = run_folders(tmp_path / "outputs")
    first = json.loads((run / "results.json").read_text())
    run_cli("train", f"resume={run}", "trainer.max_epochs=2")
    assert run_folders(tmp_path / "outputs") == [run]
    second = json.loads((run / "results.json").read_text())
    assert second["run_id"] == first["run_id"] and (first["steps"], second["steps"]) == (3, 6)
    steps = {
        int(r["step"]) for r in csv.DictReader((run / "metrics.csv").open()) if r["train/loss"]
    }
    assert {0, 1, 2, 3, 4, 5} <= steps  # history of both parts kept
    assert "trainer.max_epochs=2" in (run / "overrides.txt").read_text()
    assert len(json.loads((run / "run.json").read_text())["resumed"]) == 1
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["seqlab"]["run_id"] == first["run_id"]


def test_resume_without_a_checkpoint_is_one_line(run_cli, tmp_path):
    proc = run_cli("train", f"resume={tmp_path}", expect=2)
    assert "not a seqlab run folder" in proc.stderr and proc.stderr.count("\n") == 1


def each_job_records_its_own_command(runs: list, swept: str) -> list[dict]:
    """Every job's run.json command is its own overrides (not the job before's); the sweep's
    command line is kept beside it. Returns the run.json records."""
    records = [json.loads((r / "run.json").read_text()) for r in runs]
    commands = []
    for run, record in zip(runs, records, strict=True):
        assert record["command"][1:] == (run / "overrides.txt").read_text().split()
        assert "-m" in record["sweep_command"] and swept in record["sweep_command"]
        commands.append(tuple(record["command"]))
    assert len(set(commands)) == len(runs)
    return records


def test_grid_sweep_gives_one_folder_and_one_summary_row_per_job(run_cli, tmp_path):
    run_cli("train", "-m", "model=gru_seq2seq,transformer_seq2seq", "size=tiny",
            "seed=1,2", *QUICK)  # fmt: skip
    runs = run_folders(tmp_path / "outputs")
    assert len(runs) == 4 and len({r.parent for r in runs}) == 1
    rows = summary_rows(tmp_path / "outputs")
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    records = each_job_records_its_own_command(runs, "seed=1,2")
    assert len({r["run_id"] for r in records}) == 4


def test_a_failing_job_is_marked_and_the_others_finish(run_cli, tmp_path):
    proc = run_cli("train", "-m", "tokenizer.min_freq=1,-1", *QUICK, expect=1)
    rows = {r["status"]: r for r in summary_rows(tmp_path / "outputs")}
    assert set(rows) == {"ok", "failed"}
    assert rows["failed"]["error"] and "\n" not in rows["failed"]["error"]
    assert "1 failed" in proc.stdout


@pytest.mark.slow
def test_joblib_launcher_runs_jobs_in_worker_processes(run_process, tmp_path):
    run_process("train", "-m", "launcher=joblib", "seed=1,2", *QUICK)
    runs = run_folders(tmp_path / "outputs")
    assert len(runs) == 2
    pids = {json.loads((r / "run.json").read_text())["pid"] for r in runs}
    assert len(pids) == 2  # two worker processes, not one after the other in the launcher


@pytest.mark.slow
def test_optuna_runs_three_trials_and_gets_the_metric(run_cli, tmp_path):
    run_cli("train", "-m", "hparams_search=optuna", "hydra.sweeper.n_trials=3",
                   "hydra.sweeper.sampler.n_startup_trials=2", *QUICK)  # fmt: skip
    runs = run_folders(tmp_path / "outputs")
    assert len(runs) == 3
    each_job_records_its_own_command(runs, "hparams_search=optuna")
    best = next((tmp_path / "outputs").rglob("optimization_results.yaml")).read_text()
    assert "best_value" in best


@pytest.mark.slow
def test_ddp_job_in_a_sweep_makes_no_extra_folders(run_process, tmp_path):
    run_process("train", "-m", "trainer=ddp_cpu", "seed=1", *QUICK)
    runs = run_folders(tmp_path / "outputs")
    assert len(runs) == 1 and json.loads((runs[0] / "results.json").read_text())["status"] == "ok"
    assert not (tmp_path / "outputs" / "runs").exists()


def test_job_gpu_spreads_sweep_jobs_over_devices():
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from seqlab.runs.folder import job_gpu

    with initialize_config_module("seqlab.conf", version_base="1.3"):
        cfg = compose("train", ["paths.output_dir=/tmp/x"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.mode = "MULTIRUN"
        cfg.hydra.job.num = 3
    HydraConfig.instance().set_config(cfg)
    assert [job_gpu(2), job_gpu(4), job_gpu(1)] == [1, 3, 0]


@pytest.mark.parametrize(
    "path", ["/tmp/prøject/ünïcode 空白", "/a b/it's", "/back\\slash/", "/q'\\'x", "/tail\\"]
)
def test_hydra_quoted_paths_parse_back_to_themselves(path):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from seqlab.runs.resume import hydra_quoted

    [override] = OverridesParser.create().parse_overrides([f"resume={hydra_quoted(path)}"])
    assert override.value() == path


def test_run_resume_and_sweep_from_a_unicode_folder_with_spaces(data_root, cache_dir, tmp_path):
    home = tmp_path / "prøject" / "ünïcode 空白"
    home.mkdir(parents=True)
    env = cli_env(data_root, cache_dir, home / "outputs")
    run_in_process("train", *QUICK, "test=false", cwd=home, env=env)
    [run] = run_folders(home / "outputs")
    run_in_process("train", f"resume={run}", "trainer.max_epochs=2", cwd=home, env=env)
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "ok" and results["epochs"] == 2
    run_in_process("train", "-m", "seed=1,2", *QUICK, "test=false", cwd=home, env=env)
    assert len(run_folders(home / "outputs")) == 3
    assert len(summary_rows(home / "outputs" / "sweeps")) == 2
