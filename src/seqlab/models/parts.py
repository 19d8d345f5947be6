"""Freezing named parts of a network (``model.freeze``): the parts a model offers, and what
freezing them does to tensors that other parts share.

A model lists its parts with a ``parts()`` method (name -> modules). Freezing a part turns off
``requires_grad`` on every parameter inside it; a tensor shared with another part (a tied
embedding and output projection, BART's one table for encoder, decoder and output) is one
tensor, so it is frozen for every part that holds it, and ``freeze`` says which those are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from torch import nn

PART_NAMES = ("embeddings", "encoder", "decoder", "lm_head")  # every name any model offers


class FreezeError(ValueError):
    """A part name the model does not have (the message names the key and the model's parts)."""


def model_parts(net: nn.Module) -> dict[str, list[nn.Module]]:
    """The parts ``net`` offers (empty for a model without a ``parts()`` method)."""
    parts = getattr(net, "parts", None)
    return {k: [m for m in v if m is not None] for k, v in parts().items()} if parts else {}


def _parameters(modules: Iterable[nn.Module]) -> dict[int, nn.Parameter]:
    return {id(p): p for m in modules for p in m.parameters()}


def freeze(net: nn.Module, names: Sequence[str]) -> dict[str, list[str]]:
    """Stop training the parts ``names`` of ``net``.

    Returns:
        Part that was not named -> names of its parameters frozen anyway (shared with a named
        part); empty when no tensor is shared.
    """
    parts = model_parts(net)
    for name in names:
        if name not in parts:
            raise FreezeError(
                f"config key 'model.freeze': {name!r} is not a part of {type(net).__name__}; "
                f"its parts: {', '.join(parts) or 'none'}"
            )
    frozen = _parameters(m for name in names for m in parts[name])
    for p in frozen.values():
        p.requires_grad_(False)
    names_of = {id(p): n for n, p in net.named_parameters()}
    shared = {}
    for other, modules in parts.items():
        if other not in names:
            hit = sorted(names_of[i] for i in _parameters(modules) if i in frozen and i in names_of)
            if hit:
                shared[other] = hit
    return shared


def describe(names: Sequence[str], shared: dict[str, list[str]]) -> list[str]:
    """What freezing ``names`` did, for the run's log (``shared`` as ``freeze`` returns it)."""
    lines = [f"model.freeze: {', '.join(names)} frozen (no gradients, not optimized)"]
    for part, params in shared.items():
        more = f" and {len(params) - 2} more" if len(params) > 2 else ""
        lines.append(f"model.freeze: {part} shares {', '.join(params[:2])}{more} with a frozen "
                     "part (tied weights are one tensor): frozen too")  # fmt: skip
    return lines
