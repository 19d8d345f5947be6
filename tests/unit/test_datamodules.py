"""Dataset configs read the real files under the data root; DataModules yield correct batches."""

import pytest
import torch
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from seqlab.data.datasets import load_splits
from seqlab.data.modules import LMDataModule, Seq2SeqDataModule
from seqlab.data.tokenizers import PAD_ID

LOADER = {"batch_size": 32, "eval_batch_size": None, "max_tokens": 800, "num_workers": 0}


def data_cfg(name: str, *overrides: str):
    with initialize_config_module("seqlab.conf", version_base="1.3"):
        cfg = compose("train", [f"data={name}", *overrides, "paths.output_dir=/tmp/x"])
    return cfg.data, cfg.tokenizer


@pytest.mark.parametrize("split,train,test", [("simple", 16728, 4182), ("length", 16990, 3920),
                                              ("addprim_jump", 14670, 7706)])  # fmt: skip
def test_scan_files_splits(data_root, split, train, test):
    data, _ = data_cfg("scan_files", f"data.split={split}")
    splits = load_splits(OmegaConf.to_container(data, resolve=True), data_root)
    assert len(splits["train"]) + len(splits["val"]) == train and len(splits["test"]) == test


def test_tinyshakespeare_is_split_90_10_like_nanogpt(data_root):
    data, _ = data_cfg("tinyshakespeare")
    splits = load_splits(OmegaConf.to_container(data, resolve=True), data_root)
    assert len(splits["train"]) == int(1115394 * 0.9)
    assert splits["train"] + splits["val"] == (data_root / "tinyshakespeare/input.txt").read_text()
    assert splits["test"] == splits["val"]


@pytest.mark.parametrize("src,tgt", [("de", "en"), ("en", "de")])
def test_multi30k_direction(data_root, src, tgt):
    data, _ = data_cfg("multi30k", f"data.src_lang={src}", f"data.tgt_lang={tgt}")
    splits = load_splits(OmegaConf.to_container(data, resolve=True), data_root)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [29000, 1014, 1000]
    first_en = (data_root / "multi30k/train.en").read_text().splitlines()[0]
    assert (splits["train"][0][1] if tgt == "en" else splits["train"][0][0]) == first_en


def test_seq2seq_datamodule_batches(data_root, cache_dir):
    data, tok = data_cfg("scan")
    dm = Seq2SeqDataModule(data, tok, LOADER, data_root, cache_dir, seed=0)
    dm.prepare_data()
    batch = next(iter(dm.train_dataloader()))
    assert batch["src"].dtype == torch.int64 and batch["src"].size(0) <= 32
    assert batch["src"].numel() <= 800 and batch["tgt"].numel() <= 800
    real = batch["src"] != PAD_ID
    assert real.sum(1).tolist() == batch["src_lengths"].tolist()
    texts = dm.texts("test")
    assert len(texts["tgt"]) == 4182 and texts["tgt"][0].startswith("I_")


def test_lm_datamodule_windows(data_root, cache_dir):
    data, tok = data_cfg("tinyshakespeare", "tokenizer=char")
    dm = LMDataModule(data, tok, {**LOADER, "batch_size": 12}, data_root, cache_dir, block_size=64)
    dm.prepare_data()
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (12, 64) and torch.equal(x[:, 1:], y[:, :-1])
    assert dm.tokenizer.vocab_size == 65 + 6  # 65 characters + 6 special tokens
    val = dm.val_dataloader()
    assert sum(b[0].numel() for b in val) == (len(dm.entry.array("val.ids")) - 1) // 64 * 64
