"""Beam search, batched over sentences × beams with no Python loop over either.

Per step, every live sentence scores its K beams' extensions, keeps the 2K best candidates
(fairseq): candidates ending in <eos> among the top K are finished hypotheses, the K best others
carry on. A sentence is done once K hypotheses have finished (early stopping when all beams are
finished) or at its length budget, when the top K candidates finish as they are. Done sentences
leave the batch; their K best finished hypotheses (by length-penalised score) are kept, of which
``n_best`` are returned.
"""

from __future__ import annotations

import torch
from torch import Tensor

from seqlab.data.tokenizers import EOS_ID, PAD_ID
from seqlab.generation.hypotheses import Generation
from seqlab.generation.options import DecodingOptions
from seqlab.generation.processors import LogitsProcessor, apply_processors
from seqlab.generation.select import top_k_rows
from seqlab.generation.steppers import Stepper


def beam_search(
    stepper: Stepper,
    max_lens: Tensor,
    processors: list[LogitsProcessor],
    options: DecodingOptions,
    eos_id: int = EOS_ID,
    pad_id: int = PAD_ID,
) -> Generation:
    """Beam search for every input of the stepper's batch at once.

    Args:
        stepper: see ``seqlab.generation.steppers``.
        max_lens: (B,) new-token budget per input.
        processors: applied to each beam's logits before the log-softmax.
        options: ``beam_size``, ``n_best`` and the length penalty.

    Returns:
        ``Generation`` with N = ``options.n_best``.
    """
    K, n_best = options.beam_size, options.n_best
    logits, state = stepper.start()
    B, V = logits.shape
    if 2 * K > V:
        raise ValueError(f"beam_size={K} needs a vocabulary of at least {2 * K} tokens, got {V}")
    device = logits.device
    L = int(max_lens.max())
    # Final results, indexed by sentence.
    res_tokens = torch.full((B, n_best, L), pad_id, dtype=torch.long, device=device)
    res_len = torch.zeros(B, n_best, dtype=torch.long, device=device)
    res_logp = torch.full((B, n_best), float("-inf"), device=device)
    res_score = torch.full((B, n_best), float("-inf"), device=device)
    # Per live sentence: the K best finished hypotheses so far, and how many have finished.
    pool_tokens = torch.full((B, K, L), pad_id, dtype=torch.long, device=device)
    pool_len = torch.zeros(B, K, dtype=torch.long, device=device)
    pool_logp = torch.full((B, K), float("-inf"), device=device)
    pool_score = torch.full((B, K), float("-inf"), device=device)
    n_finished = torch.zeros(B, dtype=torch.long, device=device)
    alive = torch.arange(B, device=device)  # sentence id of each live sentence
    limit = max_lens.to(device)
    beam_logp = torch.zeros(B, 1, device=device)  # one beam per sentence before the first step
    seq = torch.empty(B, 0, dtype=torch.long, device=device)  # (live · beams, t)
    for t in range(L):
        live, k = beam_logp.shape
        log_probs = apply_processors(processors, logits, seq).float().log_softmax(dim=-1)
        # The 2K best extensions of a sentence are among the 2K best of each of its beams:
        # select per beam, then rank k · 2K candidates rather than k · V.
        n_top = min(2 * K, V)
        top_logp, top_tokens = top_k_rows(log_probs, n_top)  # (live · k, n_top)
        cand = (beam_logp.unsqueeze(-1) + top_logp.view(live, k, n_top)).view(live, k * n_top)
        n_cand = min(2 * K, k * n_top)
        cand_logp, cand_idx = cand.topk(n_cand, dim=1)  # (live, n_cand), best first
        cand_token = top_tokens.view(live, k * n_top).gather(1, cand_idx)
        cand_parent = torch.arange(live, device=device)[:, None] * k + cand_idx // n_top
        is_eos = cand_token == eos_id
        last = limit <= t + 1  # (live,) budget reached: the top K finish as they are

        # 1. Candidates in the top K that end here join the pool of finished hypotheses.
        top = min(K, n_cand)
        ends = (is_eos[:, :top] | last[:, None]) & cand_logp[:, :top].isfinite()
        new_tokens = torch.cat(
            [seq[cand_parent[:, :top].reshape(-1)].view(live, top, t), cand_token[:, :top, None]],
            dim=2,
        )
        new_tokens = torch.nn.functional.pad(new_tokens, (0, L - t - 1), value=pad_id)
        length = torch.full((live, top), t + 1, dtype=torch.long, device=device)
        new_logp = cand_logp[:, :top].masked_fill(~ends, float("-inf"))
        new_score = new_logp / options.length_penalty_of(length)
        scores, pick = torch.cat([pool_score, new_score], dim=1).topk(K, dim=1)
        pool_score = scores
        pool_logp = torch.cat([pool_logp, new_logp], dim=1).gather(1, pick)
        pool_len = torch.cat([pool_len, length], dim=1).gather(1, pick)
        pool_tokens = torch.cat([pool_tokens, new_tokens], dim=1)
        pool_tokens = pool_tokens.gather(1, pick[..., None].expand(-1, -1, L))
        n_finished = n_finished + ends.sum(dim=1)

        # 2. The K best candidates not ending in <eos> carry on (ranks of <eos> ones pushed back).
        rank = torch.arange(n_cand, device=device).expand(live, -1) + is_eos * n_cand
        keep_cand = rank.topk(K, dim=1, largest=False).indices
        beam_logp = cand_logp.gather(1, keep_cand)
        parent = cand_parent.gather(1, keep_cand)
        tokens = cand_token.gather(1, keep_cand)

        # 3. Done sentences hand over their best hypotheses and leave the batch.
        done = (n_finished >= K) | last
        same_rows = k == K  # beams only change places (not the first step, no one leaving)
        if bool(done.any()):
            same_rows = False
            sent = alive[done]
            res_tokens[sent] = pool_tokens[done, :n_best]
            res_len[sent], res_logp[sent] = pool_len[done, :n_best], pool_logp[done, :n_best]
            res_score[sent] = pool_score[done, :n_best]
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            alive, limit, n_finished = alive[keep], limit[keep], n_finished[keep]
            pool_tokens, pool_len = pool_tokens[keep], pool_len[keep]
            pool_logp, pool_score = pool_logp[keep], pool_score[keep]
            beam_logp, parent, tokens = beam_logp[keep], parent[keep], tokens[keep]
        parent, tokens = parent.reshape(-1), tokens.reshape(-1)
        seq = torch.cat([seq[parent], tokens[:, None]], dim=1)
        state = stepper.reorder(state, parent, within_groups=same_rows)
        logits, state = stepper.step(tokens, state)
    width = max(int(res_len.max()), 1)
    return Generation(res_tokens[..., :width], res_len, res_logp, res_score)
