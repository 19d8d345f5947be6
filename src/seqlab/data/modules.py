"""LightningDataModules: cached id arrays → batches for language modeling and seq2seq."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader

from seqlab.data.batching import (
    BucketBatchSampler,
    PairsDataset,
    RandomWindows,
    SequentialWindows,
    collate_pairs,
)
from seqlab.data.cache import CacheEntry
from seqlab.data.prepare import prepare
from seqlab.data.tokenizers import Tokenizer


class _CachedData(L.LightningDataModule):
    """Shared part: build or reuse the cache entry, expose tokenizers before the model is built."""

    def __init__(
        self,
        data: Mapping,
        tokenizer: Mapping,
        loader: Mapping,
        data_dir: str | Path,
        cache_dir: str | Path,
        seed: int = 0,
        fixed_tokenizers: dict | None = None,
    ):
        super().__init__()
        self.data_cfg, self.tok_cfg, self.loader_cfg = data, tokenizer, loader
        self.data_dir, self.cache_dir, self.seed = data_dir, cache_dir, seed
        self.fixed_tokenizers = fixed_tokenizers
        self.entry: CacheEntry | None = None
        self.tokenizers: dict[str, Tokenizer] = {}

    def prepare_data(self) -> None:
        self._load()

    def setup(self, stage: str | None = None) -> None:
        self._load()

    def _load(self) -> None:
        if self.entry is None:
            self.entry, self.tokenizers = prepare(
                self.data_cfg, self.tok_cfg, self.data_dir, self.cache_dir, self.fixed_tokenizers
            )

    def tokenizer_states(self) -> dict:
        self._load()
        return {role: tok.state() for role, tok in self.tokenizers.items()}

    @property
    def counts(self) -> dict:
        self._load()
        return self.entry.json("meta")["counts"]

    def _loader(self, **kwargs) -> DataLoader:
        workers = int(self.loader_cfg.get("num_workers", 0))
        return DataLoader(num_workers=workers, persistent_workers=workers > 0, **kwargs)


class LMDataModule(_CachedData):
    """One token stream per split; random windows for training, sequential windows to evaluate."""

    def __init__(self, *args, block_size: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.block_size = block_size

    @property
    def tokenizer(self) -> Tokenizer:
        self._load()
        return self.tokenizers["text"]

    def train_dataloader(self) -> DataLoader:
        ids = self.entry.array("train.ids")
        windows = RandomWindows(ids, self.block_size, self.loader_cfg["batch_size"], self.seed)
        return self._loader(dataset=windows, batch_size=None)

    def _eval(self, split: str) -> DataLoader:
        batch = self.loader_cfg.get("eval_batch_size") or self.loader_cfg["batch_size"]
        windows = SequentialWindows(self.entry.array(f"{split}.ids"), self.block_size, batch)
        return self._loader(dataset=windows, batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return self._eval("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval("test")


class Seq2SeqDataModule(_CachedData):
    """(source, target) pairs batched from length buckets under a token budget."""

    def dataset(self, split: str) -> PairsDataset:
        self._load()
        e = self.entry
        return PairsDataset(
            e.array(f"{split}.src"), e.array(f"{split}.src_off"),
            e.array(f"{split}.tgt"), e.array(f"{split}.tgt_off"),
        )  # fmt: skip

    def texts(self, split: str) -> dict[str, list[str]]:
        """Cleaned source and reference texts of an evaluation split, in dataset order."""
        self._load()
        return self.entry.json(f"{split}.text")

    def _pairs_loader(self, split: str, shuffle: bool) -> DataLoader:
        ds, cfg = self.dataset(split), self.loader_cfg
        batch = cfg["batch_size"] if shuffle else cfg.get("eval_batch_size") or cfg["batch_size"]
        sampler = BucketBatchSampler(
            ds.src_lens, ds.tgt_lens, cfg.get("max_tokens"), batch, shuffle=shuffle, seed=self.seed
        )
        return self._loader(dataset=ds, batch_sampler=sampler, collate_fn=collate_pairs)

    def train_dataloader(self) -> DataLoader:
        return self._pairs_loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._pairs_loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._pairs_loader("test", shuffle=False)
