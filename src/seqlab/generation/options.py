"""Decoding options: the `decoding` config group as one validated, immutable record.

Defaults live in ``conf/decoding/*.yaml``; the field defaults below are only the "off" values
(temperature 1, no top-k, ...) that a strategy's YAML leaves out because they do not apply to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch

from seqlab.errors import SeqlabError

STRATEGIES = ("greedy", "sample", "beam")
LENGTH_PENALTY_FORMS = ("gnmt", "plain")
_COMMON = ("strategy", "max_len_a", "max_len_b", "max_new_tokens")
_COMMON += ("repetition_penalty", "no_repeat_ngram_size")
# Keys each strategy understands; any other key is a mistake worth one line, not a silent no-op.
KEYS = {
    "greedy": _COMMON,
    "sample": (*_COMMON, "temperature", "top_k", "top_p", "n_best", "seed"),
    "beam": (*_COMMON, "beam_size", "n_best", "length_penalty", "length_penalty_form"),
}


@dataclasses.dataclass(frozen=True)
class DecodingOptions:
    """How to turn next-token distributions into sequences.

    Attributes:
        strategy: ``greedy``, ``sample`` or ``beam``.
        max_len_a, max_len_b: at most ``a + b · source length`` new tokens per input (fairseq);
            the source length counts the source's <eos> (LMs: the prompt length).
        max_new_tokens: when set, every input gets at most this many new tokens instead.
        repetition_penalty: CTRL penalty (> 1 discourages tokens already generated; 1 = off).
        no_repeat_ngram_size: forbid repeating any n-gram of this size (0 = off).
        temperature, top_k, top_p: sampling warpers (1 / 0 / 1 = off).
        n_best: hypotheses returned per input (beam: the best finished; sample: independent draws).
        seed: seed of the sampler's ``torch.Generator``.
        beam_size: beams per input.
        length_penalty: exponent α of the length normalisation of beam scores (0 = raw sums).
        length_penalty_form: ``gnmt`` (((5 + len) / 6)^α, Wu et al. 2016) or ``plain`` (len^α).
    """

    strategy: str
    max_len_a: float
    max_len_b: float
    max_new_tokens: int | None = None
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    n_best: int = 1
    seed: int = 0
    beam_size: int = 1
    length_penalty: float = 0.0
    length_penalty_form: str = "gnmt"

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> DecodingOptions:
        """Validate a plain ``decoding`` section; a bad key or value raises SeqlabError (one line)."""
        strategy = cfg.get("strategy")
        if strategy not in STRATEGIES:
            raise SeqlabError(
                f"config key 'decoding.strategy': {strategy!r} is not valid; choose one of "
                f"{', '.join(STRATEGIES)}"
            )
        for key in cfg:
            if key not in KEYS[strategy]:
                other = [s for s in STRATEGIES if key in KEYS[s]]
                hint = f"it belongs to decoding={'/'.join(other)}; " if other else ""
                raise SeqlabError(
                    f"config key 'decoding.{key}' does not apply to strategy={strategy}; {hint}"
                    f"valid keys: {', '.join(KEYS[strategy])}"
                )
        for key in ("max_len_a", "max_len_b"):
            if key not in cfg:
                raise SeqlabError(f"config key 'decoding.{key}' is missing; set it (e.g. 50 / 2.0)")
        options = cls(**dict(cfg))
        options._check()
        return options

    def _check(self) -> None:
        def need(ok: bool, key: str, rule: str) -> None:
            if not ok:
                value = getattr(self, key)
                raise SeqlabError(f"config key 'decoding.{key}': {value!r} is not valid; {rule}")

        need(self.max_len_a >= 0 and self.max_len_b >= 0, "max_len_a", "a and b must be >= 0")
        need(self.max_new_tokens is None or self.max_new_tokens >= 1, "max_new_tokens", "use >= 1")
        need(self.repetition_penalty > 0, "repetition_penalty", "use > 0 (1 = off)")
        need(self.no_repeat_ngram_size >= 0, "no_repeat_ngram_size", "use >= 0 (0 = off)")
        need(self.temperature > 0, "temperature", "use > 0 (1 = unchanged)")
        need(self.top_k >= 0, "top_k", "use >= 0 (0 = off)")
        need(0 < self.top_p <= 1, "top_p", "use 0 < top_p <= 1 (1 = off)")
        need(self.beam_size >= 1, "beam_size", "use >= 1")
        need(self.n_best >= 1, "n_best", "use >= 1")
        if self.strategy == "beam":
            need(self.n_best <= self.beam_size, "n_best", f"use <= beam_size={self.beam_size}")
        need(
            self.length_penalty_form in LENGTH_PENALTY_FORMS,
            "length_penalty_form",
            f"choose one of {', '.join(LENGTH_PENALTY_FORMS)}",
        )

    def max_lengths(self, src_lengths: torch.Tensor, cap: int | None = None) -> torch.Tensor:
        """Per-input budget of new tokens (B,) long: ``max_new_tokens`` or ``a + b · length``.

        Args:
            src_lengths: (B,) source (or prompt) lengths.
            cap: the model's own limit on target positions, if any.
        """
        if self.max_new_tokens is not None:
            limit = torch.full_like(src_lengths, self.max_new_tokens)
        else:
            limit = (self.max_len_a + self.max_len_b * src_lengths.double()).long()
        limit = limit.clamp(min=1)
        return limit.clamp(max=cap) if cap else limit

    def length_penalty_of(self, lengths: torch.Tensor) -> torch.Tensor:
        """Divisor of a hypothesis's summed log-probability: ((5+len)/6)^α or len^α."""
        lengths = lengths.float()
        if self.length_penalty_form == "gnmt":
            return ((5.0 + lengths) / 6.0) ** self.length_penalty
        return lengths**self.length_penalty
