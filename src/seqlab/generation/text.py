"""Texts in, texts out: a checkpoint's model, tokenizers and cleaning around ``generate``.

Inputs are cleaned exactly as the training data was (the checkpoint's ``data.cleaning``), encoded
with the checkpoint's tokenizer, decoded in batches and returned in input order. Sources are
batched by similar length (they are padded; encoders mask padding); prompts of a language model
are batched only with prompts of the same length, because the models take no padding mask.

An input longer than the model's context (Transformer ``max_len``, GPT ``block_size``) follows
``overflow``: ``truncate`` keeps its last tokens and warns, ``error`` raises SeqlabError.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seqlab.data.cleaning import clean_texts
from seqlab.data.tokenizers import EOS_ID, PAD_ID, SEP_ID, Tokenizer
from seqlab.errors import SeqlabError
from seqlab.generation.driver import generate
from seqlab.generation.options import DecodingOptions
from seqlab.generation.steppers import is_seq2seq
from seqlab.models.build import instantiate_net
from seqlab.runs.checkpoints import load_weights

OVERFLOW_POLICIES = ("truncate", "error")


@dataclass
class Hypothesis:
    """One output of one input."""

    text: str
    score: float


def _warn(message: str) -> None:
    print(f"seqlab: warning: {message}", file=sys.stderr)


def load_model(ckpt: dict, path: str) -> tuple[nn.Module, dict[str, Tokenizer], dict]:
    """The network (eval mode, on CPU), tokenizers and run config stored in a checkpoint."""
    config = ckpt["seqlab"]["config"]
    tokenizers = {role: Tokenizer.from_state(s) for role, s in ckpt["seqlab"]["tokenizers"].items()}
    net = instantiate_net(config["model"], tokenizers, PAD_ID)
    load_weights(net, ckpt, path)
    return net.eval(), tokenizers, config


class TextGenerator:
    """Generates n-best texts for input texts.

    Args:
        net: a seqlab model.
        tokenizers: role → tokenizer (seq2seq and prefix LM: "src", "tgt"; LM: "text").
        cleaning: the training data's ``data.cleaning`` section.
        options: decoding strategy and settings.
        batch_size: inputs decoded together.
        overflow: ``truncate`` or ``error`` for inputs longer than the model's context.
        warn: receives warnings (default: one line on stderr).
    """

    def __init__(
        self,
        net: nn.Module,
        tokenizers: dict[str, Tokenizer],
        cleaning: dict,
        options: DecodingOptions,
        batch_size: int = 32,
        overflow: str = "truncate",
        warn: Callable[[str], None] = _warn,
    ) -> None:
        if overflow not in OVERFLOW_POLICIES:
            raise SeqlabError(
                f"config key 'prompt_overflow': {overflow!r} is not valid; choose one of "
                f"{', '.join(OVERFLOW_POLICIES)}"
            )
        if batch_size < 1:
            raise SeqlabError(f"config key 'batch_size': {batch_size} is not valid; use >= 1")
        self.net, self.options, self.batch_size = net, options, batch_size
        self.overflow, self.warn, self.cleaning = overflow, warn, cleaning or {}
        self.seq2seq = is_seq2seq(net)
        # A decoder-only model trained on pairs (prefix LM) continues "source <sep>".
        self.prefix = not self.seq2seq and "src" in tokenizers
        paired = self.seq2seq or self.prefix
        self.source = tokenizers["src" if paired else "text"]
        self.target = tokenizers["tgt" if paired else "text"]
        self.context = net.max_source_len if self.seq2seq else net.block_size
        if options.strategy == "beam" and 2 * options.beam_size > self.target.vocab_size:
            raise SeqlabError(
                f"config key 'decoding.beam_size': {options.beam_size} needs a vocabulary of at "
                f"least {2 * options.beam_size} tokens, the model has {self.target.vocab_size}"
            )
        self.device = next(net.parameters()).device
        self.generator = torch.Generator(device=self.device).manual_seed(options.seed)

    def encode(self, texts: Sequence[str], first: int = 0) -> list[np.ndarray]:
        """Clean and encode; sources get <eos> (seq2seq) or <sep> (prefix LM); ``first`` numbers inputs."""
        cleaned = clean_texts(
            list(texts),
            normalize=self.cleaning.get("normalize"),
            collapse_whitespace=self.cleaning.get("collapse_whitespace", True),
            lowercase=self.cleaning.get("lowercase", False),
        )
        out = []
        encoded, unknown = self.source.encode_with_unknowns(cleaned)
        for i, (ids, pieces) in enumerate(zip(encoded, unknown, strict=True), start=first + 1):
            if pieces:
                shown = ", ".join(repr(p) for p in pieces[:10])
                more = f" and {len(pieces) - 10} more" if len(pieces) > 10 else ""
                self.warn(f"input {i}: {shown}{more} not in the model's vocabulary; read as <unk>")
            if self.seq2seq:
                ids = np.append(ids, EOS_ID)
            elif self.prefix:
                ids = np.append(ids, SEP_ID)
            elif len(ids) == 0:
                raise SeqlabError(f"input {i} is empty; a language model needs a prompt")
            if self.context and len(ids) > self.context:
                what = "max_len" if self.seq2seq else "block_size"
                message = (
                    f"input {i} has {len(ids)} tokens, more than the model's context "
                    f"({what}={self.context})"
                )
                if self.overflow == "error":
                    raise SeqlabError(f"{message}; shorten it or set prompt_overflow=truncate")
                self.warn(f"{message}; kept its last {self.context} tokens")
                ids = ids[-self.context :]
            out.append(ids)
        return out

    def __call__(self, texts: Sequence[str], first: int = 0) -> list[list[Hypothesis]]:
        """n-best hypotheses (best first) for every text, in input order."""
        encoded = self.encode(texts, first)
        results: list[list[Hypothesis]] = [[] for _ in encoded]
        for rows in self._batches(encoded):
            ids = [encoded[r] for r in rows]
            inputs = torch.full((len(ids), max(map(len, ids))), PAD_ID, dtype=torch.long)
            for row, seq in enumerate(ids):
                inputs[row, : len(seq)] = torch.from_numpy(seq.astype(np.int64))
            out = generate(self.net, inputs.to(self.device), self.options, generator=self.generator)
            tokens, scores = out.tokens.tolist(), out.scores.tolist()
            for row, r in enumerate(rows):
                results[r] = [
                    Hypothesis(self.target.decode(hyp), score)
                    for hyp, score in zip(tokens[row], scores[row], strict=True)
                ]
        return results

    def _batches(self, encoded: list[np.ndarray]) -> list[list[int]]:
        """Input indices per batch: by length; for LMs, equal lengths only."""
        groups: dict[int, list[int]] = defaultdict(list)
        for i in sorted(range(len(encoded)), key=lambda i: len(encoded[i])):
            groups[0 if self.seq2seq else len(encoded[i])].append(i)
        size = self.batch_size
        return [g[i : i + size] for g in groups.values() for i in range(0, len(g), size)]
