"""Tokenizers: round trips, special ids, fitted on train only, JSON state."""

import numpy as np
import pytest

from seqlab.data.tokenizers import (
    BOS_ID,
    EOS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    UNK_ID,
    Tokenizer,
    check_same_tokenizer,
    fit_tokenizer,
)
from seqlab.errors import SeqlabError

TEXTS = ["the cat sat on the mat.", "a dog ran", "First Citizen:\nBefore we proceed"]


@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_special_tokens_have_fixed_ids(kind):
    tok = fit_tokenizer(TEXTS, kind, vocab_size=300 if kind == "bpe" else None)
    vocab = tok.hf.get_vocab()
    assert [vocab[t] for t in ("<pad>", "<bos>", "<eos>", "<unk>", "<sep>", "<mask>")] == [
        PAD_ID, BOS_ID, EOS_ID, UNK_ID, SEP_ID, MASK_ID,
    ]  # fmt: skip


def test_char_round_trip_keeps_newlines_and_spaces():
    tok = fit_tokenizer(TEXTS, "char")
    text = "First Citizen:\nBefore  we"
    ids = tok.encode(text)
    assert len(ids) == len(text) and tok.decode(ids) == text


def test_word_round_trip_and_unknown_words():
    tok = fit_tokenizer(["jump twice after walk left"], "word")
    assert tok.decode(tok.encode("walk left twice")) == "walk left twice"
    assert UNK_ID in tok.encode("run left").tolist()


def test_word_vocab_cap_and_min_freq():
    tok = fit_tokenizer(["a a a b b c"], "word", min_freq=2)
    assert tok.encode("c").tolist() == [UNK_ID] and UNK_ID not in tok.encode("a b").tolist()
    capped = fit_tokenizer(["a a a b b c"], "word", vocab_size=1)
    assert capped.vocab_size == 7 and capped.encode("b").tolist() == [UNK_ID]


def test_bpe_handles_unseen_scripts_without_unk():
    tok = fit_tokenizer(["hello world"] * 5, "bpe", vocab_size=300)
    ids = tok.encode("你好 world")
    assert UNK_ID not in ids.tolist() and tok.decode(ids) == "你好 world"


def test_decode_stops_at_eos_and_drops_specials():
    tok = fit_tokenizer(["walk left"], "word")
    ids = [BOS_ID, *tok.encode("walk left").tolist(), EOS_ID, *tok.encode("walk").tolist()]
    assert tok.decode(ids) == "walk left"


def test_state_round_trip_is_plain_json():
    tok = fit_tokenizer(TEXTS, "word")
    state = tok.state()
    assert isinstance(state["json"], str)
    again = Tokenizer.from_state(state)
    assert np.array_equal(again.encode(TEXTS[0]), tok.encode(TEXTS[0]))
    check_same_tokenizer(state, again.state(), "ckpt")
    other = fit_tokenizer(["x y z"], "word").state()
    with pytest.raises(SeqlabError, match="differs"):
        check_same_tokenizer(state, other, "ckpt")


def test_bpe_needs_a_vocab_size():
    with pytest.raises(SeqlabError, match="tokenizer.vocab_size"):
        fit_tokenizer(TEXTS, "bpe")


def test_bpe_cuts_unbroken_runs_so_fitting_stays_linear():
    """A line with no break is one pre-token, and BPE fitting is quadratic in a pre-token's
    length: runs are cut every MAX_PRETOKEN bytes; text round-trips all the same."""
    from seqlab.data.tokenizers import MAX_PRETOKEN

    hostile = "x" * (3 * MAX_PRETOKEN + 5)
    tok = fit_tokenizer([hostile * 200, "plain words here"], "bpe", vocab_size=300)
    pieces = tok.hf.pre_tokenizer.pre_tokenize_str(hostile)
    assert [len(p) for p, _ in pieces] == [MAX_PRETOKEN] * 3 + [5]
    ids = tok.encode_batch([hostile + " and 你好世界"])[0]
    assert tok.decode(ids) == hostile + " and 你好世界"
