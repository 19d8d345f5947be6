"""Batches from cached id arrays: length buckets under a token budget (seq2seq), windows (LM).

Samplers own their rank split, so multi-process training needs no DistributedSampler and every rank
sees the same number of batches. Randomness comes from (seed, epoch), so a run is reproducible and a
resumed run can skip ahead to the batch it stopped at.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.distributed as dist

from seqlab.data.tokenizers import BOS_ID, EOS_ID, PAD_ID


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class BucketBatchSampler:
    """Groups examples of similar length so padding stays small, under a token budget.

    Each batch holds at most ``max_sentences`` examples and at most ``max_tokens`` padded tokens
    (source and target counted separately, the larger of the two decides).

    Training batches (``shuffle``) are cut from pools: every epoch the examples are shuffled, split
    into pools of ``pool`` batches' worth of examples, and each pool is sorted by length before
    it is cut. Sorting the whole dataset instead (``pool=None``, fairseq's way) pads least, but
    puts every example in the same company every epoch: on SCAN the few shortest commands always
    shared one batch and stayed unlearned (experiments/scan/README.md). Evaluation batches sort
    the whole split. ``by="target"`` sorts by target length first: a recurrent decoder's loop
    runs over the longest target of its batch, so that is the length worth matching.
    """

    def __init__(
        self,
        src_lens: np.ndarray,
        tgt_lens: np.ndarray,
        max_tokens: int | None,
        max_sentences: int,
        shuffle: bool,
        seed: int = 0,
        pool: int | None = None,
        by: str = "source",
    ):
        self.src_lens, self.tgt_lens = np.asarray(src_lens), np.asarray(tgt_lens)
        # Sort keys, last one primary (np.lexsort's order).
        self.keys = (
            (self.tgt_lens, self.src_lens) if by == "source" else (self.src_lens, self.tgt_lens)
        )
        self.max_tokens, self.max_sentences = max_tokens, max_sentences
        self.shuffle, self.seed, self.epoch, self.pool = shuffle, seed, 0, pool
        self.skip = 0  # batches already consumed this epoch (set on resume)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _cut(self, order: np.ndarray) -> list[np.ndarray]:
        """Consecutive batches of ``order`` (sorted by length) under the size limits."""
        batches, start, n = [], 0, len(order)
        while start < n:
            end = min(start + self.max_sentences, n)
            if self.max_tokens:
                # Lengths grow along `order`, so the padded size of order[start:k] is
                # (k - start) * max length in it; find the largest k that fits the budget.
                longest = np.maximum(
                    self.src_lens[order[start:end]], self.tgt_lens[order[start:end]]
                )
                width = np.maximum.accumulate(longest + 2)
                fits = np.flatnonzero(width * np.arange(1, len(width) + 1) <= self.max_tokens)
                end = start + (int(fits[-1]) + 1 if len(fits) else 1)
            batches.append(order[start:end])
            start = end
        return batches

    def _by_length(self, index: np.ndarray) -> np.ndarray:
        """``index`` sorted by source, then target length (``by="target"``: the other way round);
        ties keep their order (stable)."""
        return index[np.lexsort(tuple(key[index] for key in self.keys))]

    def _batches(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        n = len(self.src_lens)
        if not self.shuffle:
            batches = self._cut(self._by_length(np.arange(n)))
        else:
            # Shuffled first, so equal lengths fall in a new order (and pools) every epoch.
            order = rng.permutation(n)
            size = n if self.pool is None else self.pool * self.max_sentences
            batches = [
                b
                for start in range(0, n, size)
                for b in self._cut(self._by_length(order[start : start + size]))
            ]
            batches = [batches[i] for i in rng.permutation(len(batches))]
        rank, world = _rank_world()
        per_rank = math.ceil(len(batches) / world)
        batches = (batches * 2)[: per_rank * world]  # equal counts on every rank
        return batches[rank::world]

    def __iter__(self) -> Iterator[list[int]]:
        # Each pass is a new epoch (Lightning does not call set_epoch on batch samplers).
        batches, self.epoch = self._batches(self.epoch)[self.skip :], self.epoch + 1
        self.skip = 0
        for b in batches:
            yield b.tolist()

    def __len__(self) -> int:
        return len(self._batches(self.epoch))


class PairsDataset(torch.utils.data.Dataset):
    """Index → (source ids, target ids) views into the cached flat arrays."""

    def __init__(self, src: np.ndarray, src_off: np.ndarray, tgt: np.ndarray, tgt_off: np.ndarray):
        self.src, self.src_off, self.tgt, self.tgt_off = src, src_off, tgt, tgt_off

    @property
    def src_lens(self) -> np.ndarray:
        return np.diff(self.src_off)

    @property
    def tgt_lens(self) -> np.ndarray:
        return np.diff(self.tgt_off)

    def __len__(self) -> int:
        return len(self.src_off) - 1

    def __getitem__(self, i: int) -> tuple[int, np.ndarray, np.ndarray]:
        s, t = self.src_off, self.tgt_off
        return i, self.src[s[i] : s[i + 1]], self.tgt[t[i] : t[i + 1]]


def collate_pairs(
    items: list[tuple[int, np.ndarray, np.ndarray]],
    max_src_len: int | None = None,
    keep_src: str = "first",
) -> dict[str, torch.Tensor]:
    """Pad a batch: src = ids + eos, tgt = bos + ids + eos; pad id fills the rest.

    Args:
        max_src_len: keep at most this many source tokens (None = all).
        keep_src: which ones: "first" (summarization: the start of a document) or "last" (QA:
            the question ends the source).

    Returns:
        src (B, S), tgt (B, T) long tensors, src_lengths / tgt_lengths (B,) and the example index (B,).
    """
    if max_src_len is not None:
        cut = (lambda s: s[:max_src_len]) if keep_src == "first" else (lambda s: s[-max_src_len:])
        items = [(i, cut(s), t) for i, s, t in items]
    src_lens = np.array([len(s) + 1 for _, s, _ in items])
    tgt_lens = np.array([len(t) + 2 for _, _, t in items])
    src = np.full((len(items), src_lens.max()), PAD_ID, dtype=np.int64)
    tgt = np.full((len(items), tgt_lens.max()), PAD_ID, dtype=np.int64)
    for row, (_, s, t) in enumerate(items):
        src[row, : len(s)] = s
        tgt[row, 1 : len(t) + 1] = t
    rows = np.arange(len(items))
    src[rows, src_lens - 1] = EOS_ID
    tgt[:, 0] = BOS_ID
    tgt[rows, tgt_lens - 1] = EOS_ID
    return {
        "src": torch.from_numpy(src),
        "tgt": torch.from_numpy(tgt),
        "src_lengths": torch.from_numpy(src_lens),
        "tgt_lengths": torch.from_numpy(tgt_lens),
        "index": torch.tensor([i for i, _, _ in items]),
    }


class RandomWindows(torch.utils.data.IterableDataset):
    """nanoGPT-style LM batches: `batch_size` random windows of `block_size + 1` tokens.

    Yields whole batches (x, y) built with one fancy-indexing gather, so the DataLoader does no
    per-sample work. An epoch is `len(ids) // (batch_size * block_size)` batches.
    """

    def __init__(self, ids: np.ndarray, block_size: int, batch_size: int, seed: int = 0):
        self.ids, self.block_size, self.batch_size = ids, block_size, batch_size
        self.seed, self.epoch, self.skip = seed, 0, 0
        self.offsets = np.arange(block_size + 1)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(1, len(self.ids) // (self.batch_size * self.block_size))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rank, world = _rank_world()
        rng = np.random.default_rng([self.seed, self.epoch, rank])
        self.epoch += 1  # each pass is a new epoch
        starts = rng.integers(0, len(self.ids) - self.block_size - 1, (len(self), self.batch_size))
        # Skip only once, even when a pass is cut short (limit_train_batches).
        starts, self.skip = starts[self.skip :], 0
        for row in starts:
            chunk = torch.from_numpy(self.ids[row[:, None] + self.offsets].astype(np.int64))
            yield chunk[:, :-1], chunk[:, 1:]


class SequentialWindows(torch.utils.data.Dataset):
    """Evaluation batches: consecutive non-overlapping windows covering the whole split once."""

    def __init__(self, ids: np.ndarray, block_size: int, batch_size: int):
        n_windows = (len(ids) - 1) // block_size
        usable = n_windows * block_size
        self.x = np.asarray(ids[:usable]).reshape(n_windows, block_size)
        self.y = np.asarray(ids[1 : usable + 1]).reshape(n_windows, block_size)
        self.batch_size = batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        x = torch.from_numpy(self.x[rows].astype(np.int64))
        return x, torch.from_numpy(self.y[rows].astype(np.int64))
