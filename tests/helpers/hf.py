"""Tiny `transformers` model folders built offline, loaded by path as a hub download would be."""

from __future__ import annotations

import json
from pathlib import Path

EOS = "<|endoftext|>"


def train_tokenizer(
    lines: list[str], vocab_size: int = 300, specials: dict[str, str] | None = None
):
    """A byte-level BPE trained on ``lines``, as a `PreTrainedTokenizerFast`.

    ``specials`` maps roles (``eos_token``, ``pad_token``, ...) to tokens, which take the first
    ids in this order; by default eos = bos = <|endoftext|>.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = specials or {"eos_token": EOS, "bos_token": EOS}

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(dict.fromkeys(specials.values())),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(lines, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **specials)


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


# Each family's special tokens in its own id order, and the config fields that name them.
SEQ2SEQ_SPECIALS = {
    "bart": {"bos_token": "<s>", "pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"},
    "t5": {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"},
    "marian": {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"},
}


def seq2seq_config(kind: str, tokenizer, max_positions: int = 256):
    """A 2+2-layer encoder–decoder of width 32 of family ``kind``, for ``tokenizer``'s ids.

    Each starts decoding as its family does: BART from eos, T5 and Marian from pad.
    """
    from transformers import BartConfig, MarianConfig, T5Config

    ids = {f"{role}_id": tokenizer.convert_tokens_to_ids(token)
           for role, token in SEQ2SEQ_SPECIALS[kind].items() if role != "unk_token"}  # fmt: skip
    if kind == "t5":
        return T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2,
                        num_heads=4, decoder_start_token_id=ids["pad_token_id"], **ids)  # fmt: skip
    cls = BartConfig if kind == "bart" else MarianConfig
    start = ids["eos_token_id" if kind == "bart" else "pad_token_id"]
    return cls(vocab_size=len(tokenizer), d_model=32, encoder_layers=2, decoder_layers=2,
               encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
               decoder_ffn_dim=64, max_position_embeddings=max_positions,
               decoder_start_token_id=start, forced_eos_token_id=None, **ids)  # fmt: skip


def bart_tokenizer(lines: list[str]):
    """BART's own tokenizer class (``<s> text </s>``) over a byte-level BPE trained on ``lines``."""
    from transformers import BartTokenizer

    specials = {**SEQ2SEQ_SPECIALS["bart"], "mask_token": "<mask>"}
    bpe = train_tokenizer(lines, specials=specials).backend_tokenizer
    model = json.loads(bpe.to_str())["model"]
    return BartTokenizer(vocab=model["vocab"], merges=[tuple(m) for m in model["merges"]])


def save_tiny_seq2seq(
    folder: Path, kind: str, lines: list[str], seed: int = 0, own_tokenizer: bool = False
) -> Path:
    """A tiny BART, T5 or Marian and its tokenizer (trained on ``lines``), saved to ``folder``.

    Marian's pad is its last id, as in the real models: the tokenizer learns it last. With
    ``own_tokenizer`` BART gets its own tokenizer class, which frames a text as ``<s> text </s>``.
    """
    import torch
    from transformers import AutoModelForSeq2SeqLM

    specials = SEQ2SEQ_SPECIALS[kind]
    learned = {k: v for k, v in specials.items() if not (kind == "marian" and k == "pad_token")}
    if own_tokenizer and kind == "bart":
        tokenizer = bart_tokenizer(lines)
    else:
        tokenizer = train_tokenizer(lines, specials=learned)
    if kind == "marian":
        tokenizer.add_special_tokens({"pad_token": specials["pad_token"]})
    torch.manual_seed(seed)
    model = AutoModelForSeq2SeqLM.from_config(seq2seq_config(kind, tokenizer))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def multi30k_lines(data_root: Path, n: int = 400) -> list[str]:
    """The first ``n`` German and English training sentences of Multi30k, to train a tokenizer."""
    lines = []
    for lang in ("de", "en"):
        with open(data_root / "multi30k" / f"train.{lang}", encoding="utf-8") as f:
            lines += [next(f) for _ in range(n)]
    return lines


def shakespeare_lines(data_root: Path, n: int = 400) -> list[str]:
    """The first ``n`` lines of tinyshakespeare, to train a tokenizer on."""
    with open(data_root / "tinyshakespeare" / "input.txt", encoding="utf-8") as f:
        return [next(f) for _ in range(n)]


def decoding_strategies() -> list:
    """Greedy, sampling (2 samples) and beam (3) over 12 new tokens: what the adapters' cached ==
    uncached tests decode with."""
    from seqlab.generation.options import DecodingOptions

    return [
        DecodingOptions("greedy", 0, 0, max_new_tokens=12),
        DecodingOptions("sample", 0, 0, max_new_tokens=12, n_best=2, seed=3),
        DecodingOptions("beam", 0, 0, max_new_tokens=12, beam_size=3, n_best=3),
    ]


def same_logits(net, model, seq2seq: bool = False, atol: float = 1e-5) -> None:
    """A seqlab adapter ``net`` and a `transformers` (or peft) ``model`` compute the same logits
    on the model's own ids (seqlab's id ``i + 6`` is the model's ``i``; specials left out)."""
    import torch

    from seqlab.models.hf.vocab import N_SPECIAL

    torch.manual_seed(0)
    src = torch.randint(N_SPECIAL + 10, N_SPECIAL + 200, (2, 9))
    tgt = torch.randint(N_SPECIAL + 10, N_SPECIAL + 200, (2, 7))
    net.eval(), model.eval()
    with torch.no_grad():
        if seq2seq:
            ours = net(src, tgt)
            theirs = model(input_ids=src - N_SPECIAL, decoder_input_ids=tgt - N_SPECIAL).logits
        else:
            ours, theirs = net(src), model(input_ids=src - N_SPECIAL).logits
    columns = slice(N_SPECIAL + 10, net.vocab.vocab_size)  # past the model's own specials
    difference = (ours[..., columns] - theirs[..., 10 : columns.stop - N_SPECIAL]).abs().max()
    assert difference < atol, f"logits differ by {difference}"


def save_tiny_spm_marian(folder: Path, data_root: Path, n: int = 300, seed: int = 0) -> Path:
    """A tiny Marian laid out as a hub one: source.spm (German) and target.spm (English)
    SentencePiece models over one vocab.json (</s> 0, <unk> 1, <pad> last), no tokenizer.json."""
    import sentencepiece as spm
    import torch
    from transformers import AutoModelForSeq2SeqLM, MarianTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder.with_name(f"{folder.name}-spm")  # training files, beside the model folder
    scratch.mkdir()
    pieces: dict[str, None] = {"</s>": None, "<unk>": None}
    for side, lang in (("source", "de"), ("target", "en")):
        with open(data_root / "multi30k" / f"train.{lang}", encoding="utf-8") as f:
            lines = [next(f).strip() for _ in range(n)]
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_prefix=str(scratch / side), vocab_size=160,
            character_coverage=1.0, bos_id=-1, eos_id=1, unk_id=0, minloglevel=2,
        )  # fmt: skip
        proc = spm.SentencePieceProcessor(model_file=str(scratch / f"{side}.model"))
        pieces.update(dict.fromkeys(proc.id_to_piece(i) for i in range(proc.get_piece_size())))
    vocab = {piece: i for i, piece in enumerate([*pieces, "<pad>"])}
    (scratch / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = MarianTokenizer(
        str(scratch / "source.model"), str(scratch / "target.model"), str(scratch / "vocab.json")
    )
    torch.manual_seed(seed)
    model = AutoModelForSeq2SeqLM.from_config(seq2seq_config("marian", tokenizer))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
