"""LightningDataModules: cached id arrays → batches for language modeling and seq2seq."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from seqlab.data.batching import (
    BucketBatchSampler,
    PairsDataset,
    RandomWindows,
    SequentialWindows,
    collate_pairs,
)
from seqlab.data.cache import CacheEntry
from seqlab.data.noise import EpochTaggedBatchSampler, Noise, NoisySources, sentence_end_ids
from seqlab.data.prefix import collate_prefix, count_truncated
from seqlab.data.prepare import prepare
from seqlab.data.tokenizers import Tokenizer
from seqlab.errors import SeqlabError

log = logging.getLogger(__name__)


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
        layout: str = "auto",
    ):
        super().__init__()
        self.data_cfg, self.tok_cfg, self.loader_cfg = data, tokenizer, loader
        self.data_dir, self.cache_dir, self.seed = data_dir, cache_dir, seed
        self.fixed_tokenizers, self.layout = fixed_tokenizers, layout
        self.entry: CacheEntry | None = None
        self.tokenizers: dict[str, Tokenizer] = {}
        # (epoch, batches already trained) where the first training pass starts; a resumed run
        # sets it (seqlab.callbacks.exact_resume.ExactResume) to continue mid-epoch with the same batches.
        self.train_start: tuple[int, int] = (0, 0)

    def prepare_data(self) -> None:
        self._load()

    def setup(self, stage: str | None = None) -> None:
        self._load()

    def _load(self) -> None:
        if self.entry is None:
            self.entry, self.tokenizers = prepare(
                self.data_cfg,
                self.tok_cfg,
                self.data_dir,
                self.cache_dir,
                self.fixed_tokenizers,
                layout=self.layout,
            )

    def tokenizer_states(self) -> dict:
        self._load()
        return {role: tok.state() for role, tok in self.tokenizers.items()}

    @property
    def data_fingerprint(self) -> str:
        """The examples' fingerprint (data settings and file contents), kept in checkpoints."""
        self._load()
        return self.entry.json("meta")["data_fingerprint"]

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

    def prepare_data(self) -> None:
        super().prepare_data()
        self.check_lengths()

    def check_lengths(self) -> None:
        """Every split holds at least one window of block_size + 1 tokens (training: two, so a
        window can start at more than one place)."""
        for split, extra in (("train", 2), ("val", 1), ("test", 1)):
            n = len(self.entry.array(f"{split}.ids"))
            if n < self.block_size + extra:
                raise SeqlabError(
                    f"the {split} split has {n:,} tokens, fewer than one window of "
                    f"task.block_size={self.block_size} (+{extra}); use a longer text or a "
                    "smaller task.block_size"
                )

    def train_dataloader(self) -> DataLoader:
        ids = self.entry.array("train.ids")
        windows = RandomWindows(ids, self.block_size, self.loader_cfg["batch_size"], self.seed)
        windows.epoch, windows.skip = self.train_start
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
    """(source, target) pairs batched from length buckets under a token budget.

    Args:
        noise: denoising: noise drawn on every source (fresh per training epoch, fixed for
            evaluation), None = the pairs as they are.
        prefix_block_size: decoder-only models: batches also carry the prefix-LM view
            (``source <sep> target``) cut to this context; None = encoder–decoder batches only.
        prefix: build the prefix-LM view at all.
        max_src_len: encoder–decoders: keep at most this many source tokens ...
        keep_src: ... the "first" or the "last" ones.
    """

    def __init__(
        self,
        *args,
        noise: Noise | None = None,
        prefix: bool = False,
        prefix_block_size: int | None = None,
        max_src_len: int | None = None,
        keep_src: str = "first",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.noise = noise if noise is not None and noise.active else None
        self.max_src_len, self.keep_src = max_src_len, keep_src
        self.prefix, self.prefix_block_size = prefix, prefix_block_size
        self._warned = False

    def dataset(self, split: str) -> PairsDataset | NoisySources:
        self._load()
        e = self.entry
        pairs = PairsDataset(
            e.array(f"{split}.src"), e.array(f"{split}.src_off"),
            e.array(f"{split}.tgt"), e.array(f"{split}.tgt_off"),
        )  # fmt: skip
        if self.noise is None:
            return pairs
        ends = sentence_end_ids(self.tokenizers["src"])
        return NoisySources(pairs, self.noise, self.seed, ends)

    def texts(self, split: str) -> dict[str, list[str]]:
        """Cleaned source and reference texts of an evaluation split, in dataset order."""
        self._load()
        return self.entry.json(f"{split}.text")

    def longest(self, split: str) -> tuple[int, int]:
        """(source, target) tokens of the longest batch rows of a split, specials included."""
        ds = self.dataset(split)
        src = int(ds.src_lens.max(initial=0))
        if self.max_src_len is not None:
            src = min(src, self.max_src_len)
        return src + 1, int(ds.tgt_lens.max(initial=0)) + 2

    def _pairs_loader(self, split: str, shuffle: bool) -> DataLoader:
        ds, cfg = self.dataset(split), self.loader_cfg
        batch = cfg["batch_size"] if shuffle else cfg.get("eval_batch_size") or cfg["batch_size"]
        # Training noise changes every epoch: the sampler tells the dataset which epoch it is.
        sampler_type = EpochTaggedBatchSampler if shuffle and self.noise else BucketBatchSampler
        sampler = sampler_type(
            ds.src_lens, ds.tgt_lens, cfg.get("max_tokens"), batch, shuffle=shuffle,
            seed=self.seed, pool=cfg.get("bucket_pool"), by=cfg.get("bucket_by") or "source",
        )  # fmt: skip
        if shuffle:  # training
            sampler.epoch, sampler.skip = self.train_start
        collate = partial(collate_pairs, max_src_len=self.max_src_len, keep_src=self.keep_src)
        if self.prefix:
            collate = partial(
                collate_prefix, block_size=self.prefix_block_size, keep_src=self.keep_src
            )
            if shuffle:
                self._warn_truncation(ds)
        return self._loader(dataset=ds, batch_sampler=sampler, collate_fn=collate)

    def _warn_truncation(self, ds) -> None:
        cut = count_truncated(ds.src_lens, ds.tgt_lens, self.prefix_block_size)
        if cut and not self._warned:
            log.warning(
                "%d of %d training pairs exceed task.block_size=%d as source <sep> target; their "
                "sources keep their %s tokens (task.keep_src; raise task.block_size to keep them whole)",
                cut, len(ds), self.prefix_block_size, self.keep_src,
            )  # fmt: skip
            self._warned = True

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        """Keeps the collated source lengths on the host too (``src_lengths_host``): the GRU
        encoder packs with them, where counting them on a GPU would sync every step."""
        host = batch.get("src_lengths") if isinstance(batch, dict) else None
        batch = super().transfer_batch_to_device(batch, device, dataloader_idx)
        if host is not None:
            batch["src_lengths_host"] = host
        return batch

    def train_dataloader(self) -> DataLoader:
        return self._pairs_loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._pairs_loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._pairs_loader("test", shuffle=False)
