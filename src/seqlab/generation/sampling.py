"""Greedy decoding and ancestral sampling: one token per row per step, batched.

Rows leave the batch as soon as they finish (<eos> or their length budget), so the model never
runs on finished rows; their outputs are written into preallocated buffers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from seqlab.data.tokenizers import EOS_ID, PAD_ID
from seqlab.generation.hypotheses import Generation, Outputs
from seqlab.generation.processors import LogitsProcessor, apply_processors
from seqlab.generation.steppers import Stepper


def sample_search(
    stepper: Stepper,
    max_lens: Tensor,
    processors: list[LogitsProcessor],
    greedy: bool,
    n: int = 1,
    generator: torch.Generator | None = None,
    eos_id: int = EOS_ID,
    pad_id: int = PAD_ID,
) -> Generation:
    """Decode every input ``n`` times (greedy needs n = 1).

    Args:
        stepper: see ``seqlab.generation.steppers``.
        max_lens: (B,) new-token budget per input.
        processors: applied to the logits before choosing.
        greedy: take the argmax, else draw from the softmax with ``generator``.
        n: independent samples per input, ranked by log-probability.

    Returns:
        ``Generation`` with N = n.
    """
    logits, state = stepper.start()
    batch = logits.size(0)
    if n > 1:
        index = torch.arange(batch, device=logits.device).repeat_interleave(n)
        logits, state, max_lens = logits[index], stepper.reorder(state, index), max_lens[index]
    rows = batch * n
    out = Outputs(rows, int(max_lens.max()), pad_id, logits.device)
    alive = torch.arange(rows, device=logits.device)  # output row of each batch row
    limit = max_lens.to(logits.device)
    seq = torch.empty(rows, 0, dtype=torch.long, device=logits.device)
    score = torch.zeros(rows, device=logits.device)
    for t in range(out.tokens.size(1)):
        log_probs = apply_processors(processors, logits, seq).float().log_softmax(dim=-1)
        if greedy:
            tokens = log_probs.argmax(dim=-1)
        else:
            tokens = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(1)
        score = score + log_probs.gather(1, tokens[:, None]).squeeze(1)
        seq = torch.cat([seq, tokens[:, None]], dim=1)
        done = (tokens == eos_id) | (limit <= t + 1)
        if bool(done.any()):
            length = torch.full_like(alive[done], t + 1)
            out.write(alive[done], seq[done], length, score[done], score[done])
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            alive, seq, score, limit = alive[keep], seq[keep], score[keep], limit[keep]
            tokens = tokens[keep]
            state = stepper.reorder(state, keep)
        logits, state = stepper.step(tokens, state)
    generation = out.result(batch, n)
    if n > 1:  # best first
        order = generation.scores.argsort(dim=1, descending=True)
        generation = Generation(
            tokens=generation.tokens.gather(1, order[..., None].expand_as(generation.tokens)),
            lengths=generation.lengths.gather(1, order),
            log_probs=generation.log_probs.gather(1, order),
            scores=generation.scores.gather(1, order),
        )
    return generation
