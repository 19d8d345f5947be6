"""Generation speed: KV-cached vs full-recompute decoding, and batched beam search.

    .venv/bin/python experiments/benchmarks/generation.py            # ~2-3 min on 1 CPU thread
    .venv/bin/python experiments/benchmarks/generation.py --quick    # smoke test: batch 1, 100 sentences

1. The ``shakespeare_gpt`` shape (4 layers, 4 heads, width 128, vocabulary 65), context 256 and
   500 new tokens, batch 1 and 64, greedy and sampling: seqlab's cached ``generate`` against a
   full-recompute loop written like nanoGPT's ``generate`` (the whole context through ``forward``
   for every new token). block_size is 768 >= 256 + 500, so neither side ever crops or slides.
   At batch 64 the recompute loop would take many minutes; unless ``--full``, one of its steps
   is timed at each of 4 context lengths spread over 256..755 and its total is the sum of a
   line fitted to those step times over all 500 context lengths ("estimated").
2. The same GPT, greedy, with the KV cache preallocated once and written in place (``generate``'s
   default) against the former cache grown by ``torch.cat`` every step (``preallocate=False``):
   the two alternate, round after round, so that load on a shared machine hits both alike.
3. Beam search (``conf/decoding/beam.yaml``: beam 5, length budget 50 + 2 · source length) over
   the first 1,000 Multi30k test2016 German sentences, batches of 128 sentences × 5 beams, on the
   ``size=tiny`` Transformer and GRU (Bahdanau) with word vocabularies fitted on Multi30k train.
   The Transformer also runs with the ``torch.cat`` cache, alternating with the preallocated one
   batch by batch.

Every model is randomly initialised: speed does not depend on the weights, except that an untrained
model almost never emits <eos>, so every hypothesis runs to its full length budget: the worst case.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from common import benchmark_parser
from omegaconf import OmegaConf

from seqlab.data.tokenizers import EOS_ID, PAD_ID, fit_tokenizer
from seqlab.generation import DecodingOptions, generate
from seqlab.models import GPT, RNNSeq2Seq, TransformerSeq2Seq

CONF = Path(__file__).resolve().parents[2] / "src" / "seqlab" / "conf"
CONTEXT, NEW_TOKENS, VOCAB = 256, 500, 65


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


@torch.inference_mode()
def recompute_step(
    model: GPT, idx: torch.Tensor, greedy: bool, gen: torch.Generator
) -> torch.Tensor:
    """One step of nanoGPT's ``generate``: crop, full forward, pick, append."""
    logits = model(idx[:, -model.block_size :])[:, -1, :]
    if greedy:
        nxt = logits.argmax(dim=-1, keepdim=True)
    else:
        nxt = torch.multinomial(logits.softmax(dim=-1), 1, generator=gen)
    return torch.cat((idx, nxt), dim=1)


def recompute_generate(model: GPT, idx: torch.Tensor, greedy: bool, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    for _ in range(NEW_TOKENS):
        idx = recompute_step(model, idx, greedy, gen)
    return idx


def recompute_estimate(model: GPT, prompt: torch.Tensor, greedy: bool, points: int = 4) -> float:
    """Seconds for the full loop, from one timed step at each of ``points`` context lengths
    spread over the loop's range, fitted by a line (a step's cost grows with the context)."""
    gen, timings = torch.Generator().manual_seed(0), []
    full = torch.randint(0, VOCAB, (prompt.size(0), CONTEXT + NEW_TOKENS))
    recompute_step(model, full[:, :CONTEXT], greedy, gen)  # warm-up
    for length in torch.linspace(CONTEXT, CONTEXT + NEW_TOKENS - 1, points).long().tolist():
        timings.append((length, timed(recompute_step, model, full[:, :length], greedy, gen)[0]))
    xs, ys = torch.tensor(timings, dtype=torch.float64).T
    slope = ((xs - xs.mean()) * (ys - ys.mean())).sum() / ((xs - xs.mean()) ** 2).sum()
    lengths = torch.arange(CONTEXT, CONTEXT + NEW_TOKENS, dtype=torch.float64)
    return float((ys.mean() + slope * (lengths - xs.mean())).sum())


def lm_model() -> GPT:
    small = OmegaConf.load(CONF / "size" / "small.yaml")
    torch.manual_seed(0)
    return GPT(VOCAB, block_size=768, n_layer=small.n_layers, n_head=small.n_heads,
               n_embd=small.d_model, dropout=0.0, bias=False).eval()  # fmt: skip


def lm_rows(
    full: bool, batches: tuple[int, ...] = (1, 64)
) -> list[tuple[str, int, float, float, str]]:
    model = lm_model()
    rows = []
    for batch in batches:
        prompt = torch.randint(0, VOCAB, (batch, CONTEXT))
        for strategy in ("greedy", "sample"):
            options = DecodingOptions(strategy, 0, 0, max_new_tokens=NEW_TOKENS)
            generate(model, prompt[:, :16], DecodingOptions(strategy, 0, 0, max_new_tokens=8))
            cached_s, out = timed(generate, model, prompt, options, eos_id=None)
            note = ""
            if batch == 1 or full:
                uncached_s, ref = timed(recompute_generate, model, prompt, strategy == "greedy")
                if strategy == "greedy":
                    same = torch.equal(ref[:, CONTEXT:], out.tokens[:, 0])
                    note = "same tokens" if same else "TOKENS DIFFER"
            else:
                uncached_s, note = (
                    recompute_estimate(model, prompt, strategy == "greedy"),
                    "estimated",
                )
            tokens = batch * NEW_TOKENS
            rows.append((strategy, batch, tokens / cached_s, tokens / uncached_s, note))
    return rows


def cache_rows(batches: tuple[int, ...], rounds: int) -> list[tuple[int, float, float, str]]:
    """Greedy tokens/s with the ``torch.cat`` cache and the preallocated one, run alternately."""
    model, rows = lm_model(), []
    options = DecodingOptions("greedy", 0, 0, max_new_tokens=NEW_TOKENS)
    for batch in batches:
        prompt = torch.randint(0, VOCAB, (batch, CONTEXT))
        seconds = {False: 0.0, True: 0.0}
        outputs = {}
        for r in range(rounds):
            for preallocate in (False, True) if r % 2 == 0 else (True, False):
                took, outputs[preallocate] = timed(
                    generate, model, prompt, options, eos_id=None, preallocate=preallocate
                )
                seconds[preallocate] += took
        same = torch.equal(outputs[False].tokens, outputs[True].tokens)
        tokens = rounds * batch * NEW_TOKENS
        note = "same tokens" if same else "TOKENS DIFFER"
        rows.append((batch, tokens / seconds[False], tokens / seconds[True], note))
    return rows


def read_lines(path: Path, n: int | None = None) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [" ".join(line.lower().split()) for line in lines[:n]]


def beam_rows(data_dir: Path, sentences: int, batch_size: int) -> list[tuple[str, float, float]]:
    root = data_dir / "multi30k"
    src_tok = fit_tokenizer(read_lines(root / "train.de"), "word", min_freq=2)
    tgt_tok = fit_tokenizer(read_lines(root / "train.en"), "word", min_freq=2)
    test = read_lines(root / "test2016.de", sentences)
    ids = sorted((list(x) + [EOS_ID] for x in src_tok.encode_batch(test)), key=len)
    tiny = OmegaConf.load(CONF / "size" / "tiny.yaml")
    beam = DecodingOptions.from_config(OmegaConf.load(CONF / "decoding" / "beam.yaml"))
    torch.manual_seed(0)
    models = {
        "transformer": TransformerSeq2Seq(
            src_tok.vocab_size, tgt_tok.vocab_size, PAD_ID, tiny.d_model, tiny.n_heads,
            tiny.n_layers, tiny.n_layers, tiny.d_ff, dropout=0.0,
        ),
        "gru (bahdanau)": RNNSeq2Seq(
            src_tok.vocab_size, tgt_tok.vocab_size, PAD_ID, tiny.d_model, tiny.d_model,
            tiny.n_layers, dropout=0.0,
        ),
    }  # fmt: skip
    # (row name, model, preallocated KV cache); the two Transformer rows alternate batch by batch.
    variants = [
        ("transformer", models["transformer"], True),
        ("transformer, cat", models["transformer"], False),
        ("gru (bahdanau)", models["gru (bahdanau)"], True),
    ]
    seconds, tokens = [0.0] * len(variants), [0] * len(variants)
    for i in range(0, len(ids), batch_size):
        chunk = ids[i : i + batch_size]
        src = torch.full((len(chunk), len(chunk[-1])), PAD_ID)
        for row, seq in enumerate(chunk):
            src[row, : len(seq)] = torch.tensor(seq)
        order = [1, 0, 2] if (i // batch_size) % 2 else [0, 1, 2]
        for v in order:
            _, model, preallocate = variants[v]
            took, out = timed(generate, model.eval(), src, beam, preallocate=preallocate)
            seconds[v] += took
            tokens[v] += int(out.lengths[:, 0].sum())
    return [
        (name, seconds[v], len(ids) / seconds[v], tokens[v] / len(ids))
        for v, (name, _, _) in enumerate(variants)
    ]


def main() -> None:
    parser = benchmark_parser(__doc__, "batch 1, 100 sentences")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=128, help="sentences per beam batch")
    parser.add_argument("--full", action="store_true", help="run the batch-64 recompute loops")
    parser.add_argument("--rounds", type=int, default=2, help="alternations, cat vs preallocated")
    args = parser.parse_args()
    if args.quick:
        args.sentences, args.batch_size = 100, 50
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), random-init models\n")

    print(f"GPT 4x4x128, vocab {VOCAB}: context {CONTEXT} + {NEW_TOKENS} new tokens (tokens/s)")
    print(f"{'strategy':9s} {'batch':>5s} {'cached':>10s} {'recompute':>10s} {'speed-up':>9s}")
    for strategy, batch, cached, uncached, note in lm_rows(
        args.full, (1,) if args.quick else (1, 64)
    ):
        ratio = cached / uncached
        print(f"{strategy:9s} {batch:5d} {cached:10.0f} {uncached:10.0f} {ratio:8.1f}x  {note}")

    print("\nGPT greedy, KV cache grown by torch.cat vs preallocated, run alternately (tokens/s)")
    print(f"{'batch':>5s} {'cat':>10s} {'prealloc':>10s} {'speed-up':>9s}")
    for batch, cat, prealloc, note in cache_rows((1,) if args.quick else (1, 64), args.rounds):
        print(f"{batch:5d} {cat:10.0f} {prealloc:10.0f} {prealloc / cat:8.2f}x  {note}")

    print(f"\nbeam 5 over {args.sentences} Multi30k test2016 sentences (de→en), size=tiny")
    print(f"{'model':16s} {'seconds':>8s} {'sent/s':>8s} {'tokens/hyp':>11s}")
    for name, seconds, rate, length in beam_rows(args.data_dir, args.sentences, args.batch_size):
        print(f"{name:16s} {seconds:8.1f} {rate:8.1f} {length:11.1f}")


if __name__ == "__main__":
    main()
