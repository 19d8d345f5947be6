"""The baseline row of `gpu.sh`: a hand-written PyTorch loop over seqlab's own network, batches,
optimizer, schedule and clipping, on one GPU in bf16 autocast; what the framework is measured
against there. Prints one JSON line: median ms per step, tokens/s and model FLOP/s.

    python experiments/benchmarks/gpu_plain.py [--steps 500] [--device cuda] [seqlab-train overrides ...]

The step ends with a synchronization only every `--sync-every` steps, as a loop without host
syncs runs; the rate is taken over whole windows, after `--warmup` steps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from hydra import compose, initialize_config_module
from lm_training import next_token_loss, optimizer_and_schedule  # this folder's CPU benchmark

from seqlab.callbacks.throughput import ModelFlops
from seqlab.lit.build import build_datamodule, build_net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps at the start")
    parser.add_argument("--sync-every", type=int, default=50, help="steps per timed window")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("overrides", nargs="*", help="seqlab-train overrides (as gpu.sh's)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # as seqlab's MatmulPrecision callback

    with initialize_config_module("seqlab.conf", version_base="1.3"):
        cfg = compose("train", ["experiment=shakespeare_gpt", *args.overrides])
    torch.manual_seed(cfg.seed)
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    net = build_net(cfg.model, datamodule.tokenizers).to(device)
    optimizer, scheduler = optimizer_and_schedule(cfg, net, args.steps)
    clip = cfg.trainer.gradient_clip_val
    tokens = cfg.loader.batch_size * cfg.task.block_size
    flops = ModelFlops.of(net).step(0, tokens, 0, cfg.task.block_size)

    def batches():
        while True:
            yield from datamodule.train_dataloader()

    stream = batches()

    def train_step() -> torch.Tensor:
        x, y = (t.to(device, non_blocking=True) for t in next(stream))
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = net(x)
        loss = next_token_loss(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        optimizer.step()
        scheduler.step()
        return loss

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        loss = train_step()
    windows = []  # seconds per step, one value per window
    for _ in range(max(1, (args.steps - args.warmup) // args.sync_every)):
        sync()
        start = time.perf_counter()
        for _ in range(args.sync_every):
            loss = train_step()
        sync()
        windows.append((time.perf_counter() - start) / args.sync_every)
    step = statistics.median(windows)
    print(json.dumps({
        "ms_per_step": round(step * 1e3, 3),
        "tokens_per_s": round(tokens / step, 1),
        "flops_per_s": flops / step,
        "windows": len(windows),
        "fused": bool(optimizer.defaults.get("fused")),
        "final_loss": round(loss.item(), 4),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
