"""Run and sweep folders written file by file exactly as seqlab-train leaves them (no training),
for the report tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

OOM = "CUDA out of memory. Tried to allocate 2.00 GiB"


def write_run(
    path: Path,
    overrides: dict[str, str],
    val_losses: list[float],
    status: str | None = "ok",
    samples: bool = True,
) -> Path:
    """One run folder as seqlab-train writes it; status None = crashed (no results.json)."""
    path.mkdir(parents=True)
    lines = [f"{k}={v}" for k, v in overrides.items()]
    command = ["/repo/src/seqlab/train.py", *lines]
    (path / "run.json").write_text(json.dumps({"run_id": path.name, "command": command}))
    (path / "overrides.txt").write_text("\n".join(lines) + "\n")
    (path / "git.json").write_text(json.dumps({"commit": "0123456789abcdef" * 2, "dirty": True}))
    (path / "environment.json").write_text(json.dumps({"python": "3.11"}))
    config = {
        "optimized_metric": "val/loss",
        "task": {"monitor": "val/loss", "monitor_mode": "min"},
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    header = ["epoch", "step", "lr-AdamW", "train/loss", "val/exact_match", "val/loss", "test/loss"]
    rows = []
    for i, loss in enumerate(val_losses):  # sparse rows: train rows and val rows apart
        rows.append([i, 10 * i + 4, 1e-3, loss + 0.3, "", "", ""])
        rows.append([i, 10 * i + 9, "", "", round(1 - loss / 4, 3), loss, ""])
    if status == "ok":
        rows.append([len(val_losses), 10 * len(val_losses), "", "", "", "", val_losses[-1] + 0.05])
    with (path / "metrics.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    if samples:
        with (path / "samples.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "epoch", "source", "reference", "hypothesis"])
            for step in (9, 19):
                for k in range(4):
                    w.writerow([step, step // 10, f"jump <b>{k}</b>", "I_JUMP", f"I_WALK s{step}"])
    best = min(val_losses)
    ckpt = path / "checkpoints"
    ckpt.mkdir()
    (ckpt / "best.ckpt").write_bytes(b"")
    if status is not None:
        results = {
            "run_id": path.name,
            "status": status,
            "metrics": {"val/loss": val_losses[-1]},
            "best": {"monitor": "val/loss", "score": best, "checkpoint": str(ckpt / "best.ckpt")},
            "last_checkpoint": str(ckpt / "last.ckpt"),
            "parameters": {"total": 228376, "embedding": 3072, "non_embedding": 225304},
            "steps": 10 * len(val_losses),
            "epochs": len(val_losses),
            "wall_time_s": 12.5,
            "train_tokens_per_s": 4568.3,
        }
        if status == "ok":
            results["metrics"]["test/loss"] = val_losses[-1] + 0.05
        else:
            results["error"] = OOM + "\nTraceback line that must not show"
        (path / "results.json").write_text(json.dumps(results))
    return path


def make_sweep(root: Path) -> Path:
    """A 2×2 multirun (model × optimizer.lr) where job 3 failed."""
    sweep = root / "sweeps" / "scan" / "2026-01-01_00-00-00_abcdef"
    grid = [("gru_seq2seq", "0.001"), ("gru_seq2seq", "0.0003")]
    grid += [("transformer_seq2seq", "0.001"), ("transformer_seq2seq", "0.0003")]
    losses = [[2.0, 1.2, 0.9], [2.1, 1.5, 1.1], [1.8, 0.9, 0.6], [2.2, 9.9]]
    for job, ((model, lr), curve) in enumerate(zip(grid, losses, strict=True)):
        overrides = {"model": model, "optimizer.lr": lr, "trainer.max_epochs": "3"}
        write_run(sweep / str(job), overrides, curve, status="failed" if job == 3 else "ok")
    task = ["model=gru_seq2seq,transformer_seq2seq", "optimizer.lr=0.001,0.0003"]
    task.append("trainer.max_epochs=3")
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": task}}}))
    return sweep
