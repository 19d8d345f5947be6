"""``model.freeze`` on seqlab's own models: named parts stop training, and a tensor tied to a
frozen part is reported frozen too."""

from __future__ import annotations

import pytest
import torch

from seqlab.models import GPT
from seqlab.models.parts import FreezeError, describe, freeze
from seqlab.models.rnn_seq2seq import RNNSeq2Seq
from seqlab.models.transformer_seq2seq import TransformerSeq2Seq


def gpt(tie: bool = True) -> GPT:
    return GPT(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=16, tie_embeddings=tie)


def test_frozen_gpt_embeddings_get_no_gradient_and_a_tied_head_freezes_with_them():
    net = gpt()
    shared = freeze(net, ["embeddings"])
    assert shared == {"lm_head": ["embed.token.weight"]}
    net(torch.randint(0, 40, (2, 8))).sum().backward()
    assert all(p.grad is None for p in net.embed.parameters())
    assert all(p.grad is not None for p in net.blocks.parameters())
    lines = describe(["embeddings"], shared)
    assert lines[1] == ("model.freeze: lm_head shares embed.token.weight with a frozen part "
                        "(tied weights are one tensor): frozen too")  # fmt: skip


def test_an_untied_gpt_head_keeps_training():
    net = gpt(tie=False)
    assert freeze(net, ["embeddings"]) == {}
    assert net.lm_head.weight.requires_grad


@pytest.mark.parametrize("cls", [TransformerSeq2Seq, RNNSeq2Seq])
def test_a_frozen_encoder_of_seqlab_seq2seq_gets_no_gradient(cls):
    kwargs = {"n_encoder_layers": 1, "n_decoder_layers": 1, "d_model": 16, "d_ff": 32}
    kwargs = kwargs if cls is TransformerSeq2Seq else {"embed_dim": 8, "hidden_size": 16}
    net = cls(30, 30, **kwargs)
    freeze(net, ["encoder"])
    src, tgt = torch.randint(3, 30, (2, 7)), torch.randint(3, 30, (2, 5))
    net(src, tgt).sum().backward()
    assert all(p.grad is None and not p.requires_grad for p in net.encoder.parameters())
    assert all(p.grad is not None for p in net.decoder.parameters() if p.requires_grad)


def test_an_unknown_part_is_one_line_with_the_models_parts():
    with pytest.raises(FreezeError, match=r"^config key 'model.freeze': 'encoder' is not a part "
                       r"of GPT; its parts: embeddings, decoder, lm_head$"):  # fmt: skip
        freeze(gpt(), ["encoder"])
