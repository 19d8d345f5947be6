"""Re-running a sweep with `skip_completed=true`: finished jobs are skipped, an interrupted job
resumes from its last.ckpt, so no work is repeated and no result is lost."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from helpers.cli import cli_env, run_entry
from seqlab.errors import SeqlabError
from seqlab.runs.sweeps import earlier_attempt

QUICK = ["size=tiny", "loader.batch_size=16", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
         "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "trainer.log_every_n_steps=1",
         "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip


def job_folder(tmp_path: Path, overrides: list[str], results: dict | None, ckpt: bool) -> Path:
    folder = tmp_path / "0"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "overrides.txt").write_text("\n".join(overrides) + "\n# resumed x\nseed=9\n")
    (folder / "run.json").write_text("{}")
    if results is not None:
        (folder / "results.json").write_text(json.dumps(results))
    if ckpt:
        (folder / "checkpoints" / "last.ckpt").write_bytes(b"x")
    return folder


def test_earlier_attempt_reads_what_the_job_folder_holds(tmp_path):
    assert earlier_attempt(tmp_path / "new", ["seed=1"]) is None
    done = job_folder(tmp_path / "a", ["seed=1"], {"status": "ok"}, ckpt=True)
    assert earlier_attempt(done, ["seed=1"]) == "finished"
    cut = job_folder(tmp_path / "b", ["seed=1"], None, ckpt=True)
    assert earlier_attempt(cut, ["seed=1"]) == "interrupted"
    failed = job_folder(tmp_path / "c", ["seed=1"], {"status": "failed"}, ckpt=False)
    assert earlier_attempt(failed, ["seed=1"]) is None  # run again from the start
    with pytest.raises(SeqlabError, match=r"holds a run of other overrides \(seed=1\); re-run"):
        earlier_attempt(done, ["seed=2"])


@pytest.mark.slow
def test_rerun_skips_finished_jobs_and_resumes_the_interrupted_one(data_root, cache_dir, tmp_path):
    env = cli_env(data_root, cache_dir, tmp_path / "outputs", test_callbacks=True)
    sweep = tmp_path / "outputs" / "sweeps" / "grid"
    # Job 0 finishes; job 1 is stopped by SIGTERM after step 2 of 3, which ends the whole sweep.
    args = ["-m", "+callbacks.kill._target_=helpers.chaos.SignalAtStep", "+callbacks.kill.step=100,2",
            *QUICK, f"hydra.sweep.dir={sweep}"]  # fmt: skip
    first = run_entry("train", *args, cwd=tmp_path, env=env, expect=143)
    assert "stopped by SIGTERM after step 2" in first.stderr
    job0, job1 = sweep / "0", sweep / "1"
    kept = {p.name: p.read_bytes() for p in job0.iterdir() if p.is_file()}
    assert (
        json.loads(kept["results.json"])["status"] == "ok" and not (job1 / "results.json").exists()
    )

    second = run_entry("train", *args, "skip_completed=true", cwd=tmp_path, env=env)
    assert f"skip_completed: {job0} finished earlier" in second.stdout
    assert f"skip_completed: {job1} was interrupted; resuming" in second.stdout
    assert {p.name: p.read_bytes() for p in job0.iterdir() if p.is_file()} == kept  # untouched
    results = json.loads((job1 / "results.json").read_text())
    assert results["status"] == "ok" and results["steps"] == 3
    assert len(json.loads((job1 / "run.json").read_text())["resumed"]) == 1
    steps = [r["step"] for r in csv.DictReader((job1 / "metrics.csv").open()) if r["train/loss"]]
    assert steps == ["0", "1", "2"]  # each step trained once
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["status"] for r in rows] == ["ok", "ok"]
