"""Denoising noise functions: rates honoured, seeded, BART's span infilling."""

import numpy as np
import pytest

from seqlab.data.batching import PairsDataset
from seqlab.data.noise import (
    EpochTaggedBatchSampler,
    Noise,
    NoisySources,
    add_noise,
    infill_spans,
    permute_sentences,
    sentence_end_ids,
)
from seqlab.data.tokenizers import MASK_ID, fit_tokenizer
from seqlab.errors import SeqlabError

IDS = np.arange(10, 10010, dtype=np.int32)  # 10,000 distinct non-special tokens


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5])
def test_masking_rate(rate):
    out = add_noise(IDS, Noise(mask=rate), rng())
    assert len(out) == len(IDS)
    assert abs((out == MASK_ID).mean() - rate) < 0.02
    kept = out != MASK_ID
    assert np.array_equal(out[kept], IDS[kept])  # unmasked tokens stay in place


@pytest.mark.parametrize("rate", [0.1, 0.4])
def test_deletion_rate_keeps_order(rate):
    out = add_noise(IDS, Noise(delete=rate), rng())
    assert abs(1 - len(out) / len(IDS) - rate) < 0.02
    assert MASK_ID not in out and np.all(np.diff(out) > 0)  # a subsequence, in order


@pytest.mark.parametrize("rate,lam", [(0.3, 3.0), (0.15, 1.0)])
def test_infilling_covers_rate_with_poisson_spans(rate, lam):
    out = infill_spans(IDS, rate, lam, rng())
    survivors = out[out != MASK_ID]
    covered = len(IDS) - len(survivors)
    assert covered == pytest.approx(rate * len(IDS), abs=0.03 * len(IDS))
    n_masks = int((out == MASK_ID).sum())
    # one <mask> per span: the mean span length is about lambda (overlaps merge a few)
    assert covered / n_masks == pytest.approx(lam, rel=0.25)
    assert np.all(np.diff(survivors) > 0)


def test_zero_rates_are_a_plain_autoencoder():
    assert not Noise().active
    assert np.array_equal(add_noise(IDS, Noise(), rng()), IDS)


def test_sentence_permutation_keeps_every_sentence():
    ends = np.array([7])
    ids = np.array([1, 2, 7, 3, 4, 7, 5, 7, 6, 6, 7])
    seen = {tuple(permute_sentences(ids, ends, rng(s))) for s in range(20)}
    assert len(seen) > 1
    for out in seen:
        assert sorted(out) == sorted(ids.tolist())
        parts = np.split(np.array(out), np.flatnonzero(np.isin(out[:-1], ends)) + 1)
        assert sorted(map(tuple, parts)) == sorted([(1, 2, 7), (3, 4, 7), (5, 7), (6, 6, 7)])


def test_sentence_end_ids_from_a_tokenizer():
    tok = fit_tokenizer(["Stop. Go! Why? fine"], "word")
    ends = {tok.hf.id_to_token(int(i)) for i in sentence_end_ids(tok)}
    assert ends == {".", "!", "?"}


def test_noise_is_seeded_per_epoch_and_example():
    offs = np.array([0, 50, 100])
    pairs = PairsDataset(IDS[:100], offs, IDS[:100], offs)
    ds = NoisySources(pairs, Noise(infill=0.3, mask=0.1), seed=1, ends=np.array([], dtype=int))
    first = ds[(0, 1)][1]
    assert np.array_equal(first, ds[(0, 1)][1])  # same epoch, same example: same noise
    assert not np.array_equal(first, ds[(1, 1)][1])  # a new epoch draws new noise
    assert np.array_equal(ds[1][1], first)  # plain index = the fixed evaluation epoch 0
    other = NoisySources(pairs, ds.noise, seed=2, ends=ds.ends)
    assert not np.array_equal(other[(0, 1)][1], first)
    assert np.array_equal(ds[(3, 0)][2], IDS[:50])  # the target stays clean


def test_epoch_tagged_sampler_tags_each_pass():
    lens = np.full(8, 3)
    sampler = EpochTaggedBatchSampler(lens, lens, None, 4, shuffle=True, seed=0)
    first, second = list(sampler), list(sampler)
    assert {e for b in first for e, _ in b} == {0} and {e for b in second for e, _ in b} == {1}
    assert sorted(i for b in first for _, i in b) == list(range(8))


@pytest.mark.parametrize(
    "cfg,key",
    [({"mask": 1.5}, "task.noise.mask"), ({"blank": 0.1}, "task.noise.blank")],
)
def test_bad_noise_config_names_the_key(cfg, key):
    with pytest.raises(SeqlabError, match=key):
        Noise.from_config(cfg)
