"""seqlab's adapter over `transformers` encoder–decoders (BART, T5, Marian): the model's own logits
on shifted ids, each family's decoder start, a cache that decodes as the full forward does, and
plain checkpoints."""

from __future__ import annotations

import io

import pytest
import torch

from seqlab.data.tokenizers import BOS_ID, EOS_ID, PAD_ID
from seqlab.generation.driver import generate
from seqlab.generation.options import DecodingOptions

transformers = pytest.importorskip("transformers")

from helpers.hf import decoding_strategies  # noqa: E402
from seqlab.models.hf.seq2seq import HFSeq2Seq  # noqa: E402
from seqlab.models.hf.vocab import N_SPECIAL, plain_config  # noqa: E402

HF_VOCAB = 50
V = N_SPECIAL + HF_VOCAB
LAYERS = dict(encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
              decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64)  # fmt: skip
CONFIGS = {
    "bart": lambda: transformers.BartConfig(
        vocab_size=HF_VOCAB, d_model=32, max_position_embeddings=64, **LAYERS,
        bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2,
    ),
    "t5": lambda: transformers.T5Config(
        vocab_size=HF_VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2,
        num_heads=4, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    ),
    "marian": lambda: transformers.MarianConfig(
        vocab_size=HF_VOCAB, d_model=32, max_position_embeddings=64, **LAYERS,
        pad_token_id=HF_VOCAB - 1, eos_token_id=0, decoder_start_token_id=HF_VOCAB - 1,
    ),
}  # fmt: skip
# The model's (pad, decoder start, eos) ids: how each family starts decoding.
SPECIALS = {"bart": (1, 2, 2), "t5": (0, 0, 1), "marian": (HF_VOCAB - 1, HF_VOCAB - 1, 0)}


def pair(kind: str) -> tuple[HFSeq2Seq, torch.nn.Module]:
    """The adapter and a plain `transformers` model holding the same weights (eval mode)."""
    config = CONFIGS[kind]()
    torch.manual_seed(0)
    hf = transformers.AutoModelForSeq2SeqLM.from_config(config).eval()
    net = HFSeq2Seq(V, V, PAD_ID, plain_config(config)).eval()
    net.model.load_state_dict(hf.state_dict())
    return net, hf


def sources(batch: int = 4, length: int = 9) -> torch.Tensor:
    """Right-padded sources ending in <eos>, of different lengths (the first one full)."""
    torch.manual_seed(1)
    src = torch.randint(N_SPECIAL, V, (batch, length))
    for row, n in enumerate(torch.linspace(length, 3, batch).long().tolist()):
        src[row, n - 1] = EOS_ID
        src[row, n:] = PAD_ID
    return src


@pytest.mark.parametrize("kind", CONFIGS)
def test_logits_are_the_models_own_on_shifted_ids(kind):
    net, hf = pair(kind)
    pad, start, eos = SPECIALS[kind]
    src = sources()
    tgt = torch.randint(N_SPECIAL, V, (4, 7))
    tgt[:, 0] = BOS_ID
    hf_src = torch.where(src == EOS_ID, eos, torch.where(src == PAD_ID, pad, src - N_SPECIAL))
    hf_tgt = torch.cat([torch.full((4, 1), start), tgt[:, 1:] - N_SPECIAL], dim=1)
    with torch.no_grad():
        ours = net(src, tgt)
        theirs = hf(input_ids=hf_src, attention_mask=src != PAD_ID, decoder_input_ids=hf_tgt).logits
    assert ours.shape == (4, 7, V)
    # seqlab's <eos> column carries the model's eos logit; its own eos column is masked.
    assert (ours[..., EOS_ID] - theirs[..., eos]).abs().max() < 1e-5
    kept = [i for i in range(HF_VOCAB) if i != eos]
    assert (ours[..., [N_SPECIAL + i for i in kept]] - theirs[..., kept]).abs().max() < 1e-5
    others = [i for i in range(N_SPECIAL) if i != EOS_ID] + [N_SPECIAL + eos]
    assert torch.isneginf(ours[..., others]).all()


@pytest.mark.parametrize("kind", CONFIGS)
def test_specials_in_are_the_models_pad_decoder_start_and_eos(kind):
    net, _ = pair(kind)
    pad, start, eos = SPECIALS[kind]
    ids = torch.tensor([[BOS_ID, 9, EOS_ID, PAD_ID]])
    assert net.vocab.ids(ids).tolist() == [[start, 3, eos, pad]]


@pytest.mark.parametrize("kind", CONFIGS)
def test_one_step_at_a_time_gives_the_teacher_forced_logits(kind):
    net, _ = pair(kind)
    src = sources()
    tgt = torch.randint(N_SPECIAL, V, (4, 6))
    tgt[:, 0] = BOS_ID
    with torch.no_grad():
        full = net(src, tgt)
        state = net.init_state(net.encode(src))
        steps = []
        for t in range(tgt.size(1)):
            logits, state = net.step(tgt[:, t], state)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)
    assert state["self_k0"].shape[:1] == (4,) and state["self_k0"].size(2) == 6
    assert state["cross_k0"].size(2) == src.size(1)
    # Per-source tensors pass through a step as they are (beams changing places leave them be).
    _, after = net.step(tgt[:, 0], state)
    assert all(after[k] is state[k] for k in ("memory", "src_mask", "cross_k0", "cross_v1"))


STRATEGIES = decoding_strategies()


@pytest.mark.parametrize("options", STRATEGIES, ids=lambda o: o.strategy)
@pytest.mark.parametrize("kind", CONFIGS)
def test_cached_decoding_equals_the_uncached_full_forward(kind, options):
    net, _ = pair(kind)
    cached = generate(net, sources(), options)
    full = generate(net, sources(), options, cache=False)
    assert torch.equal(cached.tokens, full.tokens)
    assert torch.equal(cached.lengths, full.lengths)
    torch.testing.assert_close(cached.scores, full.scores, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("kind", CONFIGS)
def test_beam_of_one_is_greedy(kind):
    net, _ = pair(kind)
    greedy = generate(net, sources(), DecodingOptions("greedy", 0, 0, max_new_tokens=10))
    beam = generate(net, sources(), DecodingOptions("beam", 0, 0, max_new_tokens=10, beam_size=1))
    assert torch.equal(greedy.tokens, beam.tokens)
    torch.testing.assert_close(greedy.scores, beam.scores)


@pytest.mark.parametrize("kind", CONFIGS)
def test_a_plain_config_and_tensors_rebuild_the_model_without_pickled_code(kind):
    net, _ = pair(kind)
    buffer = io.BytesIO()
    torch.save({"config": plain_config(net.config), "state": net.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    again = HFSeq2Seq(V, V, PAD_ID, saved["config"]).eval()
    again.load_state_dict(saved["state"])
    src, tgt = sources(), torch.full((4, 3), BOS_ID)
    with torch.no_grad():
        assert torch.equal(net(src, tgt), again(src, tgt))


def test_lengths_past_the_models_positions_are_refused():
    config = plain_config(CONFIGS["bart"]())
    with pytest.raises(ValueError, match="exceeds the model's 64 positions"):
        HFSeq2Seq(V, V, PAD_ID, config, max_len=65)
    assert HFSeq2Seq(V, V, PAD_ID, config).max_source_len == 64
    assert HFSeq2Seq(V, V, PAD_ID, plain_config(CONFIGS["t5"]())).max_source_len is None


FORCED = 17  # the model's id mBART-50 would hold its target language code at


def mbart_pair() -> tuple[HFSeq2Seq, torch.nn.Module]:
    """A tiny mBART forcing token ``FORCED`` first, as seqlab's adapter and as `transformers`."""
    config = transformers.MBartConfig(vocab_size=HF_VOCAB, d_model=32, max_position_embeddings=64,
                                      bos_token_id=0, pad_token_id=1, eos_token_id=2,
                                      decoder_start_token_id=2, **LAYERS)  # fmt: skip
    torch.manual_seed(0)
    hf = transformers.AutoModelForSeq2SeqLM.from_config(config).eval()
    net = HFSeq2Seq(V, V, PAD_ID, plain_config(config), forced_bos_token_id=FORCED).eval()
    net.model.load_state_dict(hf.state_dict())
    return net, hf


@pytest.mark.parametrize("options", decoding_strategies(), ids=lambda o: o.strategy)
@pytest.mark.parametrize("cache", [True, False])
def test_a_forced_first_token_starts_every_hypothesis(options, cache):
    net, _ = mbart_pair()
    out = generate(net, sources(), options, cache=cache)
    assert (out.tokens[:, :, 0] == FORCED + N_SPECIAL).all()


def test_forced_greedy_equals_the_models_own_generate():
    """seqlab's greedy decode is `generate()`'s with ``forced_bos_token_id`` on the same weights."""
    net, hf = mbart_pair()
    src = sources()[:1]  # one unpadded source: generate() and seqlab stop at the same eos
    hf_src = torch.where(src == EOS_ID, 2, src - N_SPECIAL)
    theirs = hf.generate(input_ids=hf_src, forced_bos_token_id=FORCED, num_beams=1,
                         do_sample=False, max_new_tokens=12, min_length=0,
                         forced_eos_token_id=None)[0, 1:]  # fmt: skip
    ours = generate(net, src, DecodingOptions("greedy", 0, 0, max_new_tokens=12)).tokens[0, 0]
    ours = ours[ours != PAD_ID]
    expected = torch.where(theirs == 2, EOS_ID, theirs + N_SPECIAL)
    assert ours.tolist() == expected[: len(ours)].tolist() and len(ours) == len(expected)
