"""One incremental-decoding interface over every model, with or without a cache.

A stepper turns a batch of inputs into next-token logits one position at a time:

- ``start() -> (logits (N, V), state)``: the distribution of the first new token;
- ``step(tokens (N,), state) -> (logits (N, V), state)``: feed the chosen tokens;
- ``reorder(state, index (N',), within_groups=False) -> state``: keep / copy rows (finished inputs
  leave the batch, beams follow their parents). ``within_groups`` promises that every row copies
  a row of the same input (beams changing places), so per-input tensors that decoding never
  changes (encoder memory, cross-attention keys/values) can stay as they are.

Cached steppers drive the models' own state (Transformer KV caches, GRU hidden states) and run one
position per step; uncached ones recompute the whole prefix with ``forward`` every step, the
reference the cached ones are tested against and benchmarked to beat.

Given ``max_new_tokens``, a cached stepper preallocates the Transformers' self-attention caches
(``KVBuffer``) once, to the longest the decode can reach: the prompt (or <bos>) plus the budget,
capped by the context window. Steps then write in place instead of growing the caches with
``torch.cat``. Recurrent models have no positions to preallocate and ignore the capacity.

Models are driven only through ``seqlab.models.interface`` (``EncoderDecoder``, ``DecoderOnly``).

Decoder-only models past their context (``block_size``) slide the window, as nanoGPT's
``generate`` crops its input: once the cache is full, the last ``block_size`` tokens are
re-prefilled from position 0 at every step, so cached and uncached decoding still agree. Learned
positions shift every cached key when the window slides, so nothing in the cache survives a
slide; a preallocated cache is then full (capacity = ``block_size``) and is rewound and
overwritten from position 0 (``GPT.rewind_state``), still without allocating.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from seqlab.data.tokenizers import BOS_ID
from seqlab.models.interface import DecoderOnly, EncoderDecoder

State = dict


class Stepper(Protocol):
    """What the search loops need from a model; see the module docstring."""

    def start(self) -> tuple[Tensor, State]: ...

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]: ...

    def reorder(self, state: State, index: Tensor, within_groups: bool = False) -> State: ...


def _select(state: dict[str, Tensor], index: Tensor) -> dict[str, Tensor]:
    return {name: value.index_select(0, index) for name, value in state.items()}


def is_seq2seq(model: nn.Module) -> bool:
    """Whether ``model`` is an encoder–decoder; otherwise it must be a decoder-only model."""
    if isinstance(model, EncoderDecoder):
        return True
    if isinstance(model, DecoderOnly):
        return False
    raise TypeError(
        f"{type(model).__name__} implements neither seqlab.models.interface.EncoderDecoder nor "
        "DecoderOnly"
    )


def force_first(model: nn.Module, logits: Tensor) -> Tensor:
    """The first token's logits with every token but the model's ``forced_first_id`` (if it has
    one: mBART-50's target language) at -inf, as `transformers`' ForcedBOSTokenLogitsProcessor."""
    forced = getattr(model, "forced_first_id", None)
    if forced is None:
        return logits
    out = torch.full_like(logits, float("-inf"))
    out[:, forced] = 0.0
    return out


class Seq2SeqStepper:
    """Encoder once, then the decoder's ``step`` from <bos> (the first token forced where the
    model forces one).

    Args:
        model: an ``EncoderDecoder``.
        src: (B, S) source ids, right-padded.
        bos_id: first decoder input.
        max_new_tokens: longest decode, to preallocate the caches for (<bos> and all but the
            last new token are fed back); None grows them step by step.
    """

    def __init__(
        self,
        model: nn.Module,
        src: Tensor,
        bos_id: int = BOS_ID,
        max_new_tokens: int | None = None,
    ) -> None:
        self.model, self.src, self.bos_id = model, src, bos_id
        self.max_new_tokens = max_new_tokens
        self.static: set[str] = set()  # state entries a step passes through unchanged

    def start(self) -> tuple[Tensor, State]:
        state = self.model.init_state(self.model.encode(self.src), self.max_new_tokens)
        bos = torch.full((self.src.size(0),), self.bos_id, dtype=torch.long, device=self.src.device)
        logits, state = self.step(bos, state)
        return force_first(self.model, logits), state

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        logits, new = self.model.step(tokens, state)
        self.static = {name for name, value in new.items() if state.get(name) is value}
        return logits, new

    def reorder(self, state: State, index: Tensor, within_groups: bool = False) -> State:
        if not within_groups:
            return self.model.reorder_state(state, index)
        moving = {k: v for k, v in state.items() if k not in self.static}
        return {**state, **self.model.reorder_state(moving, index)}


class UncachedSeq2SeqStepper(Seq2SeqStepper):
    """Re-encodes the source and re-decodes the whole target prefix at every step."""

    def start(self) -> tuple[Tensor, State]:
        bos = torch.full(
            (self.src.size(0), 1), self.bos_id, dtype=torch.long, device=self.src.device
        )
        logits, state = self._run({"src": self.src, "tgt": bos})
        return force_first(self.model, logits), state

    def _run(self, state: State) -> tuple[Tensor, State]:
        return self.model(state["src"], state["tgt"])[:, -1], state

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        return self._run(dict(state, tgt=torch.cat([state["tgt"], tokens[:, None]], dim=1)))

    def reorder(self, state: State, index: Tensor, within_groups: bool = False) -> State:
        return _select(state, index)


class LMStepper:
    """Prefills the prompt in one call, then steps through the model's cache.

    Args:
        model: a ``DecoderOnly`` model.
        prompt: (B, T) prompt ids, T >= 1; prompts in a batch have equal length (the models take
            no padding mask).
        max_new_tokens: longest decode, to preallocate the caches for; None grows them step by
            step.
    """

    def __init__(self, model: nn.Module, prompt: Tensor, max_new_tokens: int | None = None) -> None:
        if prompt.size(1) == 0:
            raise ValueError("a language model needs a prompt of at least one token")
        self.model, self.prompt = model, prompt
        self.max_new_tokens = max_new_tokens
        self.window = model.block_size

    def start(self) -> tuple[Tensor, State]:
        # A windowed model (GPT) keeps the tokens behind its cache, to re-prefill when it slides.
        tokens = self.prompt
        if self.window and tokens.size(1) > self.window:
            tokens = tokens[:, -self.window :]
        capacity = None
        if self.max_new_tokens is not None:
            capacity = tokens.size(1) + self.max_new_tokens
            capacity = min(capacity, self.window or capacity)
        cache = self.model.init_state(tokens.size(0), tokens.device, capacity)
        logits, cache = self.model.prefill(tokens, cache, last_only=True)
        state = {"cache": cache}
        if self.window:
            state["tokens"] = tokens
        return logits[:, -1], state

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        if not self.window:
            logits, cache = self.model.step(tokens, state["cache"])
            return logits, {"cache": cache}
        history = torch.cat([state["tokens"], tokens[:, None]], dim=1)[:, -self.window :]
        if history.size(1) <= state["tokens"].size(1):  # the cache is full: slide
            rewind = getattr(self.model, "rewind_state", None)
            past = rewind(state["cache"]) if rewind else None
            logits, cache = self.model.prefill(history, past, last_only=True)
            logits = logits[:, -1]
        else:
            logits, cache = self.model.step(tokens, state["cache"])
        return logits, {"cache": cache, "tokens": history}

    def reorder(self, state: State, index: Tensor, within_groups: bool = False) -> State:
        out = {"cache": self.model.reorder_state(state["cache"], index)}
        if "tokens" in state:
            out["tokens"] = state["tokens"].index_select(0, index)
        return out


class UncachedLMStepper(LMStepper):
    """nanoGPT's ``generate``: the whole (cropped) sequence through ``forward`` at every step."""

    def _run(self, tokens: Tensor) -> tuple[Tensor, State]:
        if self.window:
            tokens = tokens[:, -self.window :]
        return self.model(tokens)[:, -1], {"tokens": tokens}

    def start(self) -> tuple[Tensor, State]:
        return self._run(self.prompt)

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        return self._run(torch.cat([state["tokens"], tokens[:, None]], dim=1))

    def reorder(self, state: State, index: Tensor, within_groups: bool = False) -> State:
        return _select(state, index)


def make_stepper(
    model: nn.Module, inputs: Tensor, cache: bool = True, max_new_tokens: int | None = None
) -> Stepper:
    """The stepper for ``model``: seq2seq ``inputs`` are sources, LM ``inputs`` are prompts.

    ``max_new_tokens`` preallocates a cached stepper's caches (see the module docstring).
    """
    if not cache:
        return (UncachedSeq2SeqStepper if is_seq2seq(model) else UncachedLMStepper)(model, inputs)
    if is_seq2seq(model):
        return Seq2SeqStepper(model, inputs, max_new_tokens=max_new_tokens)
    return LMStepper(model, inputs, max_new_tokens=max_new_tokens)
