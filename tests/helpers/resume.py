"""Is a resumed run the run that was never interrupted? Weights, optimizer moments, every logged
metric and the final results, compared bit for bit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch


def last_state(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)


def different_weights(run: Path, reference: Path) -> list[str]:
    """Names of the parameters whose final values differ between two runs."""
    a, b = last_state(run)["state_dict"], last_state(reference)["state_dict"]
    assert a.keys() == b.keys()
    return [k for k in b if not torch.equal(a[k], b[k])]


def metric_rows(run: Path) -> dict[tuple[str, str], str]:
    """(step, metric) → value of every logged loss / val / test metric (a step re-run after a
    SIGKILL logs the same values again)."""
    rows = csv.DictReader((run / "metrics.csv").open())
    return {
        (r["step"], k): v
        for r in rows
        for k, v in r.items()
        if v and k.startswith(("train/loss", "val/", "test/"))
    }


def assert_same_run(run: Path, reference: Path, steps: int) -> None:
    a, b = last_state(run), last_state(reference)
    assert a["global_step"] == b["global_step"] == steps
    different = different_weights(run, reference)
    assert not different, f"weights differ from the uninterrupted run: {different}"
    moments = [c["optimizer_states"][0]["state"] for c in (a, b)]
    for x, y in zip(moments[0].values(), moments[1].values(), strict=True):
        assert all(torch.equal(x[k], y[k]) for k in ("exp_avg", "exp_avg_sq"))
    assert metric_rows(run) == metric_rows(reference)
    results = [json.loads((r / "results.json").read_text())["metrics"] for r in (run, reference)]
    assert results[0] == results[1]


# Validation and a periodic last.ckpt every 3 steps, stopped by SIGTERM at step 4 of 6.
KILLED_AT_4_OF_6 = ["trainer.max_steps=6", "trainer.val_check_interval=3",
                    "trainer.log_every_n_steps=1", "+callbacks.model_checkpoint.every_n_train_steps=3",
                    "task.monitor=val/loss", "test=false"]  # fmt: skip


def assert_sigterm_resume_is_exact(tmp_path: Path, env: dict, args: list[str]) -> None:
    """Train `args` uninterrupted, and again stopped by SIGTERM at step 4 then resumed in place:
    the two runs end the same (`KILLED_AT_4_OF_6` belongs in `args`)."""
    from helpers.cli import run_entry, run_folders

    kill = ["+callbacks.kill._target_=helpers.chaos.SignalAtStep", "+callbacks.kill.step=4"]

    def train(name: str, *more: str, expect: int = 0) -> Path:
        run_entry("train", *more, cwd=tmp_path, env=dict(env, SEQLAB_LOG_DIR=str(tmp_path / name)),
                  expect=expect)  # fmt: skip
        [run] = run_folders(tmp_path / name)
        return run

    reference = train("reference", *args)
    run = train("killed", *args, *kill, expect=143)
    assert last_state(run)["global_step"] == 4
    train("killed", f"resume={run}", "~callbacks.kill")
    assert_same_run(run, reference, 6)
