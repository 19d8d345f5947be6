"""tokenizer=pretrained on a folder with SentencePiece files only (a hub Marian's layout)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("sentencepiece")

from helpers.hf import save_tiny_spm_marian  # noqa: E402
from seqlab.data.pretrained_tokenizer import SHIFT, pretrained_tokenizer_states  # noqa: E402
from seqlab.data.tokenizers import EOS_ID, Tokenizer  # noqa: E402

TEXTS = ["Zwei Männer mit Mützen.", "A man in a blue shirt.", "Ein Hund rennt."]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_root):
    return save_tiny_spm_marian(tmp_path_factory.mktemp("marian") / "opus-mt-tiny", data_root)


@pytest.fixture(scope="module")
def toks(folder):
    return {r: Tokenizer.from_state(s) for r, s in pretrained_tokenizer_states(str(folder)).items()}


def _shifted(ids: list[int], eos: int) -> list[int]:
    return [EOS_ID if i == eos else i + SHIFT for i in ids]


def test_sources_and_targets_are_marians_own_ids(folder, toks):
    """Sources through source.spm, targets through target.spm, both into one vocab.json."""
    from transformers import MarianTokenizer

    marian = MarianTokenizer.from_pretrained(str(folder))
    assert not (folder / "tokenizer.json").exists()
    for text in TEXTS:
        src, tgt = marian(text)["input_ids"], marian(text_target=text)["input_ids"]
        assert toks["src"].encode(text).tolist() + [EOS_ID] == _shifted(src, marian.eos_token_id)
        assert toks["tgt"].encode(text).tolist() + [EOS_ID] == _shifted(tgt, marian.eos_token_id)
        assert toks["tgt"].decode(toks["tgt"].encode(text)) == text
    assert toks["src"].encode(TEXTS[1]).tolist() != toks["tgt"].encode(TEXTS[1]).tolist()
    assert toks["src"].vocab_size == toks["tgt"].vocab_size == SHIFT + len(marian)


def test_the_streaming_encoders_agree(toks):
    flat, lengths = toks["tgt"].encode_ragged(TEXTS)
    each = toks["tgt"].encode_batch(TEXTS)
    assert lengths.tolist() == [len(e) for e in each]
    np.testing.assert_array_equal(flat, np.concatenate(each))


def test_the_state_is_plain_json_holds_the_files_and_reloads(toks):
    """A checkpoint or a worker process rebuilds the tokenizer without the folder."""
    state = toks["tgt"].state()
    assert json.loads(json.dumps(state)) == state
    assert {"source.spm", "target.spm", "vocab.json"} <= set(state["files"])
    for again in (Tokenizer.from_state(state), pickle.loads(pickle.dumps(toks["tgt"]))):
        assert again.encode(TEXTS[1]).tolist() == toks["tgt"].encode(TEXTS[1]).tolist()


def test_the_files_are_part_of_the_data_cache_key(folder, data_root):
    from seqlab.data.prepare import cache_key, fixed_or_pretrained

    data = {"name": "multi30k", "splits": {}}
    tok = {"kind": "pretrained", "name": str(folder)}
    before = cache_key(data, tok, data_root, fixed_or_pretrained(tok, None), files={})
    vocab = json.loads((folder / "vocab.json").read_text())
    (folder / "vocab.json").write_text(json.dumps({**vocab, "extra": len(vocab)}))
    try:
        after = cache_key(data, tok, data_root, fixed_or_pretrained(tok, None), files={})
    finally:
        (folder / "vocab.json").write_text(json.dumps(vocab))
    assert before != after


def test_separate_source_and_target_vocabularies_are_one_line(folder, tmp_path):
    import shutil

    from seqlab.errors import SeqlabError

    copy = shutil.copytree(folder, tmp_path / "separate")
    config = json.loads((copy / "tokenizer_config.json").read_text())
    (copy / "tokenizer_config.json").write_text(json.dumps({**config, "separate_vocabs": True}))
    shutil.copy(copy / "vocab.json", copy / "target_vocab.json")
    with pytest.raises(SeqlabError, match="has separate source and target vocabularies"):
        pretrained_tokenizer_states(str(copy))
