"""seqlab's adapter over `transformers` causal LMs: the model's own logits on shifted ids, a
cache that decodes as the full forward does, and plain checkpoints."""

from __future__ import annotations

import io

import pytest
import torch

from seqlab.data.tokenizers import BOS_ID, EOS_ID, PAD_ID
from seqlab.generation.driver import generate
from seqlab.generation.options import DecodingOptions

transformers = pytest.importorskip("transformers")

from helpers.hf import decoding_strategies  # noqa: E402
from seqlab.models.hf.causal_lm import N_SPECIAL, HFCausalLM, plain_config  # noqa: E402

HF_VOCAB = 50
CONFIGS = {
    "gpt2": lambda: transformers.GPT2Config(
        n_layer=2, n_embd=32, n_head=2, n_positions=64, vocab_size=HF_VOCAB,
        bos_token_id=1, eos_token_id=0,
    ),
    "llama": lambda: transformers.LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, vocab_size=HF_VOCAB,
        bos_token_id=1, eos_token_id=0,
    ),
}  # fmt: skip


def pair(kind: str) -> tuple[HFCausalLM, torch.nn.Module]:
    """The adapter and a plain `transformers` model holding the same weights (eval mode)."""
    config = CONFIGS[kind]()
    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_config(config).eval()
    net = HFCausalLM(N_SPECIAL + HF_VOCAB, plain_config(config), block_size=64).eval()
    net.model.load_state_dict(hf.state_dict())
    return net, hf


def prompts(batch: int = 3, length: int = 5) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randint(N_SPECIAL, N_SPECIAL + HF_VOCAB, (batch, length))


@pytest.mark.parametrize("kind", CONFIGS)
def test_logits_are_the_models_own_on_shifted_ids(kind):
    net, hf = pair(kind)
    ids = prompts(2, 12)
    with torch.no_grad():
        ours, theirs = net(ids), hf(ids - N_SPECIAL).logits
    eos = 0
    assert ours.shape == (2, 12, N_SPECIAL + HF_VOCAB)
    # seqlab's <eos> column carries the model's eos logit; its own eos column is masked.
    assert (ours[..., EOS_ID] - theirs[..., eos]).abs().max() < 1e-5
    assert (ours[..., N_SPECIAL + 1 :] - theirs[..., 1:]).abs().max() < 1e-5
    others = [i for i in range(N_SPECIAL) if i != EOS_ID] + [N_SPECIAL + eos]
    assert torch.isneginf(ours[..., others]).all()


def test_specials_in_are_the_models_bos_eos_and_pad():
    net, hf = pair("gpt2")
    with_specials = torch.tensor([[BOS_ID, 9, 10, EOS_ID, PAD_ID]])
    as_hf = torch.tensor([[1, 3, 4, 0, 0]])  # bos 1, eos 0, no pad id: eos
    assert torch.equal(net.hf_ids(with_specials), as_hf)
    with torch.no_grad():
        assert torch.allclose(net(with_specials)[..., N_SPECIAL + 1 :], hf(as_hf).logits[..., 1:])


STRATEGIES = decoding_strategies()


@pytest.mark.parametrize("options", STRATEGIES, ids=lambda o: o.strategy)
@pytest.mark.parametrize("kind", CONFIGS)
def test_cached_decoding_equals_the_uncached_full_forward(kind, options):
    net, _ = pair(kind)
    for eos_id in (None, EOS_ID):
        cached = generate(net, prompts(), options, eos_id=eos_id)
        full = generate(net, prompts(), options, eos_id=eos_id, cache=False)
        assert torch.equal(cached.tokens, full.tokens)
        assert torch.equal(cached.lengths, full.lengths)
        torch.testing.assert_close(cached.scores, full.scores, atol=1e-4, rtol=1e-5)


def test_the_window_slides_past_block_size_as_uncached_decoding_crops():
    config = CONFIGS["gpt2"]()
    net = HFCausalLM(N_SPECIAL + HF_VOCAB, plain_config(config), block_size=8).eval()
    options = DecodingOptions("greedy", 0, 0, max_new_tokens=10)
    cached = generate(net, prompts(), options, eos_id=None)
    full = generate(net, prompts(), options, eos_id=None, cache=False)
    assert torch.equal(cached.tokens, full.tokens)


@pytest.mark.parametrize("kind", CONFIGS)
def test_beam_of_one_is_greedy(kind):
    net, _ = pair(kind)
    greedy = generate(net, prompts(), DecodingOptions("greedy", 0, 0, max_new_tokens=10))
    beam = generate(net, prompts(), DecodingOptions("beam", 0, 0, max_new_tokens=10, beam_size=1))
    assert torch.equal(greedy.tokens, beam.tokens)
    torch.testing.assert_close(greedy.scores, beam.scores)


def test_a_plain_config_and_tensors_rebuild_the_model_without_pickled_code():
    net, _ = pair("llama")
    buffer = io.BytesIO()
    torch.save({"config": plain_config(net.config), "state": net.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    again = HFCausalLM(N_SPECIAL + HF_VOCAB, saved["config"], block_size=64).eval()
    again.load_state_dict(saved["state"])
    ids = prompts()
    with torch.no_grad():
        assert torch.equal(net(ids), again(ids))


def test_a_context_past_the_models_positions_is_refused():
    with pytest.raises(ValueError, match="exceeds the model's 64 positions"):
        HFCausalLM(N_SPECIAL + HF_VOCAB, plain_config(CONFIGS["gpt2"]()), block_size=65)
