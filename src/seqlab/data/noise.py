"""BART-style noise on source token ids, for the denoising-autoencoder task.

Noise is drawn fresh for every (epoch, example) from a generator seeded by (seed, epoch, index), so
a run is reproducible, a resumed run sees the same noise, and worker processes need no shared state.
Evaluation splits use one fixed epoch: their noisy inputs are the same at every validation.

Order (as in BART): sentence permutation, then token masking / deletion on the original tokens,
then span infilling on the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from seqlab.data.batching import BucketBatchSampler, PairsDataset
from seqlab.data.tokenizers import MASK_ID, Tokenizer
from seqlab.errors import SeqlabError

SENTENCE_END = (".", "!", "?")


@dataclass(frozen=True)
class Noise:
    """Rates of each noise function; all zero = a plain reconstruction autoencoder.

    Args:
        mask: share of tokens replaced by <mask>.
        delete: share of tokens deleted.
        infill: share of tokens covered by spans, each span replaced by one <mask>.
        poisson_lambda: mean span length for infilling (length-0 spans insert a <mask>).
        permute: probability that an example's sentences are shuffled.
    """

    mask: float = 0.0
    delete: float = 0.0
    infill: float = 0.0
    poisson_lambda: float = 3.0
    permute: float = 0.0

    @classmethod
    def from_config(cls, cfg: dict | None) -> Noise:
        cfg = dict(cfg or {})
        names = {f.name for f in fields(cls)}
        for key, value in cfg.items():
            if key not in names:
                raise SeqlabError(
                    f"unknown config key 'task.noise.{key}'; valid: {', '.join(sorted(names))}"
                )
            if key != "poisson_lambda" and not 0.0 <= float(value) <= 1.0:
                raise SeqlabError(f"config key 'task.noise.{key}': {value} must be in [0, 1]")
        noise = cls(**{k: float(v) for k, v in cfg.items()})
        if noise.mask + noise.delete > 1.0:
            raise SeqlabError("task.noise.mask + task.noise.delete must be at most 1")
        if noise.poisson_lambda <= 0:
            raise SeqlabError("config key 'task.noise.poisson_lambda' must be > 0")
        return noise

    @property
    def active(self) -> bool:
        return any((self.mask, self.delete, self.infill, self.permute))


def sentence_end_ids(tokenizer: Tokenizer) -> np.ndarray:
    """Ids of tokens that end a sentence (their text ends with . ! or ?), for permutation."""
    ids = [i for tok, i in tokenizer.hf.get_vocab().items() if tok.rstrip().endswith(SENTENCE_END)]
    return np.array(sorted(ids), dtype=np.int64)


def permute_sentences(ids: np.ndarray, ends: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle the sentences of ``ids`` (a sentence ends after a token in ``ends``)."""
    cuts = np.flatnonzero(np.isin(ids[:-1], ends)) + 1
    if len(cuts) == 0:
        return ids
    sentences = np.split(ids, cuts)
    return np.concatenate([sentences[i] for i in rng.permutation(len(sentences))])


def infill_spans(ids: np.ndarray, rate: float, lam: float, rng: np.random.Generator) -> np.ndarray:
    """Replace spans (lengths ~ Poisson(lam)) covering ``rate`` of the tokens by one <mask> each."""
    n = len(ids)
    budget = int(round(n * rate))
    if budget == 0 or n == 0:
        return ids
    lengths: list[int] = []
    covered = 0
    while covered < budget and len(lengths) < n:
        length = min(int(rng.poisson(lam)), budget - covered)
        lengths.append(length)
        covered += length
    # Spans never overlap: place the spans among the uncovered tokens (k markers in m + k slots).
    k, m = len(lengths), n - covered
    marker = np.zeros(m + k, dtype=bool)
    marker[rng.choice(m + k, size=k, replace=False)] = True
    out: list[int] = []
    tokens, pos, span = ids.tolist(), 0, 0
    for is_span in marker.tolist():
        if is_span:
            out.append(MASK_ID)
            pos += lengths[span]
            span += 1
        else:
            out.append(tokens[pos])
            pos += 1
    return np.asarray(out, dtype=ids.dtype)


def add_noise(
    ids: np.ndarray, noise: Noise, rng: np.random.Generator, ends: np.ndarray | None = None
) -> np.ndarray:
    """A noisy copy of one example's token ids."""
    if noise.permute and ends is not None and len(ends) and rng.random() < noise.permute:
        ids = permute_sentences(ids, ends, rng)
    if noise.mask or noise.delete:
        u = rng.random(len(ids))
        ids = np.where(u < noise.mask, MASK_ID, ids).astype(ids.dtype)
        ids = ids[~((u >= noise.mask) & (u < noise.mask + noise.delete))]
    if noise.infill:
        ids = infill_spans(ids, noise.infill, noise.poisson_lambda, rng)
    return ids


class NoisySources(torch.utils.data.Dataset):
    """Pairs whose source is noised; indexed by ``i`` (fixed epoch) or ``(epoch, i)``.

    Args:
        pairs: the clean pairs (for denoising, source == target).
        noise: the noise rates.
        seed: run seed.
        ends: sentence-end token ids (for permutation).
        fixed_epoch: epoch used for plain integer indices (evaluation).
    """

    def __init__(
        self, pairs: PairsDataset, noise: Noise, seed: int, ends: np.ndarray, fixed_epoch: int = 0
    ):
        self.pairs, self.noise, self.seed, self.ends = pairs, noise, seed, ends
        self.fixed_epoch = fixed_epoch

    @property
    def src_lens(self) -> np.ndarray:
        return self.pairs.src_lens

    @property
    def tgt_lens(self) -> np.ndarray:
        return self.pairs.tgt_lens

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: int | Sequence[int]) -> tuple[int, np.ndarray, np.ndarray]:
        epoch, i = (self.fixed_epoch, key) if isinstance(key, (int, np.integer)) else key
        index, src, tgt = self.pairs[i]
        rng = np.random.default_rng([self.seed, epoch, int(i)])
        return index, add_noise(src, self.noise, rng, self.ends), tgt


class EpochTaggedBatchSampler(BucketBatchSampler):
    """Yields ``(epoch, index)`` keys so a dataset can draw per-epoch randomness in any process."""

    def __iter__(self):
        epoch = self.epoch
        for batch in super().__iter__():
            yield [(epoch, i) for i in batch]
