"""seqlab's decoding over a `transformers` model (`model=hf_causal_lm`) against that model's own
`generate()`, on the same weights.

    .venv/bin/python experiments/benchmarks/hf_generation.py           # ~4 min on 2 threads
    .venv/bin/python experiments/benchmarks/hf_generation.py --quick   # smoke test: tiny shapes

Two architectures built from configs with random weights (4 layers, width 128, 4 heads, a
vocabulary of 8,000): GPT-2 (`GPT2LMHeadModel`) and a Llama-style model (`LlamaForCausalLM`:
RMSNorm, rotary positions, gated SiLU feed-forward). seqlab wraps each in `HFCausalLM` (its ids
shifted past seqlab's six specials, its KV cache held as seqlab state) and decodes with its own
greedy / sampling / beam search; `generate()` runs on the model itself. 64-token prompts, 200 new
tokens, no eos, batch 1 and 16, eval mode, fp32 on CPU. Greedy and beam outputs must be identical
(seqlab's ids mapped back); sampling draws from different generators. Tokens/s is new tokens per
second over the batch; the ratio is seqlab ÷ transformers (> 1: seqlab faster). The two sides
alternate round by round, so load on a shared machine hits both.
"""

from __future__ import annotations

from functools import partial

import torch
from common import benchmark_parser, hf_generate, time_pair

from seqlab.generation import DecodingOptions, generate
from seqlab.models.hf.causal_lm import N_SPECIAL, HFCausalLM, plain_config

VOCAB = 8_000


def configs(width: int, layers: int) -> dict:
    import transformers

    shared = {"vocab_size": VOCAB, "bos_token_id": 0, "eos_token_id": 0}
    return {
        "GPT-2": transformers.GPT2Config(
            n_embd=width, n_layer=layers, n_head=4, n_positions=512, **shared
        ),  # fmt: skip
        "Llama": transformers.LlamaConfig(
            hidden_size=width,
            num_hidden_layers=layers,
            num_attention_heads=4,
            intermediate_size=4 * width,
            max_position_embeddings=512,
            **shared,
        ),  # fmt: skip
    }


def seqlab_decode(net: HFCausalLM, prompt, strategy: str, new: int, beams: int):
    options = DecodingOptions(strategy, max_len_a=0, max_len_b=0, max_new_tokens=new,
                              beam_size=beams, seed=0)  # fmt: skip
    out = generate(net, prompt + N_SPECIAL, options, eos_id=None).best
    return torch.where(out < N_SPECIAL, net.eos, out - N_SPECIAL)  # back to the model's ids


def main() -> None:
    args = benchmark_parser(__doc__, "tiny shapes, batch 1, a few tokens").parse_args()
    import transformers

    width, layers, new, prompt_len, batches, rounds = (
        (32, 1, 8, 8, (1,), 1) if args.quick else (128, 4, 200, 64, (1, 16), 3)
    )
    print(
        f"threads {torch.get_num_threads()}, {layers}x{width}, vocabulary {VOCAB}, {new} new tokens"
    )
    print(
        "| model | decoding | batch | seqlab tok/s | generate() tok/s | seqlab ÷ generate() | same output |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for name, config in configs(width, layers).items():
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(config).eval()
        net = HFCausalLM(VOCAB + N_SPECIAL, plain_config(config)).eval()
        net.model.load_state_dict(model.state_dict())
        with torch.inference_mode():
            for batch in batches:
                prompt = torch.randint(1, VOCAB, (batch, prompt_len))  # no eos (id 0) in it
                for strategy, beams in (("greedy", 1), ("sample", 1), ("beam", 5)):
                    ta, tb, a, b = time_pair(
                        partial(seqlab_decode, net, prompt, strategy, new, beams),
                        partial(hf_generate, model, prompt, strategy, new, beams),
                        rounds,
                    )
                    same = "—" if strategy == "sample" else ("yes" if torch.equal(a, b) else "NO")
                    label = f"beam {beams}" if strategy == "beam" else strategy
                    rate_a, rate_b = batch * new / ta, batch * new / tb
                    print(f"| {name} | {label} | {batch} | {rate_a:,.0f} | {rate_b:,.0f} | "
                          f"{tb / ta:.2f} | {same} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
