"""Decoding on every architecture: cached = uncached, beam_size 1 = greedy, batched beam search =
a plain one-hypothesis-at-a-time reference, and results independent of batch composition."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqlab.data.tokenizers import BOS_ID, EOS_ID, PAD_ID
from seqlab.generation import DecodingOptions, generate
from seqlab.models import GPT, RNNLM, RNNSeq2Seq, TransformerSeq2Seq

SRC_VOCAB, VOCAB = 13, 12
SEQ2SEQ = ["gru-none", "gru-bahdanau", "gru-luong", "transformer"]
LMS = ["gpt", "gru-lm"]


pytestmark = pytest.mark.usefixtures("one_thread")


def build(name: str) -> nn.Module:
    """A small random model whose outputs are peaky and end at varied lengths.

    Random initialisations give near-uniform distributions that almost never pick <eos>; a hook on
    the output layer sharpens them and ties the <eos> logit to a hidden feature, so hypotheses
    finish at different steps and beams really compete.
    """
    torch.manual_seed(0)
    if name.startswith("gru-") and name != "gru-lm":
        model = RNNSeq2Seq(SRC_VOCAB, VOCAB, embed_dim=16, hidden_size=16, dropout=0.0,
                           attention=name[4:])  # fmt: skip
        head = model.decoder.output
    elif name == "transformer":
        model = TransformerSeq2Seq(SRC_VOCAB, VOCAB, d_model=16, n_heads=2, n_encoder_layers=2,
                                   n_decoder_layers=2, d_ff=32, dropout=0.0, max_len=24)  # fmt: skip
        head = model.decoder.lm_head
    elif name == "gpt":
        # block_size 8 < prompt 6 + up to 10 new tokens: decoding slides the window.
        model = GPT(VOCAB, block_size=8, n_layer=2, n_head=2, n_embd=16, tie_embeddings=False)
        head = model.lm_head
    else:
        model = RNNLM(VOCAB, embed_dim=16, hidden_size=16, num_layers=2, dropout=0.0)
        head = model.lm_head

    def sharpen(module, inputs, out):
        out = out * 8.0
        # <eos> wins when a fast-varying function of the hidden state is high: ~30% of steps.
        hidden = inputs[0]
        eos = out.max(dim=-1).values + 30.0 * (torch.sin(37.0 * hidden[..., 0]) - 0.6)
        return torch.cat([out[..., :EOS_ID], eos.unsqueeze(-1), out[..., EOS_ID + 1 :]], dim=-1)

    head.register_forward_hook(sharpen)
    return model.eval()


def inputs(name: str) -> torch.Tensor:
    """Seq2seq: 5 sources of different lengths (+ <eos>, right-padded); LM: 5 prompts of 6."""
    torch.manual_seed(1)
    if name in LMS:
        return torch.randint(3, VOCAB, (5, 6))
    lengths = [6, 3, 8, 1, 5]
    src = torch.full((5, max(lengths) + 1), PAD_ID)
    for row, n in enumerate(lengths):
        src[row, :n] = torch.randint(3, SRC_VOCAB, (n,))
        src[row, n] = EOS_ID
    return src


def opts(strategy: str, **kwargs) -> DecodingOptions:
    return DecodingOptions(strategy, max_len_a=kwargs.pop("a", 4), max_len_b=1.0, **kwargs)


BEAM = {"beam_size": 3, "n_best": 3, "length_penalty": 0.6}


@pytest.mark.parametrize("name", SEQ2SEQ + LMS)
def test_cached_equals_uncached(name: str) -> None:
    model, src = build(name), inputs(name)
    for options in (opts("greedy"), opts("beam", **BEAM)):
        cached = generate(model, src, options)
        uncached = generate(model, src, options, cache=False)
        assert torch.equal(cached.tokens, uncached.tokens), options.strategy
        assert torch.equal(cached.lengths, uncached.lengths)
        torch.testing.assert_close(cached.scores, uncached.scores, atol=1e-4, rtol=1e-5)
    sample = opts("sample", top_k=5, top_p=0.95, temperature=1.5, n_best=2, seed=3)
    assert torch.equal(
        generate(model, src, sample).tokens, generate(model, src, sample, cache=False).tokens
    )


@pytest.mark.parametrize("name", SEQ2SEQ + LMS)
def test_hypotheses_end_at_varied_lengths(name: str) -> None:
    # Guards the fixture: the other tests would prove little if every row ran to its budget.
    out = generate(build(name), inputs(name), opts("greedy"))
    ended = (out.tokens[:, 0] == EOS_ID).any(dim=1)
    assert ended.any() and len(set(out.lengths.flatten().tolist())) > 1


@pytest.mark.parametrize("name", SEQ2SEQ + LMS)
def test_beam_size_one_equals_greedy(name: str) -> None:
    model, src = build(name), inputs(name)
    for extra in ({}, {"no_repeat_ngram_size": 2, "repetition_penalty": 1.5}):
        greedy = generate(model, src, opts("greedy", **extra))
        beam = generate(model, src, opts("beam", beam_size=1, **extra))
        assert torch.equal(greedy.tokens, beam.tokens)
        torch.testing.assert_close(greedy.log_probs, beam.log_probs)


def reference_beam(model: nn.Module, src: torch.Tensor, options: DecodingOptions, limit: int):
    """Beam search over Python lists, one hypothesis per model call (no cache, no batching)."""
    seq2seq = hasattr(model, "encode")

    def next_log_probs(prefix: list[int]) -> torch.Tensor:
        if seq2seq:
            tgt = torch.tensor([[BOS_ID, *prefix]])
            return model(src[None], tgt)[0, -1].float().log_softmax(-1)
        ids = torch.tensor([[*src.tolist(), *prefix]])
        window = getattr(model, "block_size", None)  # nanoGPT's crop
        return model(ids[:, -window:] if window else ids)[0, -1].float().log_softmax(-1)

    K, beams, finished = options.beam_size, [([], 0.0)], []
    for t in range(limit):
        cands = []
        for prefix, logp in beams:
            for token, lp in enumerate(next_log_probs(prefix).tolist()):
                cands.append((logp + lp, prefix + [token]))
        cands = sorted(cands, key=lambda c: -c[0])[: 2 * K]
        last = t + 1 >= limit
        ends = [c for c in cands[:K] if c[1][-1] == EOS_ID or last]
        for logp, hyp in ends:
            finished.append(
                (logp / options.length_penalty_of(torch.tensor(len(hyp))).item(), logp, hyp)
            )
        if len(finished) >= K or last:
            break
        beams = [(hyp, logp) for logp, hyp in cands if hyp[-1] != EOS_ID][:K]
    return sorted(finished, key=lambda f: -f[0])[: options.n_best]


@pytest.mark.parametrize("name", SEQ2SEQ + LMS)
def test_batched_beam_search_equals_reference(name: str) -> None:
    model, src = build(name), inputs(name)
    options = opts("beam", **BEAM)
    out = generate(model, src, options)
    with torch.no_grad():
        for row in range(src.size(0)):
            real = src[row][src[row] != PAD_ID] if name in SEQ2SEQ else src[row]
            limit = int(options.max_lengths(torch.tensor([len(real)]))[0])
            expected = reference_beam(model, real, options, limit)
            for rank, (score, logp, hyp) in enumerate(expected):
                n = out.lengths[row, rank]
                assert out.tokens[row, rank, :n].tolist() == hyp
                assert out.scores[row, rank].item() == pytest.approx(score, abs=1e-4)
                assert out.log_probs[row, rank].item() == pytest.approx(logp, abs=1e-4)


@pytest.mark.parametrize("name", SEQ2SEQ + LMS)
def test_results_do_not_depend_on_the_batch(name: str) -> None:
    model, src = build(name), inputs(name)
    for options in (opts("greedy"), opts("beam", **BEAM)):
        together = generate(model, src, options)
        for row in range(src.size(0)):
            alone_src = src[row : row + 1]
            if name in SEQ2SEQ:
                alone_src = alone_src[:, : int((alone_src != PAD_ID).sum())]
            alone = generate(model, alone_src, options)
            width = alone.tokens.size(-1)
            assert torch.equal(together.tokens[row, :, :width], alone.tokens[0])
            torch.testing.assert_close(together.scores[row], alone.scores[0], atol=1e-4, rtol=1e-5)


def test_transformer_budget_is_capped_by_max_len() -> None:
    model = build("transformer")
    out = generate(model, inputs("transformer"), opts("beam", a=100, beam_size=2))
    assert int(out.lengths.max()) <= model.decoder.max_len


def test_lm_needs_a_prompt() -> None:
    with pytest.raises(ValueError, match="prompt"):
        generate(build("gru-lm"), torch.empty(2, 0, dtype=torch.long), opts("greedy"))
