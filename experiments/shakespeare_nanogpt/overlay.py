"""Tiny Shakespeare, characters: seqlab's `shakespeare_gpt` against nanoGPT's CPU "baby GPT" run,
same model, data, optimizer, schedule and 2000 iterations; loss curves overlaid.

nanoGPT runs its own `train.py` (a checkout given with `--nanogpt`, copied to a scratch folder,
never modified) with the command of its README, except `--eval_iters` (README: 20 random batches
per estimate, which moves a reported loss by ±0.02; 200 here, the value of its config file).
seqlab runs `seqlab-train experiment=shakespeare_gpt` once per seed and evaluates the whole
validation split every 250 iterations. Both run at the peak learning rate `--lr` (default 1e-3,
nanoGPT's; `shakespeare_gpt` itself uses 3e-3), decaying to a tenth of it.

    python experiments/shakespeare_nanogpt/overlay.py --nanogpt DIR [--seeds 42 43] [--lr 1e-3]
        [--eval-iters 200]

Writes `loss_overlay.png`, `results.md` and the raw curves (`curves.json`) next to this file (or
to `--out`); `--replot` redraws the figure and table from `curves.json` without training.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))
from lm_training import nanogpt_lr_args, nanogpt_workdir, run_nanogpt  # noqa: E402

ITERS, EVAL_EVERY, SMOOTH = 2000, 250, 50


def run_seqlab(seed: int, lr: float, env: dict, tmp: Path) -> dict:
    """`seqlab-train experiment=shakespeare_gpt seed=<seed> optimizer.lr=<lr>`: train loss every 10
    iterations and validation loss every 250, read back from the run's metrics.csv."""
    out = tmp / f"seqlab_{seed}"
    cmd = [sys.executable, "-m", "seqlab.train", "experiment=shakespeare_gpt", f"seed={seed}",
           f"optimizer.lr={lr}", "test=false", f"hydra.run.dir={out}"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"seqlab-train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    train, val = {}, {}
    with open(out / "metrics.csv") as f:
        for row in csv.DictReader(f):
            step = int(row["step"]) + 1  # Lightning's step index counts from 0: +1 = updates done
            if row.get("train/loss"):
                train[step] = float(row["train/loss"])
            if row.get("val/loss"):
                val[step] = float(row["val/loss"])
    return {"train": train, "val": val}


def smoothed(points: dict[int, float], width: int) -> tuple[list[int], list[float]]:
    """Mean of the losses logged in each `width`-iteration window (both logs are one batch each)."""
    bins: dict[int, list[float]] = {}
    for step, loss in points.items():
        bins.setdefault(((step - 1) // width + 1) * width, []).append(loss)  # (0, 50] -> 50
    steps = sorted(bins)
    return steps, [statistics.fmean(bins[s]) for s in steps]


def plot(curves: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (name, res), color in zip(curves.items(), ("C0", "C1", "C2", "C3"), strict=False):
        ax.plot(*smoothed(res["train"], SMOOTH), color=color, alpha=0.45, lw=1,
                label=f"{name} train ({SMOOTH}-iter mean)")  # fmt: skip
        steps = sorted(res["val"])
        ax.plot(steps, [res["val"][s] for s in steps], "o-", color=color, lw=2,
                label=f"{name} val")  # fmt: skip
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy (nats / char)")
    ax.set_ylim(1.3, 3.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Tiny Shakespeare, baby GPT on CPU: seqlab vs nanoGPT")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def table(curves: dict[str, dict]) -> str:
    names = list(curves)
    steps = sorted({s for res in curves.values() for s in res["val"] if s > 0})
    lines = ["| iteration | " + " | ".join(f"{n} val loss" for n in names) + " |",
             "| ---: | " + " | ".join("---:" for _ in names) + " |"]  # fmt: skip
    for s in steps:
        cells = [f"{curves[n]['val'][s]:.4f}" if s in curves[n]["val"] else "" for n in names]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", type=Path, help="a nanoGPT checkout")
    parser.add_argument("--replot", action="store_true", help="redraw from curves.json")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of both")
    parser.add_argument(
        "--eval-iters", type=int, default=200, help="nanoGPT's batches per estimate"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get(
        "SEQLAB_DATA_DIR", HERE.parents[2] / "shared" / "data")))  # fmt: skip
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "SEQLAB_DATA_DIR": str(args.data_dir.resolve())}  # fmt: skip
    if args.replot:
        curves = json.loads((args.out / "curves.json").read_text())
        curves = {name: {k: {int(s): v for s, v in c[k].items()} for k in ("train", "val")}
                  for name, c in curves.items()}  # fmt: skip
    elif args.nanogpt is None:
        parser.error("--nanogpt DIR is required (or --replot)")
    else:
        curves = train_all(args, env)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "curves.json").write_text(json.dumps(curves))
    plot(curves, args.out / "loss_overlay.png")
    text = table(curves)
    (args.out / "results.md").write_text(text + "\n")
    print(text)


def train_all(args: argparse.Namespace, env: dict) -> dict[str, dict]:
    curves: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        work = nanogpt_workdir(args.nanogpt.resolve(), args.data_dir.resolve(), tmp)
        extra = (f"--eval_iters={args.eval_iters}", *nanogpt_lr_args(args.lr))
        nano = run_nanogpt(work, ITERS, env, EVAL_EVERY, extra)
        # nanoGPT prints "iter k" for the batch of its (k+1)-th update: count updates, as seqlab's
        curves["nanoGPT"] = {
            "train": {k + 1: v for k, v in nano["train"].items()},
            "val": nano["val"],
        }
        for seed in args.seeds:
            curves[f"seqlab seed {seed}"] = run_seqlab(seed, args.lr, env, tmp)
    return {name: {"train": c["train"], "val": c["val"]} for name, c in curves.items()}


if __name__ == "__main__":
    main()
