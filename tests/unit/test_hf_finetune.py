"""Fine-tuning controls of the `transformers` adapters: frozen parts found by the model's own
accessors, gradient checkpointing that computes the same gradients, and LoRA layers that alone
train and merge back into a plain model."""

from __future__ import annotations

from functools import partial

import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

from seqlab.lit.optim import build_optimizer  # noqa: E402
from seqlab.models.hf.causal_lm import N_SPECIAL, HFCausalLM, plain_config  # noqa: E402
from seqlab.models.hf.seq2seq import HFSeq2Seq  # noqa: E402
from seqlab.models.parts import FreezeError, freeze  # noqa: E402

V = 50
LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": None}
NO_DROPOUT = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}


def gpt2_config():
    return transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=64, vocab_size=V,
                                   bos_token_id=1, eos_token_id=0, **NO_DROPOUT)  # fmt: skip


def bart_config():
    return transformers.BartConfig(vocab_size=V, d_model=32, encoder_layers=1, decoder_layers=1,
                                   encoder_attention_heads=4, decoder_attention_heads=4,
                                   encoder_ffn_dim=64, decoder_ffn_dim=64, dropout=0.0,
                                   max_position_embeddings=64, pad_token_id=1, bos_token_id=0,
                                   eos_token_id=2, decoder_start_token_id=2)  # fmt: skip


def causal_lm(**kwargs) -> tuple[HFCausalLM, torch.nn.Module]:
    """The adapter (with ``kwargs``) and a `transformers` model whose weights it loaded."""
    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_config(gpt2_config()).eval()
    net = HFCausalLM(N_SPECIAL + V, plain_config(hf.config), block_size=64, **kwargs)
    net.load_pretrained_state(hf.state_dict())
    return net, hf


def seq2seq(**kwargs) -> HFSeq2Seq:
    torch.manual_seed(0)
    return HFSeq2Seq(N_SPECIAL + V, N_SPECIAL + V, config=plain_config(bart_config()), **kwargs)


def ids(batch: int = 2, length: int = 10, seed: int = 1) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.randint(N_SPECIAL, N_SPECIAL + V, (batch, length))


def lm_loss(net) -> torch.Tensor:
    x = ids()
    return net(x)[:, :-1, N_SPECIAL:].log_softmax(-1).gather(-1, x[:, 1:, None] - N_SPECIAL).mean()


def s2s_loss(net) -> torch.Tensor:
    return net(ids(seed=2), ids(length=7, seed=3))[..., N_SPECIAL:].logsumexp(-1).mean()


def adam(net) -> torch.optim.Optimizer:
    return build_optimizer(partial(torch.optim.AdamW, lr=1e-2, weight_decay=0.1), net)


def optimized(optimizer) -> set[int]:
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


def test_a_frozen_encoder_gets_no_gradient_and_no_optimizer_slot():
    net = seq2seq()
    shared = freeze(net, ["encoder"])
    encoder = list(net.model.get_encoder().parameters())
    assert encoder and not any(p.requires_grad for p in encoder)
    # BART's one token table sits in the encoder too: decoder and lm_head share it, frozen.
    assert set(shared) == {"embeddings", "decoder", "lm_head"}
    s2s_loss(net).backward()
    assert all(p.grad is None for p in encoder)
    decoder_layers = net.model.get_decoder().layers.parameters()
    assert all(p.grad is not None for p in decoder_layers)
    ids_in_optimizer = optimized(adam(net))
    assert not ids_in_optimizer & {id(p) for p in encoder}
    assert ids_in_optimizer == {id(p) for p in net.parameters() if p.requires_grad}


def test_freezing_tied_embeddings_freezes_the_lm_head_and_says_so():
    net, _ = causal_lm()
    shared = freeze(net, ["embeddings"])
    assert not net.model.get_output_embeddings().weight.requires_grad
    assert "lm_head" in shared and "decoder" in shared  # GPT-2's get_decoder() holds wte
    assert net.model.transformer.h[0].attn.c_attn.weight.requires_grad


@pytest.mark.parametrize("kind", ["gpt2", "bart"])
def test_a_part_the_model_lacks_is_one_line_naming_key_value_and_choices(kind):
    net = causal_lm()[0] if kind == "gpt2" else seq2seq()
    bad = "encoder" if kind == "gpt2" else "blocks"
    with pytest.raises(FreezeError) as e:
        freeze(net, [bad])
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"config key 'model.freeze': {bad!r}")
    parts = (
        "embeddings, decoder, lm_head"
        if kind == "gpt2"
        else "embeddings, encoder, decoder, lm_head"
    )
    assert message.endswith(f"its parts: {parts}")


@pytest.mark.parametrize("kind", ["gpt2", "bart"])
def test_gradient_checkpointing_gives_the_same_gradients(kind):
    def grads(checkpointing: bool) -> dict[str, torch.Tensor]:
        net = causal_lm()[0] if kind == "gpt2" else seq2seq()
        net.train()
        if checkpointing:
            net.enable_gradient_checkpointing()
            assert net.checkpointing and not net.hf_model.config.use_cache
        (lm_loss if kind == "gpt2" else s2s_loss)(net).backward()
        return {n: p.grad for n, p in net.named_parameters()}

    plain, checkpointed = grads(False), grads(True)
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        assert torch.allclose(plain[name], checkpointed[name], atol=1e-6), name


def test_lora_starts_as_the_pretrained_model_and_trains_only_its_layers():
    net, hf = causal_lm(adapter="lora", lora=LORA)
    x = ids()
    with torch.no_grad():  # LoRA's B starts at zero: the pre-trained model's logits
        assert (
            net.eval()(x)[..., N_SPECIAL + 1 :] - hf(x - N_SPECIAL).logits[..., 1:]
        ).abs().max() < 1e-5
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    optimizer = adam(net.train())
    for _ in range(3):
        optimizer.zero_grad()
        lm_loss(net).backward()
        optimizer.step()
    changed = {n for n, p in net.named_parameters() if not torch.equal(p, before[n])}
    assert changed and changed <= trainable
    assert all(torch.equal(p, before[n]) for n, p in net.named_parameters() if n not in trainable)


def test_the_merged_model_computes_what_the_adapter_does():
    net, _ = causal_lm(adapter="lora", lora=LORA)
    optimizer = adam(net.train())
    for _ in range(3):
        optimizer.zero_grad()
        lm_loss(net).backward()
        optimizer.step()
    net.eval()
    merged = net.merged().eval()
    assert type(merged).__name__ == "GPT2LMHeadModel" and not any(
        "lora_" in k for k in merged.state_dict()
    )
    x = ids()
    with torch.no_grad():
        ours, theirs = net(x), merged(x - N_SPECIAL).logits
    assert (ours[..., N_SPECIAL + 1 :] - theirs[..., 1:]).abs().max() < 1e-5
    assert any("lora_" in n for n, _ in net.named_parameters())  # the adapter itself unchanged


def test_lora_on_bart_uses_peft_default_modules():
    net = seq2seq(adapter="lora", lora=LORA)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable and {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable} == {
        "q_proj",
        "v_proj",
    }
    s2s_loss(net).backward()
    assert all(p.grad is None for n, p in net.named_parameters() if n not in trainable)
