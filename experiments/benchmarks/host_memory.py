"""Host memory benchmark: training steps with large blocks mapped by glibc vs served from the heap.

glibc gives every block above its mmap threshold (32 MB at most) a mapping of its own and unmaps
it when freed, so a large tensor made every step (Multi30k's logits: ~2,000 target tokens × a
6k-word vocabulary, 47 MB) is page-faulted anew every step. seqlab's `host_memory` callback
turns those mappings off (`callbacks.host_memory.map_large_blocks=false`, the default).

Baseline: the same `seqlab-train` run with `callbacks.host_memory.map_large_blocks=true`
(glibc's behaviour). Each experiment runs as a process per setting, alternating A, B, A, B
(the heap's state is per process: toggling inside one process would measure nothing, since a
heap that has grown keeps serving large blocks). Reported: median ms per training step,
minor page faults per step, peak RSS, and the step-time ratio of each pair.

    python experiments/benchmarks/host_memory.py [--steps 100] [--repeats 4] [--quick]
        [--experiments multi30k_transformer multi30k_gru_attention] [seqlab-train overrides ...]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
from common import benchmark_parser

HERE = Path(__file__).resolve().parent
SKIP = 5  # first steps left out (allocator and autotuning warm-up)


class StepFaults(L.Callback):
    """Wall time and minor page faults of every training step, written as JSON at the end."""

    def __init__(self, path: str):
        self.path, self.rows, self._start = path, [], (0.0, 0)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = (time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        t0, f0 = self._start
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        self.rows.append((time.perf_counter() - t0, faults))

    def on_train_end(self, trainer, pl_module) -> None:
        rows = self.rows[SKIP:] or self.rows
        Path(self.path).write_text(json.dumps({
            "ms": 1e3 * statistics.median(r[0] for r in rows),
            "faults": statistics.median(r[1] for r in rows),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }))  # fmt: skip


def run(experiment: str, mapped: bool, args, env: dict, tmp: Path) -> dict:
    out = tmp / "steps.json"
    cmd = [
        sys.executable, "-m", "seqlab.train", f"experiment={experiment}",
        f"trainer.max_steps={args.steps}", "trainer.val_check_interval=100000",
        "trainer.limit_val_batches=0", "test=false",
        f"callbacks.host_memory.map_large_blocks={str(mapped).lower()}",
        "+callbacks.step_faults._target_=host_memory.StepFaults",
        f"+callbacks.step_faults.path={out}", *args.overrides,
    ]  # fmt: skip
    subprocess.run(cmd, env=env, cwd=tmp, check=True, capture_output=True)
    return json.loads(out.read_text())


def main() -> None:
    parser = benchmark_parser(__doc__, "one short pair")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=4, help="A/B pairs per experiment")
    parser.add_argument("--experiments", nargs="+",
                        default=["multi30k_transformer", "multi30k_gru_attention"])  # fmt: skip
    parser.add_argument("overrides", nargs="*", help="seqlab-train overrides for every run")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = SKIP + 3, 1
    args.overrides = ["size=tiny", *args.overrides]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "SEQLAB_DATA_DIR": str(args.data_dir), "SEQLAB_LOG_DIR": str(tmp / "out"),
               "PYTHONPATH": path}  # fmt: skip
        print(f"load average {os.getloadavg()[0]:.1f}; {args.steps} steps a run; "
              f"overrides: {' '.join(args.overrides)}")  # fmt: skip
        print(f"{'experiment':26s} {'large blocks':>12s} {'ms/step':>8s} {'faults/step':>11s} "
              f"{'peak RSS MB':>11s} {'× mapped':>8s}")  # fmt: skip
        for experiment in args.experiments:
            res: dict[bool, list[dict]] = {True: [], False: []}
            for _ in range(args.repeats):
                for mapped in (True, False):
                    res[mapped].append(run(experiment, mapped, args, env, tmp))
            pairs = [b["ms"] / a["ms"] for a, b in zip(res[True], res[False], strict=True)]
            for mapped, label in ((True, "mapped"), (False, "heap")):
                rows = res[mapped]
                ratio = "1.000" if mapped else f"{statistics.median(pairs):.3f}"
                print(f"{experiment:26s} {label:>12s} "
                      f"{statistics.median(r['ms'] for r in rows):8.1f} "
                      f"{statistics.median(r['faults'] for r in rows):11.0f} "
                      f"{max(r['rss_mb'] for r in rows):11.0f} {ratio:>8s}")  # fmt: skip
            print(f"{'':26s} pair ratios: {', '.join(f'{p:.3f}' for p in pairs)}")


if __name__ == "__main__":
    main()
