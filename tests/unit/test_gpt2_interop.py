"""seqlab's GPT and `transformers`' GPT-2 on the same weights: logits within 1e-4 (fp32, CPU) and
identical greedy continuations, in both directions."""

from __future__ import annotations

import pytest
import torch

from seqlab.generation.driver import generate
from seqlab.generation.options import DecodingOptions
from seqlab.models.gpt import GPT
from seqlab.models.hf.gpt2 import gpt2_config, gpt_from_gpt2, to_gpt2_state

transformers = pytest.importorskip("transformers")

VOCAB, NEW = 50, 12
GREEDY = DecodingOptions("greedy", max_len_a=0, max_len_b=0, max_new_tokens=NEW)


def hf_gpt2(config: dict, state: dict | None = None):
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**config)).eval()
    if state is not None:
        missing, unexpected = model.load_state_dict(state, strict=False)
        tied = model.config.tie_word_embeddings  # the head is the token embedding, loaded once
        assert not unexpected and missing == (["lm_head.weight"] if tied else [])
    return model


def seqlab_greedy(net: GPT, prompt: torch.Tensor) -> torch.Tensor:
    return generate(net, prompt, GREEDY, eos_id=None).best


def hf_greedy(model, prompt: torch.Tensor) -> torch.Tensor:
    out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=NEW,
                         do_sample=False, pad_token_id=0, eos_token_id=None)  # fmt: skip
    return out[:, prompt.size(1) :]


@pytest.mark.parametrize(
    "tied,bias,activation", [(True, True, "gelu"), (False, False, "gelu_tanh")]
)
def test_seqlab_gpt_exported_to_gpt2_gives_the_same_logits_and_continuations(
    tied, bias, activation
):
    torch.manual_seed(0)
    net = GPT(VOCAB, block_size=32, n_layer=2, n_head=2, n_embd=32, bias=bias,
              tie_embeddings=tied, activation=activation).eval()  # fmt: skip
    if not bias:  # bias=False has no bias to export: zeros must compute the same
        assert "blocks.0.ln1.bias" not in net.state_dict()
    model = hf_gpt2(gpt2_config(net, VOCAB), to_gpt2_state(net))
    tokens = torch.randint(0, VOCAB, (3, 20))
    with torch.no_grad():
        diff = (net(tokens) - model(tokens).logits).abs().max().item()
    assert diff <= 1e-4
    prompt = tokens[:, :6]
    assert torch.equal(seqlab_greedy(net, prompt), hf_greedy(model, prompt))


@pytest.mark.parametrize("activation", ["gelu_new", "gelu"])
def test_gpt2_weights_loaded_into_seqlab_gpt_give_the_same_logits_and_continuations(activation):
    torch.manual_seed(1)
    config = {"vocab_size": VOCAB, "n_positions": 32, "n_embd": 32, "n_layer": 2, "n_head": 4,
              "activation_function": activation, "resid_pdrop": 0.0, "embd_pdrop": 0.0,
              "attn_pdrop": 0.0}  # fmt: skip
    model = hf_gpt2(config)
    net = gpt_from_gpt2(model.config.to_dict(), model.state_dict()).eval()
    tokens = torch.randint(0, VOCAB, (2, 24))
    with torch.no_grad():
        diff = (net(tokens) - model(tokens).logits).abs().max().item()
    assert diff <= 1e-4
    prompt = tokens[:, :5]
    assert torch.equal(seqlab_greedy(net, prompt), hf_greedy(model, prompt))


def test_a_shape_that_does_not_fit_names_the_tensor():
    torch.manual_seed(0)
    net = GPT(VOCAB, block_size=32, n_layer=1, n_head=2, n_embd=32).eval()
    state = to_gpt2_state(net)
    state["transformer.h.0.mlp.c_fc.weight"] = torch.zeros(32, 64)
    with pytest.raises(ValueError, match=r"transformer\.h\.0\.mlp\.c_fc\.weight: shape \(32, 64\)"):
        gpt_from_gpt2(gpt2_config(net, VOCAB), state)
