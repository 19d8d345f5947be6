"""Decoder-only models on (source, target) tasks: prefix language modeling.

Training reads ``source <sep> target <eos>`` and scores the target tokens only (see
``seqlab.data.prefix``). Decoding continues each ``source <sep>`` prompt; the models take no padding
mask, so prompts of equal length are decoded together.
"""

from __future__ import annotations

import torch

from seqlab.data.tokenizers import EOS_ID, PAD_ID, SEP_ID
from seqlab.generation import generate
from seqlab.lit.pairs import PairsTaskModule


class PrefixLMModule(PairsTaskModule):
    """Trains a GPT or GRU LM on (source, target) pairs as one sequence."""

    def _logits(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(batch["x"]), batch["y"]

    def _decode(self, batch: dict, keep: torch.Tensor) -> torch.Tensor:
        prompts, lengths = batch["prompt"][keep], batch["prompt_lengths"][keep]
        source_lengths = batch["src_lengths"][keep] - 1  # the length rule counts source tokens
        rows, outs = [], []
        for length in lengths.unique().tolist():
            group = (lengths == length).nonzero().squeeze(1)
            best = generate(
                self.net,
                prompts[group, :length],
                self.decoding,
                input_lengths=source_lengths[group],
                eos_id=EOS_ID,
            ).best
            rows.append(group)
            outs.append(best)
        width = max(o.size(1) for o in outs)
        hyp = torch.full((len(lengths), width), PAD_ID, dtype=torch.long, device=prompts.device)
        for group, best in zip(rows, outs, strict=True):
            hyp[group, : best.size(1)] = best
        return hyp

    def _pooled_states(self, src: torch.Tensor) -> torch.Tensor:
        """Mean final hidden state over ``source <sep>``, one text at a time (no padding mask)."""
        states = []
        for row in src:
            seq = row[row != PAD_ID].clone()
            seq[-1] = SEP_ID  # the source ends with <sep> here, as in training, not <eos>
            if self.net.block_size:
                seq = seq[-self.net.block_size :]
            states.append(self.net.features(seq[None]).mean(1))
        return torch.cat(states)
