"""Preallocated KV caches (``KVBuffer``): same decodes as recomputation and as the ``torch.cat``
caches they replace, reordered correctly for beam search, slid correctly past GPT's context, and
allocated once per decode rather than once per step."""

from __future__ import annotations

import pytest
import torch

from seqlab.data.tokenizers import EOS_ID, PAD_ID
from seqlab.generation import DecodingOptions, generate
from seqlab.models import GPT, TransformerSeq2Seq
from seqlab.models.transformer import KVBuffer

VOCAB = 12

pytestmark = pytest.mark.usefixtures("one_thread")


def gpt(block_size: int = 32) -> GPT:
    torch.manual_seed(0)
    return GPT(VOCAB, block_size=block_size, n_layer=2, n_head=2, n_embd=16).eval()


def seq2seq(max_len: int = 40) -> TransformerSeq2Seq:
    torch.manual_seed(0)
    return TransformerSeq2Seq(VOCAB, VOCAB, d_model=16, n_heads=2, n_encoder_layers=1,
                              n_decoder_layers=2, d_ff=32, dropout=0.0, max_len=max_len).eval()  # fmt: skip


def sources(batch: int = 4, length: int = 6) -> torch.Tensor:
    torch.manual_seed(1)
    src = torch.randint(3, VOCAB, (batch, length))
    src[1, 3:] = PAD_ID  # one shorter source
    src[1, 2] = EOS_ID
    return src


def prompts(batch: int = 4, length: int = 5) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randint(3, VOCAB, (batch, length))


STRATEGIES = [
    DecodingOptions("greedy", 0, 0),
    DecodingOptions("sample", 0, 0, n_best=2, seed=3),
    DecodingOptions("beam", 0, 0, beam_size=3, n_best=3),
]


def _with_budget(options: DecodingOptions, new_tokens: int) -> DecodingOptions:
    return DecodingOptions(
        options.strategy, 0, 0, max_new_tokens=new_tokens, beam_size=options.beam_size,
        n_best=options.n_best, seed=options.seed,
    )  # fmt: skip


def _assert_same(a, b, exact: bool) -> None:
    assert torch.equal(a.tokens, b.tokens)
    assert torch.equal(a.lengths, b.lengths)
    if exact:
        assert torch.equal(a.scores, b.scores)
    else:
        torch.testing.assert_close(a.scores, b.scores, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("options", STRATEGIES, ids=lambda o: o.strategy)
@pytest.mark.parametrize(
    ("kind", "new_tokens", "block_size"),
    [
        ("gpt", 1, 32),
        ("gpt", 7, 32),
        ("gpt", 20, 32),
        ("gpt", 12, 8),  # prompt 5 + 12 > 8: the window slides
        ("seq2seq", 1, None),
        ("seq2seq", 9, None),
        ("seq2seq", 25, None),
    ],
)
def test_preallocated_equals_recompute_and_cat_cache(kind, new_tokens, block_size, options):
    model = gpt(block_size) if kind == "gpt" else seq2seq()
    inputs = prompts() if kind == "gpt" else sources()
    options = _with_budget(options, new_tokens)
    # eos_id=None: every row decodes its whole budget, through every cache position.
    for eos_id in (None, EOS_ID):
        new = generate(model, inputs, options, eos_id=eos_id)
        old = generate(model, inputs, options, eos_id=eos_id, preallocate=False)
        full = generate(model, inputs, options, eos_id=eos_id, cache=False)
        _assert_same(new, old, exact=True)
        _assert_same(new, full, exact=False)
        if eos_id is None:
            assert new.tokens.size(-1) == new_tokens


def _record_stores(model, monkeypatch) -> list[int]:
    """data_ptr of layer 0's key buffer after every model call (GPT's ``step`` is a ``prefill``)."""
    seen: list[int] = []
    name = "prefill" if hasattr(model, "prefill") else "step"
    original = getattr(model, name)

    def wrapped(tokens, state=None, **options):
        logits, new = original(tokens, state, **options)
        cache = new.get("self_k0", new.get("k0"))
        assert isinstance(cache, KVBuffer), type(cache)
        seen.append(cache.store.data_ptr())
        return logits, new

    monkeypatch.setattr(model, name, wrapped)
    return seen


@pytest.mark.parametrize("kind", ["gpt", "gpt-sliding", "seq2seq"])
def test_greedy_decoding_never_reallocates_the_cache(kind, monkeypatch) -> None:
    model = gpt(8 if kind == "gpt-sliding" else 32) if kind != "seq2seq" else seq2seq()
    inputs = sources() if kind == "seq2seq" else prompts()
    seen = _record_stores(model, monkeypatch)
    generate(model, inputs, DecodingOptions("greedy", 0, 0, max_new_tokens=15), eos_id=None)
    assert len(seen) == 15  # start, then one call per fed-back token
    assert len(set(seen)) == 1


@pytest.mark.parametrize("kind", ["gpt", "seq2seq"])
def test_beam_search_reorders_in_place_after_the_first_expansion(kind, monkeypatch) -> None:
    model = gpt() if kind == "gpt" else seq2seq()
    inputs = prompts() if kind == "gpt" else sources()
    seen = _record_stores(model, monkeypatch)
    options = DecodingOptions("beam", 0, 0, max_new_tokens=12, beam_size=3, n_best=1)
    generate(model, inputs, options, eos_id=None)
    # One store for the B inputs, one for their B x K beams, written in place from then on.
    assert len(set(seen)) == 2
    assert len(set(seen[1:])) == 1


def test_step_writes_in_place_and_matches_the_cat_cache() -> None:
    model = gpt()
    idx = prompts(3, 12)
    with torch.no_grad():
        _, grown = model.prefill(idx[:, :4])
        _, buffered = model.prefill(idx[:, :4], model.init_state(3, capacity=12))
        store = buffered["v1"].store
        for t in range(4, 12):
            want, grown = model.step(idx[:, t], grown)
            got, buffered = model.step(idx[:, t], buffered)
            assert buffered["v1"].store is store
            assert torch.equal(got, want)
        for name, value in grown.items():
            assert torch.equal(buffered[name].tensor, value)


def test_kv_buffer_reorders_like_index_select() -> None:
    torch.manual_seed(0)
    full = torch.randn(3, 2, 5, 4)
    buffer = KVBuffer(torch.zeros(3, 2, 8, 4), 3).append(full)
    store = buffer.store
    for index in ([2, 0, 0], [1, 0], [1, 1, 0, 0, 1]):  # permute, shrink, grow
        index = torch.tensor(index)
        full = full.index_select(0, index)
        buffer = buffer.index_select(0, index)
        assert torch.equal(buffer.tensor, full)
        assert buffer.capacity == 8
        assert (buffer.store is store) == (index.numel() <= 3)
    extra = torch.randn(5, 2, 1, 4)
    buffer = buffer.append(extra)
    assert torch.equal(buffer.tensor, torch.cat([full, extra], dim=2))


def test_kv_buffer_grows_past_an_undersized_capacity() -> None:
    x = torch.randn(2, 2, 3, 4)
    buffer = KVBuffer(torch.zeros(2, 2, 2, 4), 2).append(x[:, :, :2]).append(x[:, :, 2:])
    assert buffer.capacity >= 3
    assert torch.equal(buffer.tensor, x)


def test_seq2seq_capacity_is_capped_by_max_len() -> None:
    model = seq2seq(max_len=10)
    state = model.init_state(model.encode(sources()), capacity=50)
    assert state["self_k0"].capacity == 10
    assert state["cross_k0"].shape[2] == sources().size(1)  # cross-attention K/V as before
