"""Batching: token budgets, padding, masks, rank splits, LM windows."""

import numpy as np
import torch

from seqlab.data.batching import (
    BucketBatchSampler,
    PairsDataset,
    RandomWindows,
    SequentialWindows,
    collate_pairs,
)
from seqlab.data.cache import pack
from seqlab.data.tokenizers import BOS_ID, EOS_ID, PAD_ID


def lengths(n=500, seed=0):
    """Correlated source/target lengths, as in real parallel text."""
    rng = np.random.default_rng(seed)
    src = rng.integers(1, 40, n)
    return src, np.maximum(1, (src * 1.3 + rng.integers(-4, 5, n)).astype(int))


def test_buckets_respect_the_token_budget_and_cover_every_example_once():
    src, tgt = lengths()
    sampler = BucketBatchSampler(src, tgt, max_tokens=600, max_sentences=64, shuffle=True, seed=1)
    batches = list(sampler)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(500))
    for b in batches:
        width = max(max(src[b]), max(tgt[b])) + 2
        assert len(b) <= 64 and (len(b) * width <= 600 or len(b) == 1)


def test_buckets_reduce_padding_compared_with_random_batches():
    src, tgt = lengths(2000)

    def padding(batches):
        real = sum(src[b].sum() + tgt[b].sum() for b in batches)
        padded = sum(len(b) * (src[b].max() + tgt[b].max()) for b in batches)
        return 1 - real / padded

    bucketed = list(BucketBatchSampler(src, tgt, None, 32, shuffle=True))
    order = np.random.default_rng(0).permutation(2000)
    random = [order[i : i + 32] for i in range(0, 2000, 32)]
    assert padding(bucketed) < padding(random) / 2


def test_buckets_by_target_length_pad_targets_less():
    # SCAN-like: short sources, targets whose lengths vary a lot for one source length.
    rng = np.random.default_rng(0)
    src, tgt = rng.integers(1, 10, 3000), rng.integers(1, 49, 3000)

    def decoder_steps(by):
        batches = list(BucketBatchSampler(src, tgt, 800, 64, True, seed=2, pool=16, by=by))
        assert sorted(i for b in batches for i in b) == list(range(3000))
        for b in batches:
            assert len(b) * (max(src[b].max(), tgt[b].max()) + 2) <= 800 or len(b) == 1
        return sum(tgt[b].max() for b in batches)

    assert decoder_steps("target") < 0.8 * decoder_steps("source")


def test_epochs_reshuffle_deterministically():
    src, tgt = lengths()
    a = BucketBatchSampler(src, tgt, 600, 64, shuffle=True, seed=3)
    b = BucketBatchSampler(src, tgt, 600, 64, shuffle=True, seed=3)
    first_a, first_b = list(a), list(b)
    assert first_a == first_b and list(a) != first_a  # epoch 2 differs from epoch 1


def test_collate_adds_bos_eos_and_pads():
    src, src_off = pack([np.array([7, 8, 9]), np.array([7])])
    tgt, tgt_off = pack([np.array([5]), np.array([5, 6, 7])])
    ds = PairsDataset(src, src_off, tgt, tgt_off)
    batch = collate_pairs([ds[0], ds[1]])
    assert batch["src"].tolist() == [[7, 8, 9, EOS_ID], [7, EOS_ID, PAD_ID, PAD_ID]]
    assert batch["tgt"].tolist() == [[BOS_ID, 5, EOS_ID, PAD_ID, PAD_ID], [BOS_ID, 5, 6, 7, EOS_ID]]
    assert batch["src_lengths"].tolist() == [4, 2] and batch["index"].tolist() == [0, 1]


def test_random_windows_are_shifted_by_one():
    ids = np.arange(1000, dtype=np.uint16)
    x, y = next(iter(RandomWindows(ids, block_size=16, batch_size=4, seed=0)))
    assert x.shape == (4, 16) and x.dtype == torch.int64
    assert torch.equal(y, x + 1)


def test_sequential_windows_cover_the_split_once():
    ids = np.arange(101)
    windows = SequentialWindows(ids, block_size=10, batch_size=3)
    xs = torch.cat([windows[i][0] for i in range(len(windows))])
    assert xs.flatten().tolist() == list(range(100))


def test_collate_cuts_sources_from_the_chosen_end():
    items = [(0, np.arange(10, 20, dtype=np.int32), np.array([5], dtype=np.int32))]
    first = collate_pairs(items, max_src_len=3)["src"][0].tolist()
    last = collate_pairs(items, max_src_len=3, keep_src="last")["src"][0].tolist()
    assert first == [10, 11, 12, EOS_ID] and last == [17, 18, 19, EOS_ID]


def test_training_batches_change_company_every_epoch():
    """The rare shortest examples must not share one batch every epoch (as in a whole-dataset
    sort, where SCAN's few one- and two-word commands were always trained together)."""
    rng = np.random.default_rng(0)
    src = np.concatenate([np.full(10, 1), rng.integers(5, 40, 2000)])
    tgt = src + 2
    pooled = BucketBatchSampler(src, tgt, None, 32, shuffle=True, seed=0, pool=8)
    whole = BucketBatchSampler(src, tgt, None, 32, shuffle=True, seed=0, pool=None)

    def shortest_together(sampler) -> list[bool]:
        return [
            any(set(range(10)) <= set(b) for b in sampler._batches(epoch)) for epoch in range(5)
        ]

    assert shortest_together(whole) == [True] * 5
    assert not any(shortest_together(pooled))
    for epoch in range(3):  # still every example once, and little padding
        batches = pooled._batches(epoch)
        assert sorted(i for b in batches for i in b) == list(range(len(src)))
    padded = sum(len(b) * src[b].max() for b in pooled._batches(0))
    assert padded < 1.15 * src.sum()
