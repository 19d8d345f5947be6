"""seqlab's GPT against the same weights exported to `transformers` (GPT2LMHeadModel).

    .venv/bin/python experiments/benchmarks/gpt2_interop.py           # ~3 min on 2 threads
    .venv/bin/python experiments/benchmarks/gpt2_interop.py --quick   # smoke test: tiny shapes

One randomly initialised GPT (the ``shakespeare_gpt`` shape: 4 layers, 4 heads, width 128,
vocabulary 65; 768 positions, so that no decode ever slides its window), written into a GPT-2 with ``seqlab.models.hf.gpt2`` (activation
``gelu``, so the two compute the same function), in eval mode, fp32 on CPU:

1. Cached generation from 64-token prompts, 200 new tokens, no <eos> (every row runs its whole
   budget), batch 1 and 16: seqlab's ``generate`` against ``model.generate`` with the same
   settings — greedy (outputs must be identical), sampling (temperature 1, no top-k/p; the two
   draw from different generators), beam 5 (outputs must be identical). Tokens/s is new tokens
   per second over the batch; the ratio is seqlab ÷ transformers (> 1: seqlab faster).
2. A training step (forward, cross-entropy, backward, AdamW step) on 16 windows of 256 tokens:
   ms per step, median over the timed steps.

Each measurement alternates the two sides round by round, so load on a shared machine hits both.
"""

from __future__ import annotations

from functools import partial

import torch
from common import benchmark_parser, hf_generate, time_pair

from seqlab.generation import DecodingOptions, generate
from seqlab.models import GPT
from seqlab.models.hf.gpt2 import gpt2_config, to_gpt2_state


def hf_model(net: GPT, vocab: int):
    import transformers

    config = transformers.GPT2Config(**gpt2_config(net, vocab), bos_token_id=1, eos_token_id=2)
    model = transformers.GPT2LMHeadModel(config)
    model.load_state_dict(to_gpt2_state(net), strict=False)
    return model


def ours(net, prompt, strategy: str, new: int, beams: int):
    options = DecodingOptions(strategy, max_len_a=0, max_len_b=0, max_new_tokens=new,
                              beam_size=beams, seed=0)  # fmt: skip
    return generate(net, prompt, options, eos_id=None).best


def train_step(model, batch, optimizer, hf: bool) -> None:
    x, y = batch[:, :-1], batch[:, 1:]
    logits = model(x).logits if hf else model(x)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main() -> None:
    args = benchmark_parser(__doc__, "tiny shapes, batch 1, a few tokens").parse_args()
    torch.manual_seed(0)
    vocab, context = 65, 256
    width, layers, new, prompt_len, batches, rounds = (
        (32, 1, 8, 8, (1,), 1) if args.quick else (128, 4, 200, 64, (1, 16), 3)
    )
    net = GPT(vocab, block_size=768, n_layer=layers, n_head=4, n_embd=width).eval()
    model = hf_model(net, vocab).eval()
    print(f"threads {torch.get_num_threads()}, GPT {layers}x{width}, {new} new tokens")
    print(
        "| decoding | batch | seqlab tok/s | transformers tok/s | seqlab ÷ transformers | same output |"
    )
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    with torch.inference_mode():
        for batch in batches:
            prompt = torch.randint(0, vocab, (batch, prompt_len))
            for strategy, beams in (("greedy", 1), ("sample", 1), ("beam", 5)):
                ta, tb, a, b = time_pair(partial(ours, net, prompt, strategy, new, beams),
                                         partial(hf_generate, model, prompt, strategy, new, beams),
                                         rounds)  # fmt: skip
                same = "—" if strategy == "sample" else ("yes" if torch.equal(a, b) else "NO")
                name = f"beam {beams}" if strategy == "beam" else strategy
                rate_a, rate_b = batch * new / ta, batch * new / tb
                print(
                    f"| {name} | {batch} | {rate_a:,.0f} | {rate_b:,.0f} | {tb / ta:.2f} | {same} |"
                )
    batch = torch.randint(0, vocab, (4 if args.quick else 16, context + 1))
    net.train(), model.train()
    opt_a = torch.optim.AdamW(net.parameters(), lr=1e-4)
    opt_b = torch.optim.AdamW(model.parameters(), lr=1e-4)
    steps = 2 if args.quick else 10
    ta, tb, _, _ = time_pair(lambda: train_step(net, batch, opt_a, False),
                             lambda: train_step(model, batch, opt_b, True), steps)  # fmt: skip
    print(f"\ntraining step, {batch.size(0)} x {context}: seqlab {ta * 1e3:.1f} ms, "
          f"transformers {tb * 1e3:.1f} ms, seqlab ÷ transformers speed {tb / ta:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
