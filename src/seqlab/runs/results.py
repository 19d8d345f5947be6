"""The end of a run: results.json and a short printed summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
from rich.console import Console
from rich.table import Table

from seqlab.callbacks.throughput import Throughput


def _number(v: Any) -> float | Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def collect_results(
    trainer: L.Trainer,
    metrics: dict[str, Any],
    run_id: str,
    run_dir: Path,
    params: dict,
    started: float,
    data_counts: dict,
) -> dict[str, Any]:
    """Everything results.json holds; `metrics` are the last val/… values and the test/… values."""
    metrics = {k: _number(v) for k, v in sorted(metrics.items())}
    ckpt = trainer.checkpoint_callback
    throughput = next((c for c in trainer.callbacks if isinstance(c, Throughput)), None)
    return {
        "run_id": run_id,
        "run_dir": str(run_dir),
        "status": "ok",
        "metrics": {k: v for k, v in metrics.items() if k.startswith(("val/", "test/"))},
        "best": {
            "monitor": ckpt.monitor if ckpt else None,
            "score": _number(ckpt.best_model_score)
            if ckpt and ckpt.best_model_score is not None
            else None,
            "checkpoint": ckpt.best_model_path if ckpt else None,
        },
        "last_checkpoint": str(Path(ckpt.dirpath) / "last.ckpt")
        if ckpt and ckpt.save_last
        else None,
        "parameters": params,
        "steps": trainer.global_step,
        "epochs": trainer.current_epoch,
        "wall_time_s": round(time.time() - started, 2),
        "train_tokens_per_s": round(throughput.tokens_per_s, 1) if throughput else None,
        "throughput": throughput.summary() if throughput else None,  # tokens/s, FLOPs, MFU
        "data": data_counts,
    }


def optimized_value(results: dict[str, Any], metric: str) -> float | None:
    """What a sweeper optimizes: the best value seen when it is the checkpoint monitor, else the
    final one."""
    best = results["best"]
    if best["monitor"] == metric and best["score"] is not None:
        return best["score"]
    return results["metrics"].get(metric)


def print_summary(results: dict[str, Any], samples: list[dict[str, str]] | None = None) -> None:
    console = Console(stderr=False, highlight=False)
    table = Table(title=f"seqlab run {results['run_id']}", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in results["metrics"].items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    table.add_row("parameters", f"{results['parameters']['total']:,}")
    table.add_row("steps", str(results["steps"]))
    table.add_row("train tokens/s", f"{results['train_tokens_per_s'] or 0:,.0f}")
    mfu = (results.get("throughput") or {}).get("mfu")
    if mfu is not None:
        table.add_row("train MFU", f"{mfu:.1%}")
    table.add_row("wall time", f"{results['wall_time_s']:.1f} s")
    console.print(table)
    for s in (samples or [])[:3]:
        console.print(f"  src: {s['source']}\n  ref: {s['reference']}\n  hyp: {s['hypothesis']}")
    console.print(f"run folder: {results['run_dir']}", soft_wrap=True)
    if results["best"]["checkpoint"]:
        console.print(f"best checkpoint: {results['best']['checkpoint']}", soft_wrap=True)
