"""Pairs as prefix language modeling for decoder-only models: ``source <sep> target <eos>``.

The loss covers the target and its <eos> only; generation continues after <sep>. A sequence longer
than the model's context loses source tokens from the left (the end of a source, next to <sep>,
is what the target follows: the question in QA, the latest words in dialogue), then target tokens
from the right if the target alone does not fit.
"""

from __future__ import annotations

import numpy as np
import torch

from seqlab.data.batching import collate_pairs
from seqlab.data.tokenizers import EOS_ID, PAD_ID, SEP_ID


def cut_source(src: np.ndarray, n: int, keep_src: str) -> np.ndarray:
    """At most ``n`` source tokens: the ``first`` ones (a document's opening) or the ``last`` ones
    (a question at the end of a story)."""
    if n >= len(src):
        return src
    return src[:n] if keep_src == "first" else src[len(src) - n :]


def fit_to_context(
    src: np.ndarray, tgt: np.ndarray, block_size: int | None, keep_src: str = "last"
) -> tuple[np.ndarray, np.ndarray]:
    """Cut (source, target) so ``source <sep> target <eos>`` has at most block_size + 1 tokens;
    the target is kept whole where it fits, the source gives way (``keep_src`` says which end)."""
    if block_size is None:
        return src, tgt
    room = block_size + 1 - 2  # <sep> and <eos>
    tgt = tgt[: max(room - 1, 0)]  # keep at least one source token
    return cut_source(src, max(room - len(tgt), 0), keep_src), tgt


def count_truncated(src_lens: np.ndarray, tgt_lens: np.ndarray, block_size: int | None) -> int:
    """How many examples ``fit_to_context`` shortens."""
    if block_size is None:
        return 0
    return int((src_lens + tgt_lens + 2 > block_size + 1).sum())


def collate_prefix(
    items: list, block_size: int | None, keep_src: str = "last"
) -> dict[str, torch.Tensor]:
    """``collate_pairs`` plus the LM view: x, y (PAD where no loss), prompt (source <sep>).
    Sources too long for ``block_size`` keep their ``keep_src`` end (first | last).

    Returns:
        everything ``collate_pairs`` returns, and x (B, L), y (B, L), prompt (B, P) right-padded
        with prompt_lengths (B,).
    """
    batch = collate_pairs(items)
    fitted = [fit_to_context(s, t, block_size, keep_src) for _, s, t in items]
    width = max(len(s) + len(t) + 1 for s, t in fitted)
    x = np.full((len(items), width), PAD_ID, dtype=np.int64)
    y = np.full((len(items), width), PAD_ID, dtype=np.int64)
    for row, (s, t) in enumerate(fitted):
        seq = np.concatenate([s, [SEP_ID], t, [EOS_ID]])
        x[row, : len(seq) - 1] = seq[:-1]
        y[row, len(s) : len(seq) - 1] = seq[len(s) + 1 :]
    # Prompts do not depend on the reference's length: as much of the source as fits.
    sources = [
        s if block_size is None else cut_source(s, block_size - 1, keep_src) for _, s, _ in items
    ]
    prompt_lens = np.array([len(s) + 1 for s in sources])
    prompt = np.full((len(items), prompt_lens.max()), PAD_ID, dtype=np.int64)
    for row, s in enumerate(sources):
        prompt[row, : len(s)] = s
        prompt[row, len(s)] = SEP_ID
    batch.update(
        x=torch.from_numpy(x),
        y=torch.from_numpy(y),
        prompt=torch.from_numpy(prompt),
        prompt_lengths=torch.from_numpy(prompt_lens),
    )
    return batch
