"""Tests for seqlab.generation's parts: options, logits processors, and search on a toy bigram LM
whose best sequences are worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from seqlab.data.tokenizers import EOS_ID, PAD_ID
from seqlab.errors import SeqlabError
from seqlab.generation import DecodingOptions, generate
from seqlab.generation.processors import (
    NoRepeatNGram,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopP,
    build_processors,
)
from seqlab.generation.select import top_k_rows
from seqlab.models.interface import LanguageModel


def options(strategy: str = "greedy", **kwargs) -> DecodingOptions:
    return DecodingOptions(strategy=strategy, max_len_a=kwargs.pop("a", 10), max_len_b=0, **kwargs)


# --- options ------------------------------------------------------------------------------------


def test_options_from_config_validates_keys_and_values() -> None:
    ok = DecodingOptions.from_config(
        {"strategy": "beam", "max_len_a": 5, "max_len_b": 1.5, "beam_size": 4}
    )
    assert ok.beam_size == 4 and ok.n_best == 1
    with pytest.raises(SeqlabError, match=r"decoding.strategy.*greedy, sample, beam"):
        DecodingOptions.from_config({"strategy": "nucleus", "max_len_a": 1, "max_len_b": 0})
    with pytest.raises(SeqlabError, match=r"'decoding.top_k' does not apply.*decoding=sample"):
        DecodingOptions.from_config(
            {"strategy": "greedy", "max_len_a": 1, "max_len_b": 0, "top_k": 5}
        )
    with pytest.raises(SeqlabError, match="decoding.top_p"):
        DecodingOptions.from_config(
            {"strategy": "sample", "max_len_a": 1, "max_len_b": 0, "top_p": 0}
        )
    with pytest.raises(SeqlabError, match=r"decoding.n_best.*beam_size=2"):
        DecodingOptions.from_config(
            {"strategy": "beam", "max_len_a": 1, "max_len_b": 0, "beam_size": 2, "n_best": 3}
        )
    with pytest.raises(SeqlabError, match="decoding.max_len_b' is missing"):
        DecodingOptions.from_config({"strategy": "greedy", "max_len_a": 1})


def test_max_lengths_follow_a_plus_b_times_length_and_caps() -> None:
    opts = DecodingOptions("greedy", max_len_a=3, max_len_b=1.5)
    lengths = torch.tensor([1, 4, 10])
    assert opts.max_lengths(lengths).tolist() == [4, 9, 18]
    assert opts.max_lengths(lengths, cap=8).tolist() == [4, 8, 8]
    fixed = DecodingOptions("greedy", max_len_a=3, max_len_b=1.5, max_new_tokens=7)
    assert fixed.max_lengths(lengths).tolist() == [7, 7, 7]


def test_length_penalties() -> None:
    lengths = torch.tensor([1, 5, 10])
    gnmt = options("beam", length_penalty=0.6).length_penalty_of(lengths)
    plain = options("beam", length_penalty=0.6, length_penalty_form="plain").length_penalty_of(
        lengths
    )
    torch.testing.assert_close(gnmt, ((5 + lengths.float()) / 6) ** 0.6)
    torch.testing.assert_close(plain, lengths.float() ** 0.6)
    assert torch.equal(options("beam").length_penalty_of(lengths), torch.ones(3))


# --- processors ---------------------------------------------------------------------------------

LOGITS = torch.tensor([[2.0, -1.0, 0.5, 3.0, -2.0], [0.0, 1.0, 1.0, -1.0, 4.0]])
NONE = torch.empty(2, 0, dtype=torch.long)


def test_temperature_and_top_k() -> None:
    torch.testing.assert_close(Temperature(2.0)(LOGITS, NONE), LOGITS / 2)
    out = TopK(2)(LOGITS, NONE)
    assert torch.isinf(out).sum(1).tolist() == [3, 2]  # ties at the k-th value are kept
    assert out[0, 3] == 3.0 and out[0, 0] == 2.0 and out[1, 4] == 4.0
    assert torch.equal(TopK(10)(LOGITS, NONE), LOGITS)


def test_top_p_keeps_the_smallest_nucleus() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.9, 0.05, 0.03, 0.02]]))
    kept = ~torch.isinf(TopP(0.8)(logits, NONE[:, :0]))
    assert kept.tolist() == [[True, True, False, False], [True, False, False, False]]
    kept = ~torch.isinf(TopP(0.81)(logits, NONE))
    assert kept[0].tolist() == [True, True, True, False]


def test_repetition_penalty_is_ctrl_style() -> None:
    generated = torch.tensor([[0, 1, 0], [4, 3, 3]])
    out = RepetitionPenalty(2.0)(LOGITS, generated)
    expected = LOGITS.clone()
    expected[0, 0], expected[0, 1] = 1.0, -2.0  # positive divided, negative multiplied
    expected[1, 4], expected[1, 3] = 2.0, -2.0
    torch.testing.assert_close(out, expected)


def _banned_by_loop(generated: list[int], n: int) -> set[int]:
    """Reference: tokens that would repeat an n-gram, found the obvious way."""
    if len(generated) < n:
        return set()
    prefix = tuple(generated[len(generated) - n + 1 :]) if n > 1 else ()
    return {
        generated[i + n - 1]
        for i in range(len(generated) - n + 1)
        if tuple(generated[i : i + n - 1]) == prefix
    }


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_repeat_ngram_matches_a_loop(n: int) -> None:
    torch.manual_seed(n)
    generated = torch.randint(0, 5, (16, 9))
    out = NoRepeatNGram(n)(torch.zeros(16, 5), generated)
    for row in range(16):
        banned = {int(i) for i in torch.isinf(out[row]).nonzero()}
        assert banned == _banned_by_loop(generated[row].tolist(), n)


def test_build_processors_only_adds_what_is_switched_on() -> None:
    assert build_processors(options("greedy")) == []
    sample = options("sample", temperature=0.7, top_k=5, top_p=0.9, repetition_penalty=1.2)
    kinds = [type(p) for p in build_processors(sample)]
    assert kinds == [RepetitionPenalty, Temperature, TopK, TopP]
    # Warpers do not change an argmax or beam ranking, so greedy/beam ignore them.
    assert [type(p) for p in build_processors(options("beam", no_repeat_ngram_size=2))] == [
        NoRepeatNGram
    ]


# --- search on a toy bigram LM ------------------------------------------------------------------

A, B, C = 3, 4, 5


class BigramLM(LanguageModel):
    """A decoder-only 'model' whose next-token distribution depends on the last token only."""

    def __init__(self, table: dict[int, dict[int, float]], vocab: int = 8) -> None:
        super().__init__()
        logits = torch.full((vocab, vocab), -1e9)
        for prev, nexts in table.items():
            for tok, p in nexts.items():
                logits[prev, tok] = math.log(p)
        self.register_buffer("table", logits)

    def forward(self, idx: Tensor) -> Tensor:
        return self.table[idx]

    def features(self, idx: Tensor) -> Tensor:
        return self.table[idx]

    def init_state(self, batch_size: int, device=None, capacity: int | None = None) -> dict:
        return {}

    def prefill(
        self, idx: Tensor, state: dict | None = None, last_only: bool = False
    ) -> tuple[Tensor, dict]:
        return self.table[idx[:, -1:] if last_only else idx], {"last": idx[:, -1]}

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        return self.table[tokens], {"last": tokens}

    @staticmethod
    def reorder_state(state: dict, index: Tensor) -> dict:
        return {k: v.index_select(0, index) for k, v in state.items()}


# From C: A is likelier than B, but A rarely ends while B almost always does.
TOY = BigramLM(
    {
        C: {A: 0.5, B: 0.4, EOS_ID: 0.1},
        A: {A: 0.6, EOS_ID: 0.3, B: 0.1},
        B: {EOS_ID: 0.9, A: 0.1},
    }
)
PROMPT = torch.tensor([[C]])


@pytest.mark.parametrize("cache", [True, False])
def test_greedy_takes_the_locally_best_path(cache: bool) -> None:
    out = generate(TOY, PROMPT, options("greedy", a=3), cache=cache)
    assert out.tokens[0, 0].tolist() == [A, A, A]  # never the <eos>: its budget runs out
    assert out.lengths.tolist() == [[3]]
    assert out.log_probs.item() == pytest.approx(math.log(0.5 * 0.6 * 0.6))


@pytest.mark.parametrize("cache", [True, False])
def test_beam_finds_the_globally_better_ending(cache: bool) -> None:
    out = generate(TOY, PROMPT, options("beam", a=3, beam_size=2, n_best=2), cache=cache)
    # Step 0 keeps A (.5) and B (.4). Step 1 ranks B<eos> .36, AA .30, A<eos> .15, AB .05: B<eos>
    # finishes; A<eos> ranks below the top 2, so it does not (fairseq), and AA, AB go on. Step 2
    # is the last: the top 2, AAA .18 and AA<eos> .09, finish as they are.
    assert out.tokens[0, 0].tolist() == [B, EOS_ID, PAD_ID]
    assert out.tokens[0, 1].tolist() == [A, A, A]
    assert out.lengths.tolist() == [[2, 3]]
    torch.testing.assert_close(out.log_probs, torch.log(torch.tensor([[0.36, 0.18]])))


def test_length_penalty_reranks_finished_hypotheses() -> None:
    # "<eos>" (.3) beats "A <eos>" (.28) on raw log-probability, not once divided by length.
    toy = BigramLM({C: {EOS_ID: 0.3, A: 0.7}, A: {EOS_ID: 0.4, A: 0.6}})
    raw = generate(toy, PROMPT, options("beam", a=3, beam_size=2))
    assert raw.tokens[0, 0].tolist()[:1] == [EOS_ID]  # 0.3 > 0.28
    plain = generate(toy, PROMPT, options("beam", a=3, beam_size=2, length_penalty=1.0,
                                          length_penalty_form="plain"))  # fmt: skip
    assert plain.tokens[0, 0].tolist() == [A, EOS_ID]  # log(.28)/2 > log(.3)/1
    assert plain.scores.item() == pytest.approx(math.log(0.28) / 2)


def test_beam_size_one_equals_greedy_on_the_toy() -> None:
    greedy = generate(TOY, PROMPT, options("greedy", a=5))
    beam = generate(TOY, PROMPT, options("beam", a=5, beam_size=1))
    assert torch.equal(greedy.tokens, beam.tokens)
    torch.testing.assert_close(greedy.log_probs, beam.log_probs)


def test_no_repeat_ngram_in_beam_search() -> None:
    out = generate(TOY, PROMPT, options("beam", a=6, beam_size=2, n_best=2, no_repeat_ngram_size=1))
    for hyp in out.tokens[0].tolist():
        real = [t for t in hyp if t not in (PAD_ID, EOS_ID)]
        assert len(real) == len(set(real))


def test_sampling_is_seeded_and_follows_the_distribution() -> None:
    prompts = torch.full((4000, 1), C)
    first = generate(TOY, prompts, options("sample", a=1, seed=7))
    again = generate(TOY, prompts, options("sample", a=1, seed=7))
    other = generate(TOY, prompts, options("sample", a=1, seed=8))
    assert torch.equal(first.tokens, again.tokens) and not torch.equal(first.tokens, other.tokens)
    share = {t: (first.tokens[:, 0, 0] == t).float().mean().item() for t in (A, B, EOS_ID)}
    assert share[A] == pytest.approx(0.5, abs=0.03) and share[B] == pytest.approx(0.4, abs=0.03)
    top1 = generate(TOY, prompts[:50], options("sample", a=1, top_k=1))
    assert (top1.tokens[:, 0, 0] == A).all()


def test_sampling_n_best_returns_independent_draws_best_first() -> None:
    out = generate(TOY, torch.full((3, 1), C), options("sample", a=4, n_best=6, seed=1))
    assert out.tokens.shape[:2] == (3, 6)
    assert (out.scores[:, :-1] >= out.scores[:, 1:]).all()
    assert len({tuple(h) for h in out.tokens[0].tolist()}) > 1


# --- selection ----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [50, 3000, 6011])
def test_top_k_rows_equals_torch_topk(width: int) -> None:
    torch.manual_seed(width)
    x = torch.randn(37, width)
    x[3, : width // 2] = float("-inf")  # banned tokens
    x[5] = x[5] * 1e-3 + 7.0  # a flat row
    for k in (1, 10):
        values, indices = top_k_rows(x, k)
        expected = x.topk(k, dim=-1)
        assert torch.equal(values, expected.values) and torch.equal(indices, expected.indices)


def test_beam_search_over_a_wide_vocabulary_uses_fast_selection(monkeypatch) -> None:
    from seqlab.generation import beam
    from seqlab.models import GPT

    torch.manual_seed(0)
    model = GPT(3000, block_size=32, n_layer=1, n_head=2, n_embd=16).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(100.0)  # peaky distributions
    prompt = torch.randint(3, 3000, (4, 5))
    opts = options("beam", a=6, beam_size=5, n_best=5, length_penalty=0.6)
    fast = generate(model, prompt, opts)
    monkeypatch.setattr(beam, "top_k_rows", lambda x, k: x.topk(k, dim=-1))
    plain = generate(model, prompt, opts)
    assert torch.equal(fast.tokens, plain.tokens)
    torch.testing.assert_close(fast.scores, plain.scores)
