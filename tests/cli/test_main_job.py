"""The main job's correctness: every target's <eos> is trained on, short targets are learned
exactly, and the default recipe picks checkpoints on what SCAN is scored by."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from helpers.inprocess import compose_train, train_in_process
from seqlab.data.tokenizers import EOS_ID, PAD_ID

VERBS = {"walk": "I_WALK", "look": "I_LOOK", "run": "I_RUN", "jump": "I_JUMP"}
TIMES = {"": 1, " twice": 2, " thrice": 3}


def mini_scan() -> list[tuple[str, str]]:
    """SCAN's grammar without directions: 12 short commands and their and/after compositions."""
    single = [(v + t, " ".join([a] * n)) for v, a in VERBS.items() for t, n in TIMES.items()]
    pairs = list(single)
    for (c1, a1), (c2, a2) in itertools.product(single, repeat=2):
        pairs += [(f"{c1} and {c2}", f"{a1} {a2}"), (f"{c1} after {c2}", f"{a2} {a1}")]
    return pairs


def test_every_training_target_ends_in_a_trained_eos(data_root, cache_dir, tmp_path):
    """Through the real data module: each target row is <bos> ids <eos> then pads, and only the
    pads are left out of the loss (ignore_index), so every <eos> is trained on."""
    from seqlab.lit.build import build_datamodule, build_module, build_net

    cfg = compose_train(tmp_path, "experiment=scan_gru_attention", data_root=data_root,
                        cache_dir=cache_dir)  # fmt: skip
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    module = build_module(
        cfg, datamodule.tokenizer_states(), build_net(cfg.model, datamodule.tokenizers)
    )
    seen = 0
    for batch in datamodule.train_dataloader():
        targets = batch["tgt"][:, 1:]
        ends = batch["tgt_lengths"] - 2  # position of <eos> among the targets
        rows = torch.arange(len(targets))
        assert (targets[rows, ends] == EOS_ID).all()
        assert ((targets == EOS_ID).sum(1) == 1).all()
        position = torch.arange(targets.size(1))
        assert ((targets != PAD_ID) == (position[None] <= ends[:, None])).all()
        seen += len(targets)
    assert seen == len(datamodule.dataset("train"))
    _, _, targets = module._loss(batch)
    assert module.label_smoothing == 0.0 and (targets[rows, ends] == EOS_ID).all()


def test_short_targets_are_learned_exactly(data_root, cache_dir, tmp_path):
    """A tiny model trained through seqlab-train's job on a mini SCAN answers its one- and
    two-action commands exactly (over-long answers were the main job's failure)."""
    from seqlab.generation import DecodingOptions
    from seqlab.generation.text import TextGenerator, load_model
    from seqlab.runs.checkpoints import load_checkpoint

    pairs = mini_scan()
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in pairs))
    results = train_in_process(
        tmp_path / "run", "experiment=scan_gru_attention", "data=pairs_file", "data.format=tsv",
        f"data.path={data}", f"data.splits.val={data}", f"data.splits.test={data}",
        "data.primary_metric=exact_match",
        "size.d_model=48", "loader.batch_size=16", "trainer.max_epochs=30", "optimizer.lr=5e-3",
        "trainer.enable_progress_bar=false", "seed=1",
        "callbacks.early_stopping.stopping_threshold=1.0",  # every command, not the recipe's 99.5 %
        data_root=data_root, cache_dir=cache_dir,
    )  # fmt: skip
    assert results["best"]["monitor"] == "val/exact_match"
    ckpt = load_checkpoint(results["best"]["checkpoint"])
    net, tokenizers, config = load_model(ckpt, results["best"]["checkpoint"])
    greedy = DecodingOptions.from_config({"strategy": "greedy", "max_len_a": 50, "max_len_b": 2.0})
    generate = TextGenerator(net, tokenizers, config["data"]["cleaning"], greedy)
    commands = [s for s, _ in pairs]
    answers = [hyps[0].text for hyps in generate(commands)]
    wrong = [(c, a) for c, a, (_, ref) in zip(commands, answers, pairs, strict=True) if a != ref]
    assert answers[commands.index("jump")] == "I_JUMP"
    assert answers[commands.index("jump twice")] == "I_JUMP I_JUMP"
    assert not wrong, wrong[:5]
    assert np.isclose(results["metrics"]["test/exact_match"], 1.0)
