"""Tiny `transformers` model folders built offline, loaded by path as a hub download would be."""

from __future__ import annotations

from pathlib import Path

EOS = "<|endoftext|>"


def train_tokenizer(lines: list[str], vocab_size: int = 300):
    """A byte-level BPE trained on ``lines``, as a `PreTrainedTokenizerFast` with eos = bos."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(lines, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS)


def save_tiny_gpt2(folder: Path, lines: list[str], n_positions: int = 64, seed: int = 0) -> Path:
    """A 2-layer GPT-2 of width 32 and its tokenizer (trained on ``lines``), saved to ``folder``."""
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config

    tokenizer = train_tokenizer(lines)
    eos = tokenizer.convert_tokens_to_ids(EOS)
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=n_positions,
                        vocab_size=len(tokenizer), bos_token_id=eos, eos_token_id=eos)  # fmt: skip
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def shakespeare_lines(data_root: Path, n: int = 400) -> list[str]:
    """The first ``n`` lines of tinyshakespeare, to train a tokenizer on."""
    with open(data_root / "tinyshakespeare" / "input.txt", encoding="utf-8") as f:
        return [next(f) for _ in range(n)]
