"""The hand-written baseline for the main job: a plain PyTorch GRU + Bahdanau attention on SCAN.

What a researcher would write without a framework (the PyTorch seq2seq tutorial's model, batched):
one GRU layer of 128 units, a unidirectional encoder whose final state starts the decoder,
additive attention whose context joins the embedding as decoder input, Adam at 1e-3 decayed by
0.85 every epoch, gradient clipping at 1.0, no dropout, batches of 64 drawn at random. It trains
on the same split as `make train` (seqlab's SCAN generator: the only seqlab code used here) and
prints, after every epoch, the seconds so far and greedy exact match on the test split.

    python experiments/scan/handwritten.py [--epochs 12] [--seed 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.data.datasets import scan_grammar_split

PAD, BOS, EOS = 0, 1, 2


class Vocab:
    def __init__(self, texts: list[str]):
        words = sorted({w for t in texts for w in t.split()})
        self.itos = ["<pad>", "<bos>", "<eos>", *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def encode(self, text: str) -> list[int]:
        return [self.stoi[w] for w in text.split()]


class Encoder(nn.Module):
    def __init__(self, vocab: int, hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden, padding_idx=PAD)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor):
        packed = pack_padded_sequence(self.embedding(src), lengths, batch_first=True,
                                      enforce_sorted=False)  # fmt: skip
        out, h = self.rnn(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=src.size(1))[0], h


class Decoder(nn.Module):
    def __init__(self, vocab: int, hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden)
        self.w_query, self.w_key = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, 1)
        self.rnn = nn.GRU(2 * hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def step(self, token, h, keys, values, mask):
        scores = self.v(torch.tanh(self.w_query(h[-1]).unsqueeze(1) + keys)).squeeze(-1)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        context = torch.bmm(weights.unsqueeze(1), values)
        out, h = self.rnn(torch.cat([self.embedding(token).unsqueeze(1), context], -1), h)
        return self.out(out.squeeze(1)), h


def batch(pairs, rows):
    src = [pairs[i][0] + [EOS] for i in rows]
    tgt = [[BOS, *pairs[i][1], EOS] for i in rows]
    pad = lambda seqs: torch.tensor([s + [PAD] * (max(map(len, seqs)) - len(s)) for s in seqs])  # noqa: E731
    return pad(src), torch.tensor([len(s) for s in src]), pad(tgt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--hidden", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    split = scan_grammar_split(train_fraction=0.8, seed=0)
    train_text, test_text = split["train"], split["test"]
    vocab = Vocab([t for pair in train_text for t in pair])
    train = [(vocab.encode(s), vocab.encode(t)) for s, t in train_text]
    test = [(vocab.encode(s), vocab.encode(t)) for s, t in test_text]
    enc, dec = Encoder(len(vocab.itos), args.hidden), Decoder(len(vocab.itos), args.hidden)
    params = [*enc.parameters(), *dec.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.85)
    rng = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        enc.train(), dec.train()
        order = rng.permutation(len(train))
        for i in range(0, len(order), 64):
            src, lengths, tgt = batch(train, order[i : i + 64])
            values, h = enc(src, lengths)
            keys, mask = dec.w_key(values), src != PAD
            logits = []
            for t in range(tgt.size(1) - 1):
                step_logits, h = dec.step(tgt[:, t], h, keys, values, mask)
                logits.append(step_logits)
            loss = F.cross_entropy(torch.stack(logits, 1).flatten(0, 1), tgt[:, 1:].flatten(),
                                   ignore_index=PAD)  # fmt: skip
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
        schedule.step()
        print(f"epoch {epoch:2d}  {time.perf_counter() - start:6.1f} s  test exact match "
              f"{exact_match(enc, dec, test):.4f}", flush=True)  # fmt: skip


@torch.inference_mode()
def exact_match(enc: Encoder, dec: Decoder, pairs) -> float:
    enc.eval(), dec.eval()
    right = 0
    for i in range(0, len(pairs), 512):
        rows = range(i, min(i + 512, len(pairs)))
        src, lengths, _ = batch(pairs, rows)
        values, h = enc(src, lengths)
        keys, mask = dec.w_key(values), src != PAD
        token, out = torch.full((len(rows),), BOS), []
        for _ in range(60):
            logits, h = dec.step(token, h, keys, values, mask)
            token = logits.argmax(-1)
            out.append(token)
        out = torch.stack(out, 1).tolist()
        for row, r in zip(out, rows, strict=True):
            hyp = row[: row.index(EOS)] if EOS in row else row
            right += hyp == pairs[r][1]
    return right / len(pairs)


if __name__ == "__main__":
    main()
