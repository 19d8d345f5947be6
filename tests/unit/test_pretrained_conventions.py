"""tokenizer=pretrained reads sources and targets as the model's own tokenizer frames them."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from helpers.hf import multi30k_lines, save_tiny_seq2seq  # noqa: E402
from seqlab.data.batching import collate_pairs  # noqa: E402
from seqlab.data.pretrained_tokenizer import SHIFT, pretrained_tokenizer_states  # noqa: E402
from seqlab.data.tokenizers import EOS_ID, Tokenizer  # noqa: E402

TEXTS = ["Zwei Männer mit Mützen.", "A dog runs through the grass."]


def _seqlab(model_ids: list[int], eos: int) -> list[int]:
    return [EOS_ID if i == eos else i + SHIFT for i in model_ids]


@pytest.mark.parametrize("kind,own", [("bart", True), ("t5", False), ("marian", False)])
def test_sources_and_targets_are_the_tokenizers_own_ids(kind, own, tmp_path, data_root):
    """BART's tokenizer puts <s> before the text; T5's and Marian's do not: a batch's source is
    exactly ``tokenizer(text)``, its target after <bos> ``tokenizer(text_target=text)``."""
    from transformers import AutoTokenizer

    folder = save_tiny_seq2seq(tmp_path, kind, multi30k_lines(data_root, 200), own_tokenizer=own)
    hf = AutoTokenizer.from_pretrained(str(folder))
    states = pretrained_tokenizer_states(str(folder))
    toks = {role: Tokenizer.from_state(state) for role, state in states.items()}
    items = [(i, toks["src"].encode(t), toks["tgt"].encode(t)) for i, t in enumerate(TEXTS)]
    batch = collate_pairs(items)
    for row, text in enumerate(TEXTS):
        src = hf(text)["input_ids"]
        tgt = hf(text_target=text)["input_ids"]
        if src[-1] != hf.eos_token_id:  # these tiny tokenizers add no eos; seqlab always does
            src, tgt = src + [hf.eos_token_id], tgt + [hf.eos_token_id]
        n, m = batch["src_lengths"][row], batch["tgt_lengths"][row]
        assert batch["src"][row, :n].tolist() == _seqlab(src, hf.eos_token_id)
        assert batch["tgt"][row, 1:m].tolist() == _seqlab(tgt, hf.eos_token_id)
    if kind == "bart":
        assert batch["src"][0, 0].item() == hf.bos_token_id + SHIFT  # <s> text </s>
    assert toks["tgt"].decode(batch["tgt"][0, 1:].tolist()) == TEXTS[0]


def test_a_language_models_stream_gets_no_prefix(tmp_path, data_root):
    folder = save_tiny_seq2seq(tmp_path, "bart", multi30k_lines(data_root, 200), own_tokenizer=True)
    states = pretrained_tokenizer_states(str(folder))
    assert "prefix" not in states["text"] and states["src"]["prefix"] == [0]
