"""LM training-step benchmark: seqlab's `shakespeare_gpt` step vs a plain PyTorch loop.

Baseline: a hand-written loop over the same GPT, the same batches (seqlab's RandomWindows), AdamW
with the same parameter groups, the same schedule and gradient clipping. Both are timed in the same
run, alternating rounds, and reported as medians and the ratio seqlab / plain. Achieved GFLOP/s use
seqlab-plan's FLOPs per step; the fp32 matmul peak is measured by this script.

    python experiments/benchmarks/lm_training.py [--steps 150] [--rounds 3] [overrides ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import lightning as L
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from seqlab.builders import build_datamodule, build_module, build_net
from seqlab.lit.optim import build_optimizer
from seqlab.plan import make_plan


class StepTimer(L.Callback):
    """Wall time between consecutive batch ends: data, forward, backward, optimizer, logging."""

    def __init__(self):
        self.times: list[float] = []
        self._last = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        now = time.perf_counter()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now


def matmul_peak(n: int = 2048, repeats: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def seqlab_round(cfg, steps: int) -> list[float]:
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    module = build_module(
        cfg, datamodule.tokenizer_states(), build_net(cfg.model, datamodule.tokenizers)
    )
    timer = StepTimer()
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    trainer = instantiate(
        cfg.trainer, max_steps=steps, logger=loggers or False, callbacks=[timer],
        enable_progress_bar=False, enable_checkpointing=False, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(module, datamodule=datamodule)
    return timer.times[5:]  # skip warm-up steps


def plain_round(cfg, steps: int) -> list[float]:
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    net = build_net(cfg.model, datamodule.tokenizers)
    optimizer = build_optimizer(instantiate(cfg.optimizer), net)
    scheduler = instantiate(cfg.scheduler)(optimizer, total_steps=steps)
    batches = iter(datamodule.train_dataloader())
    times, last = [], None
    for _ in range(steps):
        x, y = next(batches)
        logits = net(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.trainer.gradient_clip_val)
        optimizer.step()
        scheduler.step()
        now = time.perf_counter()
        if last is not None:
            times.append(now - last)
        last = now
    return times[5:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="steps per round and side")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("overrides", nargs="*", help="seqlab-train overrides")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as out,
        initialize_config_module("seqlab.conf", version_base="1.3"),
    ):
        cfg = compose(
            "train", ["experiment=shakespeare_gpt", f"paths.output_dir={out}", *args.overrides]
        )
        plan = make_plan(cfg)
        times = {"seqlab": [], "plain": []}
        for _ in range(args.rounds):
            times["seqlab"] += seqlab_round(cfg, args.steps)
            times["plain"] += plain_round(cfg, args.steps)
    peak = matmul_peak()
    tokens = cfg.loader.batch_size * cfg.task.block_size
    flops = plan["flops"]["per_step"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32 matmul peak "
          f"{peak / 1e9:.0f} GFLOP/s; {flops / 1e9:.2f} GFLOP per step (seqlab-plan)")  # fmt: skip
    print(
        f"{'loop':8s} {'ms/iter':>8s} {'tokens/s':>9s} {'GFLOP/s':>8s} {'of peak':>8s} {'ratio':>6s}"
    )
    base = statistics.median(times["plain"])
    for name, values in times.items():
        ms = statistics.median(values)
        print(f"{name:8s} {ms * 1e3:8.2f} {tokens / ms:9,.0f} {flops / ms / 1e9:8.1f} "
              f"{flops / ms / peak:8.1%} {ms / base:6.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
