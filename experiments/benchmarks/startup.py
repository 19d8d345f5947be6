"""Start-up benchmark: seconds from the command to the first training step, for every command's
`--help`, and for a plan (`seqlab-plan experiment=shakespeare_gpt`).

Baseline: `python -c "import torch"` started the same way (the floor any PyTorch CLI pays). Each
command runs `--repeats` times, alternating, and the medians are reported with the ratio to the floor.
The same run times the third-party imports a training process cannot skip, each on top of torch:
`torch._dynamo` (Lightning's fabric imports it), torchmetrics (Lightning's version check imports
it), `scipy.signal` (torchmetrics imports it wherever scipy is installed, as the `sweep` extra's
optuna 2.x brings it), and Lightning itself, so the first step's time splits into theirs and seqlab's.
"GC on" is seqlab-train with the garbage collector left on during start-up (before
`seqlab.cli.end_startup`), the baseline for turning it off until the imports are done.

    python experiments/benchmarks/startup.py [--repeats 3] [--data-dir ../shared/data] [--quick]

`--quick` runs every command once after the warm-up run (a smoke test).
"""

from __future__ import annotations

import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
from common import benchmark_parser

HERE = Path(__file__).resolve().parent
IMPORTS = {"torch + torch._dynamo": "import torch, torch._dynamo",
           "torch + torchmetrics": "import torch, torchmetrics",
           "torch + scipy.signal": "import torch, scipy.signal",
           "lightning": "import lightning"}  # fmt: skip
# seqlab-train as it was before `seqlab.cli.end_startup`: the collector on from the first import.
GC_ON = (
    "import gc, runpy, sys; gc.disable = gc.freeze = lambda: None; sys.argv[0] = 'seqlab-train'; "
    "runpy.run_module('seqlab.train', run_name='__main__')"
)
HELP_COMMANDS = {"seqlab-train": "train", "seqlab-eval": "evaluate", "seqlab-generate": "generate",
                 "seqlab-plan": "plan", "seqlab-report": "report"}  # fmt: skip


class FirstStepStamp(L.Callback):
    """Prints the wall-clock time when the first training batch starts, then stops the run."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        print(f"FIRST_STEP {time.time():.6f}", flush=True)
        trainer.should_stop = True


def run(cmd: list[str], env: dict, cwd: str) -> tuple[float, float | None]:
    start = time.time()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    # Search anywhere: the progress bar may share the line (it redraws with "\r", no newline).
    stamps = [float(t) for t in re.findall(r"FIRST_STEP ([\d.]+)", proc.stdout)]
    return time.time() - start, (stamps[0] - start) if stamps else None


def main() -> None:
    parser = benchmark_parser(__doc__, "one timed run per command")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    with tempfile.TemporaryDirectory() as tmp:
        path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "SEQLAB_DATA_DIR": str(args.data_dir), "SEQLAB_CACHE_DIR": f"{tmp}/cache",
               "SEQLAB_LOG_DIR": f"{tmp}/outputs", "PYTHONPATH": path}  # fmt: skip
        first_step = ["+callbacks.first_step._target_=startup.FirstStepStamp", "test=false"]
        commands = {
            "import torch (floor)": ([sys.executable, "-c", "import torch"], False),
            **{f"import {name}": ([sys.executable, "-c", stmt], False) for name, stmt in IMPORTS.items()
               if "scipy" not in stmt or importlib.util.find_spec("scipy")},
            **{f"{app} --help": ([sys.executable, "-m", f"seqlab.{module}", "--help"], False)
               for app, module in HELP_COMMANDS.items()},
            "seqlab-plan, shakespeare_gpt": (
                [sys.executable, "-m", "seqlab.plan", "experiment=shakespeare_gpt"], False),
            "first step, shakespeare_gpt": (
                [sys.executable, "-m", "seqlab.train", "experiment=shakespeare_gpt", *first_step], True),
            "first step, default (SCAN GRU)": (
                [sys.executable, "-m", "seqlab.train", *first_step], True),
            "first step, shakespeare_gpt, GC on": (
                [sys.executable, "-c", GC_ON, "experiment=shakespeare_gpt", *first_step], True),
        }  # fmt: skip
        for cmd, _ in commands.values():  # warm the data cache and the OS file cache
            run(cmd, env, tmp)
        results: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, (cmd, to_step) in commands.items():
                total, step = run(cmd, env, tmp)
                results[name].append(step if to_step else total)
    floor = statistics.median(results["import torch (floor)"])
    print(f"load average {os.getloadavg()[0]:.1f}; median of {args.repeats} runs each")
    print(f"{'command':38s} {'median s':>9s} {'× floor':>8s}")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:38s} {median:9.2f} {median / floor:8.1f}")
    off, on = results["first step, shakespeare_gpt"], results["first step, shakespeare_gpt, GC on"]
    ratio = statistics.median(a / b for a, b in zip(off, on, strict=True))
    print(f"first step, shakespeare_gpt × GC on: {ratio:.3f} (median of the per-round ratios)")
    if importlib.util.find_spec("scipy"):
        print("scipy is installed: importing Lightning imports scipy.signal (through torchmetrics)")


if __name__ == "__main__":
    main()
