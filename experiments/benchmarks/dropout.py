"""Dropout benchmark: seqlab's CPU dropout (uniform draws) vs nn.Dropout (`bernoulli_`) in real steps.

Baseline: `torch.nn.Dropout`, whose CPU mask comes from `bernoulli_`. seqlab's
`seqlab.models.utils.Dropout` draws `rand >= p` instead (same distribution and scale). Each
experiment's network, batches, optimizer and loss are seqlab's (`experiment=...`, default
`size=tiny`, dropout 0.1); every batch is stepped once under each implementation, alternating,
so both see the same batches and the same machine load. Attention-weight dropout inside
`scaled_dot_product_attention` and `nn.GRU`'s between-layer dropout are PyTorch's in both.

    python experiments/benchmarks/dropout.py [--steps 40] [--quick]
        [--experiments multi30k_transformer multi30k_gru_attention] [seqlab-train overrides ...]
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import torch
from common import benchmark_parser
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from seqlab.callbacks.host_memory import keep_freed_memory
from seqlab.lit.build import build_datamodule, build_module, build_net
from seqlab.lit.optim import build_optimizer
from seqlab.models.utils import Dropout

WARMUP = 4
IMPLEMENTATIONS = {"nn.Dropout (bernoulli_)": torch.nn.Dropout.forward, "seqlab": Dropout.forward}


def step_times(cfg, steps: int) -> dict[str, list[float]]:
    """Seconds per training step under each dropout implementation, batch by batch."""
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    net = build_net(cfg.model, datamodule.tokenizers)
    module = build_module(cfg, datamodule.tokenizer_states(), net).train()
    optimizer = build_optimizer(instantiate(cfg.optimizer), net)
    batches = iter(datamodule.train_dataloader())
    times: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
    try:
        for i in range(WARMUP + steps):
            batch = datamodule.transfer_batch_to_device(next(batches), torch.device("cpu"), 0)
            for name, forward in IMPLEMENTATIONS.items():
                Dropout.forward = forward
                start = time.perf_counter()
                loss = module._loss(batch)[0]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.trainer.gradient_clip_val)
                optimizer.step()
                if i >= WARMUP:
                    times[name].append(time.perf_counter() - start)
    finally:
        Dropout.forward = IMPLEMENTATIONS["seqlab"]
    return times


def main() -> None:
    parser = benchmark_parser(__doc__, "a few steps")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--experiments", nargs="+",
                        default=["multi30k_transformer", "multi30k_gru_attention"])  # fmt: skip
    parser.add_argument("overrides", nargs="*", help="seqlab-train overrides")
    args = parser.parse_args()
    steps = 3 if args.quick else args.steps
    keep_freed_memory(512, 32, map_large_blocks=False)  # as seqlab-train's host_memory callback
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f}; {steps} steps each")  # fmt: skip
    print(f"{'experiment':24s} {'dropout':26s} {'ms/step':>8s} {'× nn.Dropout (paired)':>22s}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        initialize_config_module("seqlab.conf", version_base="1.3"),
    ):
        for experiment in args.experiments:
            cfg = compose("train", [f"experiment={experiment}", "size=tiny",
                                    f"paths.data_dir={args.data_dir}", f"paths.output_dir={tmp}",
                                    *args.overrides])  # fmt: skip
            times = step_times(cfg, steps)
            base = times["nn.Dropout (bernoulli_)"]
            for name, values in times.items():
                ratio = statistics.median(a / b for a, b in zip(values, base, strict=True))
                print(f"{experiment:24s} {name:26s} {1e3 * statistics.median(values):8.1f} "
                      f"{ratio:22.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
