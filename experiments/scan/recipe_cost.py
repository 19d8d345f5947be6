"""What an epoch of the main job costs under each recipe choice, against the recipe before it.

Every variant trains on its own first epoch of SCAN batches (`experiment=scan_gru_attention` plus
the variant's overrides; the same seed and data), with a plain loop over seqlab's network,
optimizer and clipping. The variants take turns, a slice of the epoch each, so a busy machine
slows them alike; the ratio to the baseline (the previous recipe: one GRU layer of 96, buckets
sorted by source length) is what to read. Results: experiments/scan/README.md.

    python experiments/scan/recipe_cost.py [--rounds 8] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from seqlab.data.tokenizers import PAD_ID
from seqlab.lit.build import build_datamodule, build_net
from seqlab.lit.optim import build_optimizer

BASELINE = "1 x 96, by source (previous recipe)"
PREVIOUS = ["size.d_model=96", "optimizer.lr=2e-3", "loader.bucket_by=source"]
VARIANTS = {  # row → overrides on top of the experiment
    BASELINE: PREVIOUS,
    "1 x 96, by target": [*PREVIOUS, "loader.bucket_by=target"],
    "1 x 64, by source": [*PREVIOUS, "size.d_model=64"],
    "1 x 64, by target (the recipe)": [],
}


class Variant:
    """One recipe's network, optimizer and first epoch of batches."""

    def __init__(self, overrides: list[str], data_dir: str | None):
        paths = [f"paths.data_dir={data_dir}"] if data_dir else []
        cfg = compose("train", ["experiment=scan_gru_attention", *paths, *overrides])
        datamodule = build_datamodule(cfg)
        datamodule.prepare_data()
        datamodule.setup("fit")
        torch.manual_seed(cfg.seed)
        self.net = build_net(cfg.model, datamodule.tokenizers)
        self.optimizer = build_optimizer(instantiate(cfg.optimizer), self.net)
        self.clip = cfg.trainer.gradient_clip_val
        self.batches = list(datamodule.train_dataloader())
        self.seconds, self.steps = 0.0, 0

    def train(self, batches: list[dict]) -> None:
        start = time.perf_counter()
        for batch in batches:
            tgt_in, tgt_out = batch["tgt"][:, :-1], batch["tgt"][:, 1:]
            logits = self.net(batch["src"], tgt_in, src_lengths=batch.get("src_lengths_host"))
            loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD_ID)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip)
            self.optimizer.step()
        self.seconds += time.perf_counter() - start
        self.steps += len(batches)

    def epoch_seconds(self) -> float:
        return self.seconds / self.steps * len(self.batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="turns each variant takes")
    parser.add_argument("--data-dir", default=None, help="paths.data_dir (SCAN is generated)")
    args = parser.parse_args()
    with initialize_config_module("seqlab.conf", version_base=None):
        variants = {name: Variant(o, args.data_dir) for name, o in VARIANTS.items()}
    for r in range(args.rounds):
        for v in variants.values():
            per = len(v.batches) // args.rounds
            v.train(v.batches[r * per : (r + 1) * per])
    base = variants[BASELINE].epoch_seconds()
    print(f"| recipe | epoch s ({torch.get_num_threads()} threads) | × {BASELINE} |")
    print("| --- | ---: | ---: |")
    for name, v in variants.items():
        print(f"| {name} | {v.epoch_seconds():.1f} | {v.epoch_seconds() / base:.2f} |")


if __name__ == "__main__":
    main()
