"""Prefix-LM batches: source <sep> target <eos>, loss on the target only, context cuts."""

import numpy as np

from seqlab.data.prefix import collate_prefix, count_truncated, fit_to_context
from seqlab.data.tokenizers import EOS_ID, PAD_ID, SEP_ID


def item(i, src, tgt):
    return i, np.array(src, dtype=np.int32), np.array(tgt, dtype=np.int32)


def test_sequence_layout_and_loss_mask():
    batch = collate_prefix([item(0, [10, 11, 12], [20, 21]), item(1, [13], [22])], None)
    assert batch["x"][0].tolist() == [10, 11, 12, SEP_ID, 20, 21]
    assert batch["y"][0].tolist() == [PAD_ID, PAD_ID, PAD_ID, 20, 21, EOS_ID]
    assert batch["x"][1].tolist() == [13, SEP_ID, 22, PAD_ID, PAD_ID, PAD_ID]
    assert batch["y"][1].tolist() == [PAD_ID, 22, EOS_ID, PAD_ID, PAD_ID, PAD_ID]
    assert batch["prompt"].tolist() == [[10, 11, 12, SEP_ID], [13, SEP_ID, PAD_ID, PAD_ID]]
    assert batch["prompt_lengths"].tolist() == [4, 2]
    assert batch["tgt"][0].tolist()[1:4] == [20, 21, EOS_ID]  # the seq2seq view rides along


def test_long_pairs_lose_source_from_the_left():
    src, tgt = np.arange(100, 120), np.arange(200, 205)
    s, t = fit_to_context(src, tgt, block_size=12)
    assert len(s) + len(t) + 2 == 13 and np.array_equal(t, tgt)
    assert np.array_equal(s, src[-6:])
    s, t = fit_to_context(src[:3], np.arange(200, 240), block_size=12)
    assert len(s) >= 1 and len(s) + len(t) + 2 == 13
    assert count_truncated(np.array([20, 3, 2]), np.array([5, 40, 2]), 12) == 2


def test_summaries_keep_the_start_of_a_long_source():
    src, tgt = np.arange(100, 120), np.arange(200, 205)
    s, t = fit_to_context(src, tgt, block_size=12, keep_src="first")
    assert np.array_equal(s, src[:6]) and np.array_equal(t, tgt)
    batch = collate_prefix([item(0, src, tgt)], 12, keep_src="first")
    assert batch["prompt"][0].tolist() == [*range(100, 111), SEP_ID]
    assert batch["x"][0].tolist()[:7] == [*range(100, 106), SEP_ID]


def test_prompts_do_not_depend_on_the_reference():
    a = collate_prefix([item(0, list(range(10, 30)), [5] * 3)], 12)
    b = collate_prefix([item(0, list(range(10, 30)), [5] * 9)], 12)
    assert a["prompt"].tolist() == b["prompt"].tolist()
    assert a["prompt"].size(1) == 12 and a["prompt"][0, -1] == SEP_ID
