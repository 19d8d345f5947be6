"""tokenizer=pretrained: a model's tokenizer.json with its ids shifted past seqlab's specials."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqlab.data.tokenizers import EOS_ID, SPECIAL_TOKENS, Tokenizer
from seqlab.errors import SeqlabError

pytest.importorskip("transformers")

from helpers.hf import EOS, save_tiny_gpt2, shakespeare_lines  # noqa: E402
from seqlab.data.pretrained_tokenizer import pretrained_tokenizer_state  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_root):
    return save_tiny_gpt2(tmp_path_factory.mktemp("gpt2"), shakespeare_lines(data_root))


@pytest.fixture(scope="module")
def tok(folder):
    return Tokenizer.from_state(pretrained_tokenizer_state(str(folder)))


def test_ids_are_the_models_shifted_by_the_six_specials(tok, folder):
    from tokenizers import Tokenizer as HFTokenizer

    hf = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    text = "First Citizen:\nBefore we proceed any further, hear me speak."
    assert tok.kind == "pretrained"
    assert tok.vocab_size == len(SPECIAL_TOKENS) + hf.get_vocab_size()
    np.testing.assert_array_equal(tok.encode(text), np.array(hf.encode(text).ids) + 6)
    assert tok.encode(text).min() >= len(SPECIAL_TOKENS)


def test_round_trip_and_batches(tok, data_root):
    lines = shakespeare_lines(data_root, 50)
    encoded = tok.encode_batch(lines)
    assert [tok.decode(ids) for ids in encoded] == lines
    assert tok.decode_batch([e.tolist() for e in encoded]) == lines


def test_the_models_eos_is_seqlabs_and_decoding_stops_there(tok):
    ids = tok.encode(f"to be{EOS}or not")
    assert EOS_ID in ids.tolist()
    assert tok.decode(ids) == "to be"
    assert tok.decode([1, *tok.encode("hi").tolist(), 0, 4]) == "hi"  # specials dropped


def test_the_state_is_plain_json_and_reloads(tok):
    state = tok.state()
    assert json.loads(json.dumps(state)) == state
    assert set(state) == {"kind", "json", "eos"}
    again = Tokenizer.from_state(state)
    np.testing.assert_array_equal(again.encode("ROMEO:"), tok.encode("ROMEO:"))


def test_an_unset_name_or_a_folder_without_tokenizer_json_is_one_line(tmp_path):
    with pytest.raises(SeqlabError, match="tokenizer.name' is not set"):
        pretrained_tokenizer_state(None)
    with pytest.raises(SeqlabError, match="has no readable tokenizer.json"):
        pretrained_tokenizer_state(str(tmp_path))


def test_a_hub_name_offline_names_the_cache_and_asks_for_a_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SeqlabError) as e:
        pretrained_tokenizer_state("nobody/no-such-model")
    message = str(e.value)
    assert "nobody/no-such-model" in message and "Hugging Face cache" in message
    assert "pass a local folder: tokenizer.name=/path/to/folder" in message


def test_the_streaming_encoders_shift_too(tok):
    """Text and pairs are prepared through `encode_ragged` / `encode_flat` (and the pre-token
    cache, which leaves this kind to them): the same shifted ids as `encode_batch`."""
    from seqlab.data.pretoken_cache import PretokenEncoder

    texts = ["First Citizen:\n", "Before we proceed<|endoftext|> any further", ""]
    flat, lengths = tok.encode_ragged(texts)
    each = tok.encode_batch(texts)
    assert lengths.tolist() == [len(e) for e in each]
    np.testing.assert_array_equal(flat, np.concatenate(each))
    assert EOS_ID in flat.tolist()  # the model's eos is seqlab's <eos>
    np.testing.assert_array_equal(PretokenEncoder(tok)("".join(texts)), tok.encode_flat(texts))
