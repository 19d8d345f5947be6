"""Tests for seqlab.models: shapes, masking, incremental decoding, parameter counts, learning."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

import seqlab.models
from seqlab.models import GPT, RNNLM, RNNSeq2Seq, TransformerSeq2Seq

SRC_VOCAB, TGT_VOCAB = 13, 11
ATTENTIONS = ["none", "bahdanau", "luong"]
ATOL = 1e-5


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def tokens(shape: tuple[int, ...], vocab: int, pad_id: int = 0) -> torch.Tensor:
    """Random ids in [0, vocab) that are never ``pad_id``."""
    ids = torch.randint(0, vocab - 1, shape)
    return ids + (ids >= pad_id).long()


def right_pad(seq: torch.Tensor, length: int, pad_id: int = 0) -> torch.Tensor:
    return F.pad(seq, (0, length - seq.size(1)), value=pad_id)


def gru(**kwargs) -> RNNSeq2Seq:
    sizes = {"embed_dim": 16, "hidden_size": 24, "num_layers": 2, "dropout": 0.0}
    return RNNSeq2Seq(SRC_VOCAB, TGT_VOCAB, **{**sizes, **kwargs})


def transformer(**kwargs) -> TransformerSeq2Seq:
    sizes = {"d_model": 32, "n_heads": 4, "n_encoder_layers": 2, "n_decoder_layers": 2}
    sizes.update(d_ff=64, dropout=0.0, max_len=32)
    return TransformerSeq2Seq(SRC_VOCAB, TGT_VOCAB, **{**sizes, **kwargs})


def gpt(**kwargs) -> GPT:
    sizes = {"block_size": 16, "n_layer": 2, "n_head": 4, "n_embd": 32}
    return GPT(TGT_VOCAB, **{**sizes, **kwargs})


def gru_lm(**kwargs) -> RNNLM:
    return RNNLM(TGT_VOCAB, **{"embed_dim": 16, "hidden_size": 24, **kwargs})


# name -> (factory, keyword arguments); tests may add more keywords.
SEQ2SEQ = {
    "gru-none": (gru, {"attention": "none"}),
    "gru-bahdanau": (gru, {"attention": "bahdanau"}),
    "gru-luong": (gru, {"attention": "luong"}),
    "gru-bahdanau-unidirectional": (gru, {"attention": "bahdanau", "bidirectional": False}),
    "gru-luong-1layer-unidirectional": (
        gru,
        {"attention": "luong", "num_layers": 1, "bidirectional": False},
    ),
    "lstm-none": (gru, {"attention": "none", "cell": "lstm"}),
    "lstm-bahdanau": (gru, {"attention": "bahdanau", "cell": "lstm"}),
    "lstm-luong": (gru, {"attention": "luong", "cell": "lstm"}),
    "lstm-bahdanau-unidirectional": (
        gru,
        {"attention": "bahdanau", "bidirectional": False, "cell": "lstm"},
    ),
    "transformer": (transformer, {}),
    "transformer-sinusoidal-tied": (
        transformer,
        {"pos_encoding": "sinusoidal", "tie_embeddings": True},
    ),
    "transformer-nobias": (transformer, {"bias": False}),
}
LMS = {
    "gpt": (gpt, {}),
    "gpt-untied-nobias": (gpt, {"tie_embeddings": False, "bias": False}),
    "gru-lm": (gru_lm, {}),
    "gru-lm-tied-1layer": (gru_lm, {"embed_dim": 24, "tie_embeddings": True, "num_layers": 1}),
    "lstm-lm": (gru_lm, {"cell": "lstm"}),
}


def make(name: str, **kwargs):
    factory, defaults = {**SEQ2SEQ, **LMS}[name]
    return factory(**{**defaults, **kwargs})


def stepwise(model, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
    """Seq2seq logits (B, T, V) from ``step`` fed the gold tokens one by one."""
    state = model.init_state(model.encode(src))
    logits = []
    for t in range(tgt_in.size(1)):
        step_logits, state = model.step(tgt_in[:, t], state)
        logits.append(step_logits)
    return torch.stack(logits, dim=1)


# --- shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_seq2seq_shapes(name: str) -> None:
    model = make(name)
    src, tgt = tokens((3, 7), SRC_VOCAB), tokens((3, 5), TGT_VOCAB)
    assert model(src, tgt).shape == (3, 5, TGT_VOCAB)
    enc = model.encode(src)
    assert enc["src_mask"].dtype == torch.bool and enc["src_mask"].shape == (3, 7)
    assert enc["memory"].shape[:2] == (3, 7)
    state = model.init_state(enc)
    assert all(value.size(0) == 3 for value in state.values())
    logits, state = model.step(tgt[:, 0], state)
    assert logits.shape == (3, TGT_VOCAB)
    assert all(value.size(0) == 3 for value in state.values())


@pytest.mark.parametrize("name", LMS)
def test_lm_shapes(name: str) -> None:
    model = make(name)
    idx = tokens((3, 9), TGT_VOCAB)
    assert model(idx).shape == (3, 9, TGT_VOCAB)
    logits, state = model.step(idx[:, 0], model.init_state(3, idx.device))
    assert logits.shape == (3, TGT_VOCAB)
    assert all(value.size(0) == 3 for value in state.values())


# --- padding and causality ----------------------------------------------------------------------


@pytest.mark.parametrize("pad_id", [0, 3])
@pytest.mark.parametrize("name", SEQ2SEQ)
def test_padding_does_not_change_real_positions(name: str, pad_id: int) -> None:
    model = make(name, pad_id=pad_id)
    model.eval()
    short_src, long_src = tokens((1, 4), SRC_VOCAB, pad_id), tokens((1, 8), SRC_VOCAB, pad_id)
    short_tgt, long_tgt = tokens((1, 3), TGT_VOCAB, pad_id), tokens((1, 6), TGT_VOCAB, pad_id)
    src = torch.cat([right_pad(short_src, 8, pad_id), long_src])
    tgt = torch.cat([right_pad(short_tgt, 6, pad_id), long_tgt])
    with torch.no_grad():
        batched = model(src, tgt)
        alone_short = model(short_src, short_tgt)
        alone_long = model(long_src, long_tgt)
    torch.testing.assert_close(batched[0, :3], alone_short[0], atol=ATOL, rtol=0)
    torch.testing.assert_close(batched[1], alone_long[0], atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", ["gru-none", "gru-bahdanau", "gru-luong", "transformer"])
def test_empty_source_gives_finite_outputs(name: str) -> None:
    model = make(name)
    src = torch.cat([torch.zeros(1, 5, dtype=torch.long), tokens((1, 5), SRC_VOCAB)])
    logits = model(src, tokens((2, 4), TGT_VOCAB))
    assert torch.isfinite(logits).all()


def _future_change_keeps_past(run, idx: torch.Tensor, position: int, vocab: int) -> None:
    changed = idx.clone()
    changed[:, position] = (changed[:, position] + 1) % vocab
    with torch.no_grad():
        before, after = run(idx), run(changed)
    torch.testing.assert_close(before[:, :position], after[:, :position], atol=ATOL, rtol=0)
    assert not torch.allclose(before[:, position:], after[:, position:])


@pytest.mark.parametrize("name", LMS)
def test_lm_is_causal(name: str) -> None:
    model = make(name).eval()
    _future_change_keeps_past(model, tokens((2, 10), TGT_VOCAB), 6, TGT_VOCAB)


@pytest.mark.parametrize("name", ["transformer", "gru-bahdanau", "gru-luong", "gru-none"])
def test_seq2seq_decoder_is_causal(name: str) -> None:
    model = make(name).eval()
    src = tokens((2, 6), SRC_VOCAB)
    _future_change_keeps_past(lambda tgt: model(src, tgt), tokens((2, 8), TGT_VOCAB), 5, TGT_VOCAB)


# --- incremental decoding -----------------------------------------------------------------------


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_seq2seq_step_matches_forward(name: str) -> None:
    model = make(name).eval()
    src = torch.cat([right_pad(tokens((1, 4), SRC_VOCAB), 7), tokens((2, 7), SRC_VOCAB)])
    tgt = tokens((3, 6), TGT_VOCAB)
    with torch.no_grad():
        torch.testing.assert_close(stepwise(model, src, tgt), model(src, tgt), atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", LMS)
def test_lm_step_and_prefill_match_forward(name: str) -> None:
    model = make(name).eval()
    idx = tokens((3, 12), TGT_VOCAB)
    with torch.no_grad():
        full = model(idx)
        prompt_logits, state = model.prefill(idx[:, :5])
        logits = [prompt_logits]
        for t in range(5, 9):
            step_logits, state = model.step(idx[:, t], state)
            logits.append(step_logits.unsqueeze(1))
        # A second multi-token chunk on top of a non-empty cache.
        chunk_logits, state = model.prefill(idx[:, 9:], state)
        logits.append(chunk_logits)
    torch.testing.assert_close(torch.cat(logits, dim=1), full, atol=ATOL, rtol=0)


def test_gpt_step_from_empty_state_matches_forward() -> None:
    model = gpt().eval()
    idx = tokens((2, 16), TGT_VOCAB)
    state = model.init_state(2, idx.device)
    logits = []
    with torch.no_grad():
        for t in range(16):
            step_logits, state = model.step(idx[:, t], state)
            logits.append(step_logits)
        torch.testing.assert_close(torch.stack(logits, 1), model(idx), atol=ATOL, rtol=0)


def _check_reorder(model, state: dict, next_tokens: torch.Tensor) -> None:
    index = torch.tensor([2, 0, 0, 1])
    reordered = model.reorder_state(state, index)
    assert reordered.keys() == state.keys()
    for name, value in reordered.items():
        torch.testing.assert_close(value, state[name][index])
    with torch.no_grad():
        expected, _ = model.step(next_tokens, state)
        got, _ = model.step(next_tokens[index], reordered)
    torch.testing.assert_close(got, expected[index], atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_seq2seq_reorder_state(name: str) -> None:
    model = make(name).eval()
    src = torch.cat([right_pad(tokens((1, 3), SRC_VOCAB), 6), tokens((2, 6), SRC_VOCAB)])
    tgt = tokens((3, 3), TGT_VOCAB)
    with torch.no_grad():
        state = model.init_state(model.encode(src))
        for t in range(2):
            _, state = model.step(tgt[:, t], state)
    _check_reorder(model, state, tgt[:, 2])


@pytest.mark.parametrize("name", LMS)
def test_lm_reorder_state(name: str) -> None:
    model = make(name).eval()
    idx = tokens((3, 5), TGT_VOCAB)
    with torch.no_grad():
        _, state = model.prefill(idx[:, :4])
    _check_reorder(model, state, idx[:, 4])


# --- teacher forcing ----------------------------------------------------------------------------


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_teacher_forcing_ratio_zero_feeds_predictions(attention: str) -> None:
    # No dropout, so train and eval mode differ only in teacher forcing.
    sampled = gru(attention=attention, teacher_forcing_ratio=0.0)
    forced = gru(attention=attention)
    forced.load_state_dict(sampled.state_dict())
    src, tgt = tokens((4, 6), SRC_VOCAB), tokens((4, 7), TGT_VOCAB)
    with torch.no_grad():
        train_sampled, train_forced = sampled.train()(src, tgt), forced.train()(src, tgt)
        eval_sampled, eval_forced = sampled.eval()(src, tgt), forced.eval()(src, tgt)
        # Greedy decoding: after <bos> every input is the previous argmax.
        state = sampled.init_state(sampled.encode(src))
        token, greedy = tgt[:, 0], []
        for _ in range(tgt.size(1)):
            logits, state = sampled.step(token, state)
            token = logits.argmax(-1)
            greedy.append(logits)
    assert not torch.allclose(train_sampled, train_forced)
    torch.testing.assert_close(train_sampled, torch.stack(greedy, 1), atol=ATOL, rtol=0)
    torch.testing.assert_close(train_forced, eval_forced, atol=ATOL, rtol=0)
    torch.testing.assert_close(eval_sampled, eval_forced, atol=ATOL, rtol=0)


def test_partial_teacher_forcing_is_reproducible_and_differentiable() -> None:
    model = gru(attention="luong", teacher_forcing_ratio=0.5).train()
    src, tgt = tokens((4, 6), SRC_VOCAB), tokens((4, 9), TGT_VOCAB)
    torch.manual_seed(1)
    first = model(src, tgt)
    torch.manual_seed(1)
    torch.testing.assert_close(model(src, tgt), first)
    first.sum().backward()
    assert model.decoder.embedding.weight.grad is not None


def test_invalid_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="attention"):
        gru(attention="dot")
    with pytest.raises(ValueError, match="teacher_forcing_ratio"):
        gru(attention="luong", teacher_forcing_ratio=1.5)
    with pytest.raises(ValueError, match="tie_embeddings"):
        RNNLM(TGT_VOCAB, embed_dim=16, hidden_size=24, tie_embeddings=True)
    with pytest.raises(ValueError, match="pos_encoding"):
        transformer(pos_encoding="rotary")
    with pytest.raises(ValueError, match="n_heads"):
        transformer(n_heads=5)


# --- GPT specifics ------------------------------------------------------------------------------


def test_gpt_rejects_context_longer_than_block_size() -> None:
    model = gpt(block_size=8).eval()
    with pytest.raises(ValueError, match="block_size"):
        model(tokens((1, 9), TGT_VOCAB))
    _, state = model.prefill(tokens((1, 8), TGT_VOCAB))
    with pytest.raises(ValueError, match="block_size"):
        model.step(tokens((1,), TGT_VOCAB), state)


def test_transformer_rejects_sequences_longer_than_max_len() -> None:
    model = transformer(max_len=4)
    with pytest.raises(ValueError, match="max_len"):
        model(tokens((1, 5), SRC_VOCAB), tokens((1, 3), TGT_VOCAB))


def test_gpt_parameter_count() -> None:
    vocab, block, n_embd, n_layer = 65, 64, 128, 4
    model = GPT(vocab, block_size=block, n_layer=n_layer, n_head=4, n_embd=n_embd)
    wte = vocab * n_embd  # 8_320, shared with the LM head
    wpe = block * n_embd  # 8_192
    layer_norm = 2 * n_embd  # weight + bias = 256
    qkv = n_embd * 3 * n_embd + 3 * n_embd  # 49_536
    attn_out = n_embd * n_embd + n_embd  # 16_512
    fc1 = n_embd * 4 * n_embd + 4 * n_embd  # 66_048
    fc2 = 4 * n_embd * n_embd + n_embd  # 65_664
    block_params = 2 * layer_norm + qkv + attn_out + fc1 + fc2  # 198_272
    expected = wte + wpe + n_layer * block_params + layer_norm  # 809_856
    assert expected == 809_856
    assert model.num_parameters() == expected
    assert model.num_parameters(exclude_embeddings=True) == expected - wte - wpe
    assert model.lm_head.weight is model.embed.token.weight


def test_gpt_init_scales_residual_projections() -> None:
    model = GPT(TGT_VOCAB, block_size=16, n_layer=8, n_head=4, n_embd=256)
    residual = model.blocks[0].attn.out_proj.weight.std().item()
    other = model.blocks[0].attn.qkv_proj.weight.std().item()
    assert residual == pytest.approx(0.02 / 4, rel=0.1)
    assert other == pytest.approx(0.02, rel=0.1)


def test_transformer_tie_embeddings() -> None:
    joint = TransformerSeq2Seq(20, 20, d_model=16, n_heads=2, d_ff=32, tie_embeddings=True)
    assert joint.decoder.lm_head.weight is joint.decoder.embed.token.weight
    assert joint.encoder.embed.token.weight is joint.decoder.embed.token.weight
    split = TransformerSeq2Seq(20, 30, d_model=16, n_heads=2, d_ff=32, tie_embeddings=True)
    assert split.decoder.lm_head.weight is split.decoder.embed.token.weight
    assert split.encoder.embed.token.weight is not split.decoder.embed.token.weight
    untied = TransformerSeq2Seq(20, 20, d_model=16, n_heads=2, d_ff=32)
    assert joint.num_parameters() == untied.num_parameters() - 2 * 20 * 16


def test_count_parameters_counts_a_table_shared_by_encoder_decoder_and_head_once() -> None:
    """results.json, the plan and the model card report this count: a table the encoder, decoder
    and output projection share is one table (a per-module sum would count it three times)."""
    from seqlab.models.utils import count_parameters

    joint = TransformerSeq2Seq(20, 20, d_model=16, n_heads=2, d_ff=32, tie_embeddings=True)
    untied = TransformerSeq2Seq(20, 20, d_model=16, n_heads=2, d_ff=32)
    shared, separate = count_parameters(joint), count_parameters(untied)
    assert shared["total"] == separate["total"] - 2 * 20 * 16 == joint.num_parameters()
    assert shared["embedding"] == separate["embedding"] - 20 * 16  # one token table, not two
    assert shared["non_embedding"] == separate["non_embedding"] - 20 * 16  # no separate head


# --- learning -----------------------------------------------------------------------------------


def _reverse_task() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Five sequences to reverse; ids 0 pad, 1 bos, 2 eos, 3.. symbols."""
    src = torch.randint(3, 10, (5, 5))
    src[0, 3:] = 0  # one shorter source exercises padding
    reversed_src = torch.stack([row[row != 0].flip(0) for row in src[1:]])
    short = src[0, :3].flip(0)
    body = torch.cat([right_pad(short.unsqueeze(0), 5), reversed_src])
    lengths = (body != 0).sum(1)
    tgt_out = torch.cat([body, torch.zeros(5, 1, dtype=torch.long)], dim=1)
    tgt_out[torch.arange(5), lengths] = 2
    tgt_in = torch.cat([torch.ones(5, 1, dtype=torch.long), tgt_out[:, :-1]], dim=1)
    tgt_in[tgt_in == 2] = 0
    return src, tgt_in, tgt_out


@pytest.mark.parametrize(
    ("make", "lr"),
    [
        (lambda: RNNSeq2Seq(10, 10, embed_dim=16, hidden_size=32, dropout=0.0), 1e-2),
        (
            lambda: TransformerSeq2Seq(
                10,
                10,
                d_model=32,
                n_heads=2,
                n_encoder_layers=1,
                n_decoder_layers=1,
                d_ff=64,
                dropout=0.0,
                max_len=8,
            ),
            3e-3,
        ),
    ],
    ids=["gru-bahdanau", "transformer"],
)
def test_overfits_reversal(make, lr: float) -> None:
    model = make()
    src, tgt_in, tgt_out = _reverse_task()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(100):
        logits = model(src, tgt_in)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


# --- house rules --------------------------------------------------------------------------------


def test_models_import_only_torch() -> None:
    banned = {"lightning", "pytorch_lightning", "hydra", "omegaconf", "tokenizers"}
    for path in Path(seqlab.models.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & banned, f"{path.name} imports {roots & banned}"


# --- source lengths from the host ---------------------------------------------------------------


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_host_source_lengths_give_the_same_logits(name: str) -> None:
    model = make(name)
    model.eval()
    short = [right_pad(tokens((1, n), SRC_VOCAB), 8) for n in (4, 2, 4)]
    src = torch.cat([short[0], tokens((1, 8), SRC_VOCAB), short[1], short[2]])  # unsorted, a tie
    tgt = tokens((4, 5), TGT_VOCAB)
    with torch.no_grad():
        counted = model(src, tgt)
        given = model(src, tgt, src_lengths=torch.tensor([4, 8, 2, 4]))
        torch.testing.assert_close(given, counted, atol=ATOL, rtol=0)
        if name.startswith("gru"):  # the GRU packs with the given lengths, not its own count
            cut = model(src, tgt, src_lengths=torch.tensor([4, 7, 2, 4]))  # same order
            assert not torch.allclose(cut[1], counted[1])
            torch.testing.assert_close(cut[[0, 2, 3]], counted[[0, 2, 3]], atol=ATOL, rtol=0)


def test_seq2seq_training_step_packs_with_the_collated_lengths(data_root, tmp_path, monkeypatch):
    """No device-to-host copy of the lengths: the batch keeps the collated (host) tensor."""
    from hydra import compose, initialize_config_module

    from seqlab.lit.build import build_datamodule, build_module, build_net

    with initialize_config_module("seqlab.conf", version_base="1.3"):
        cfg = compose("train", ["model=gru_seq2seq", "size=tiny", f"paths.data_dir={data_root}",
                                f"paths.cache_dir={tmp_path}", f"paths.output_dir={tmp_path}"])  # fmt: skip
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    module = build_module(
        cfg, datamodule.tokenizer_states(), build_net(cfg.model, datamodule.tokenizers)
    )
    batch = next(iter(datamodule.train_dataloader()))
    on_meta = datamodule.transfer_batch_to_device(dict(batch), torch.device("meta"), 0)
    assert on_meta["src"].is_meta and on_meta["src_lengths_host"] is batch["src_lengths"]

    def no_copy(self, *args, **kwargs):
        raise AssertionError("Tensor.cpu() called in the training step")

    packs = []

    def pack(*args, **kwargs):  # unsorted packing copies its order host <-> device (2 syncs)
        packs.append(kwargs["enforce_sorted"])
        return pack_padded_sequence(*args, **kwargs)

    on_cpu = datamodule.transfer_batch_to_device(dict(batch), torch.device("cpu"), 0)
    monkeypatch.setattr(torch.Tensor, "cpu", no_copy)
    monkeypatch.setattr("seqlab.models.rnn_encoder.pack_padded_sequence", pack)
    logits, _ = module._logits(on_cpu)
    assert logits.shape[:2] == batch["tgt"][:, 1:].shape and packs == [True]

    # Lightning calls the data module's hook (no warning about the module's) in real training.
    monkeypatch.undo()
    monkeypatch.setattr("seqlab.models.rnn_encoder.pack_padded_sequence", pack)
    packs.clear()
    trainer = L.Trainer(
        accelerator="cpu", max_steps=2, limit_val_batches=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        # (and the hint Lightning prints on any machine with Slurm's srun: the Slurm tests install it)
        warnings.filterwarnings(
            "ignore", message=".*(LeafSpec|does not have many workers|.srun. command is avail).*"
        )
        trainer.fit(module, datamodule=datamodule)
    assert packs == [True, True]


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_masks_like_nn_dropout(p):
    """seqlab's CPU dropout: keep rate 1 - p, survivors scaled by 1 / (1 - p), gradient through
    the same mask, identity in eval mode; the same distribution as nn.Dropout's."""
    from seqlab.models.utils import Dropout

    torch.manual_seed(0)
    x = torch.randn(200, 500, requires_grad=True)
    drop = Dropout(p).train()
    y = drop(x)
    kept = y != 0
    assert kept.float().mean().item() == pytest.approx(1 - p, abs=0.01)
    torch.testing.assert_close(y[kept], x[kept] / (1 - p))
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / (1 - p))
    reference = torch.nn.Dropout(p).train()(x)  # nn.Dropout's statistics on the same input
    assert (reference != 0).float().mean().item() == pytest.approx(1 - p, abs=0.01)
    assert y.mean().item() == pytest.approx(x.mean().item(), abs=0.02)
    assert torch.equal(drop.eval()(x), x)


def test_dropout_is_seeded_and_leaves_other_dtypes_to_pytorch():
    from seqlab.models.utils import Dropout

    x = torch.randn(64, 64)
    torch.manual_seed(3)
    a = Dropout(0.3).train()(x)
    torch.manual_seed(3)
    assert torch.equal(a, Dropout(0.3).train()(x))  # the run's seed fixes the mask
    half = x.bfloat16()
    torch.manual_seed(3)
    expected = torch.nn.Dropout(0.3).train()(half)
    torch.manual_seed(3)
    assert torch.equal(Dropout(0.3).train()(half), expected)  # nn.Dropout's own path


def test_models_use_seqlab_dropout():
    """Every dropout module of every architecture is seqlab's (no nn.Dropout left behind)."""
    from seqlab.models.utils import Dropout

    nets = [
        GPT(vocab_size=11, block_size=8, n_layer=1, n_head=1, n_embd=8, dropout=0.1),
        RNNLM(vocab_size=11, embed_dim=8, hidden_size=8, num_layers=1, dropout=0.1),
        RNNSeq2Seq(11, 11, embed_dim=8, hidden_size=8, num_layers=1, dropout=0.1, pad_id=0),
        TransformerSeq2Seq(11, 11, d_model=8, n_heads=1, n_encoder_layers=1,
                           n_decoder_layers=1, d_ff=16, dropout=0.1, pad_id=0),
    ]  # fmt: skip
    for net in nets:
        drops = [m for m in net.modules() if isinstance(m, torch.nn.Dropout)]
        assert drops and all(type(m) is Dropout for m in drops), type(net).__name__


def _bahdanau_reference(decoder, emb: torch.Tensor, state: dict) -> torch.Tensor:
    """The textbook loop over the same weights: nn.GRUCell / nn.LSTMCell calls and the
    attention's forward."""
    hidden = list(state["hidden"].unbind(1))
    cells = list(state["cell"].unbind(1)) if "cell" in state else None
    mask = state["bias"] == 0
    tops, contexts = [], []
    for t in range(emb.size(1)):
        context, _ = decoder.attention(hidden[-1], state["keys"], state["memory"], mask)
        x = torch.cat([emb[:, t], context], dim=-1)
        for layer, cell in enumerate(decoder.cells):
            if cells is None:
                x = hidden[layer] = cell(x, hidden[layer])
            else:
                hidden[layer], cells[layer] = cell(x, (hidden[layer], cells[layer]))
                x = hidden[layer]
        tops.append(x)
        contexts.append(context)
    return decoder._logits(decoder._readout(torch.stack(tops, 1), emb, torch.stack(contexts, 1)))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_fused_bahdanau_loop_matches_textbook_cells(num_layers: int, cell: str) -> None:
    model = gru(attention="bahdanau", num_layers=num_layers, dropout=0.0, cell=cell)
    src, tgt = tokens((4, 6), SRC_VOCAB), tokens((4, 5), TGT_VOCAB)
    src[1, 3:] = 0  # a padded source: the additive mask must blank those positions
    decoder = model.decoder
    state = decoder.init_state(model.encode(src))
    emb = decoder.embedding(tgt)
    fused = decoder._teacher_forced(emb, state)
    torch.testing.assert_close(fused, _bahdanau_reference(decoder, emb, state), atol=ATOL, rtol=0)
    # Gradients reach every cell and attention weight through the fused loop.
    fused.sum().backward()
    for name, p in decoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_lstm_cells_and_states() -> None:
    """cell=lstm builds LSTMs everywhere and carries memory cells through decoding."""
    model = gru(attention="bahdanau", cell="lstm")
    assert all(isinstance(c, torch.nn.LSTMCell) for c in model.decoder.cells)
    assert isinstance(model.encoder.rnn, torch.nn.LSTM)
    state = model.init_state(model.encode(tokens((3, 5), SRC_VOCAB)))
    assert state["cell"].shape == state["hidden"].shape == (3, 2, 24)
    lm = gru_lm(cell="lstm")
    _, lm_state = lm.prefill(tokens((2, 4), TGT_VOCAB))
    assert set(lm_state) == {"hidden", "cell"}
    with pytest.raises(ValueError, match="cell must be one of gru, lstm"):
        gru(cell="rnn")
