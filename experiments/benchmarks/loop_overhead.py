"""Loop overhead benchmark: seqlab's per-hook bookkeeping vs Lightning's defaults, in one training run.

Baseline: Lightning's defaults. Its `PassThroughProfiler` enters a generator context around every
hook the loop calls (about 140 a step with seqlab's callbacks), and `nn.Module.__setattr__`
stores `_current_fx_name` before and after each hook (46 times a step). seqlab gives the trainer
`NoProfiler` (one shared null context) and stores that attribute as a plain one.

One trainer, built as seqlab-train builds it (every configured callback but checkpointing and
the progress bar; no validation), switches between the two after every step: both see the same
batches, model and machine load, and the ratio is the median over pairs of consecutive steps.
Between processes this machine's step times vary by more than the difference measured here.
"width 16" is the same run with a one-layer, width-16 GPT, where the framework's cost dominates.

    python experiments/benchmarks/loop_overhead.py [--steps 1000] [--quick] [seqlab-train overrides ...]
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import lightning as L
import torch
from common import benchmark_parser
from hydra import compose, initialize_config_module
from lightning.pytorch.profilers import PassThroughProfiler

from seqlab.lit.base import SeqlabModule
from seqlab.lit.build import build_datamodule, build_module, build_net, build_trainer
from seqlab.lit.profiler import NoProfiler

WARMUP = 20
MODELS = {
    "baby GPT": [],
    "width 16": ["model.net.n_layer=1", "model.net.n_embd=16", "model.net.n_head=1"],
}
BASELINE, SEQLAB = "Lightning defaults", "seqlab"


class Alternate(L.Callback):
    """Times every step and switches the trainer between the two settings after each one."""

    def __init__(self):
        self.times: dict[str, list[float]] = {BASELINE: [], SEQLAB: []}
        self.mode, self.steps, self._last = SEQLAB, 0, None
        self._fast_setattr = SeqlabModule.__setattr__
        self._profilers = {BASELINE: PassThroughProfiler(), SEQLAB: NoProfiler()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None and self.steps >= WARMUP:
            self.times[self.mode].append(now - self._last)
        self.steps += 1
        self.mode = BASELINE if self.mode == SEQLAB else SEQLAB
        trainer.profiler = self._profilers[self.mode]
        baseline = self.mode == BASELINE
        SeqlabModule.__setattr__ = torch.nn.Module.__setattr__ if baseline else self._fast_setattr
        self._last = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        SeqlabModule.__setattr__ = self._fast_setattr


def alternated_steps(cfg, steps: int) -> dict[str, list[float]]:
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    module = build_module(cfg, datamodule.tokenizer_states(), build_net(cfg.model, datamodule.tokenizers))  # fmt: skip
    alternate = Alternate()
    trainer = build_trainer(
        cfg, extra_callbacks=(alternate,), without=("model_checkpoint",),
        max_steps=WARMUP + 2 * steps + 1, enable_checkpointing=False, enable_progress_bar=False,
        limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(module, datamodule=datamodule)
    return alternate.times


def main() -> None:
    parser = benchmark_parser(__doc__, "a few steps")
    parser.add_argument("--steps", type=int, default=1000, help="steps under each setting")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("overrides", nargs="*", help="seqlab-train overrides")
    args = parser.parse_args()
    steps = 10 if args.quick else args.steps
    torch.set_num_threads(args.threads)
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        initialize_config_module("seqlab.conf", version_base="1.3"),
    ):
        for model, overrides in MODELS.items():
            cfg = compose("train", ["experiment=shakespeare_gpt", f"paths.data_dir={args.data_dir}",
                                    f"paths.output_dir={tmp}/{len(rows)}", *overrides,
                                    *args.overrides])  # fmt: skip
            times = alternated_steps(cfg, steps)
            base, ours = times[BASELINE], times[SEQLAB]
            n = min(len(base), len(ours))
            ratio = statistics.median(a / b for a, b in zip(ours[:n], base[:n], strict=True))
            rows.append((model, statistics.median(base), statistics.median(ours), ratio))
    print(f"torch {torch.__version__}, {args.threads} threads, load average "
          f"{os.getloadavg()[0]:.1f}; {steps} steps under each setting, alternating")  # fmt: skip
    print(f"{'model':10s} {BASELINE + ' ms':>22s} {SEQLAB + ' ms':>10s} {'× defaults':>11s} "
          f"{'saved ms':>9s}")  # fmt: skip
    for model, base, ours, ratio in rows:
        print(f"{model:10s} {base * 1e3:22.3f} {ours * 1e3:10.3f} {ratio:11.3f} "
              f"{(base - ours) * 1e3:9.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
