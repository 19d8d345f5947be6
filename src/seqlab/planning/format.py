"""The plan as text: one line for seqlab-train's log, a short table for seqlab-plan."""

from __future__ import annotations

from typing import Any

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def si(value: float | None, unit: str = "") -> str:
    """1234567 -> '1.23M', or '1.23 MFLOP' with a unit (3 significant digits); None -> '?'."""
    if value is None:
        return "?"
    for scale, prefix in _SI:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}" if unit else f"{value / scale:.3g}{prefix}"
    return f"{value:.3g} {unit}" if unit else f"{value:.3g}"


def size(n_bytes: float | None) -> str:
    """Bytes in binary units: '37.7 MiB'."""
    if n_bytes is None:
        return "?"
    for scale, prefix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {prefix}"
    return f"{n_bytes:.0f} B"


def duration(seconds: float | None) -> str:
    """Seconds as the largest fitting unit: '0.12 s', '3.8 min', '2.1 h', '1.5 d'."""
    if seconds is None:
        return "?"
    for scale, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def _count(n: float | None) -> str:
    return "?" if n is None else f"{n:,.0f}"


def _peak(t: dict[str, Any]) -> str:
    return f"{t['utilization']:.0%} of {si(t['peak_flops'], 'FLOP/s')} ({t['peak_source']})"


def _trainable(p: dict[str, Any], sep: str) -> str:
    """``, 2.0K trainable`` when some parameters are frozen (``model.freeze``, LoRA), else ``""``."""
    trainable = p.get("trainable", p["total"])  # absent from plans written before freezing
    return f"{sep}{si(trainable)} trainable" if trainable < p["total"] else ""


def format_line(plan: dict[str, Any]) -> str:
    """The whole plan in one line (seqlab-train prints it before training)."""
    p, f, m, d, s, t = (plan[k] for k in ("parameters", "flops", "memory", "data", "steps", "time"))
    dev = plan["devices"]
    devices = (
        f" x{dev['count']} {dev['accelerator']} ({dev['strategy']})" if dev["count"] > 1 else ""
    )
    parts = [
        f"plan: {plan['model']} {si(p['total'])} params ({si(p['non_embedding'])} non-embedding"
        f"{_trainable(p, ', ')})",
        f"train {si(f['train_per_token'], 'FLOP')}/token, {si(f['per_step'], 'FLOP')}/step",
        f"generate {si(f['generate_per_token'], 'FLOP')}/token",
        f"memory/device {size(m['peak'])} (activations {size(m['activations'])}, "
        f"optimizer {size(m['optimizer'])}){devices}",
        f"data {si(d['train_tokens'])} train tokens ({d['source']})",
        f"{_count(s['per_epoch'])} steps/epoch, {_count(s['total'])} steps",
        f"~{duration(t['per_step_s'])}/step, {duration(t['per_epoch_s'])}/epoch, "
        f"{duration(t['total_s'])} total at {_peak(t)}",
    ]
    return " | ".join(parts)


def format_text(plan: dict[str, Any], title: str) -> str:
    """A short table for seqlab-plan."""
    p, f, m, d, s, t = (plan[k] for k in ("parameters", "flops", "memory", "data", "steps", "time"))
    dev, b = plan["devices"], plan["batch"]
    n = dev["count"]
    devices = f"{n} {dev['accelerator']} device{'s' if n > 1 else ''}"
    devices += "" if dev["known"] else " (count not known here: assumed)"
    vocab = ", ".join(f"{role} {v:,}" for role, v in plan["vocab"].items())
    lengths = f"{b['tgt_len']:.1f}"
    if b["src_len"]:
        lengths = f"(src {b['src_len']:.1f}, tgt {lengths})"
    examples = f"{d['train_examples']:,} pairs, " if d["train_examples"] else ""
    buckets = f" + DDP buckets {size(m['buckets'])}" if m["buckets"] else ""
    rows = [
        (f"seqlab-plan: {title} ({plan['model']}) on {devices}, {dev['strategy']}, "
         f"precision {dev['precision']}"),
        f"  parameters       {si(p['total'])}: {si(p['embedding'])} embedding, "
        f"{si(p['non_embedding'])} non-embedding{_trainable(p, '; ')}",
        f"  vocabulary       {vocab} ({d['source']})",
        f"  batch / device   {b['sequences']:.1f} sequences x {lengths} tokens (mean), "
        f"{b['tokens']:,.0f} target tokens; {b['accumulate']} batch(es) per step",
        f"  FLOPs            train {si(f['train_per_token'], 'FLOP')}/token, "
        f"{si(f['per_step'], 'FLOP')}/step; generate {si(f['generate_per_token'], 'FLOP')}/token",
        f"  memory / device  peak {size(m['peak'])} = weights {size(m['weights'])} + optimizer "
        f"{size(m['optimizer'])}{buckets} + max(activations {size(m['activations'])}, "
        f"gradients {size(m['gradients'])} + update {size(m['update'])})",
        f"  data             {examples}{si(d['train_tokens'])} train tokens ({d['source']})",
        f"  steps            {_count(s['per_epoch'])} per epoch, {_count(s['total'])} in total",
        f"  time             {duration(t['per_step_s'])}/step, {duration(t['per_epoch_s'])}/epoch, "
        f"{duration(t['total_s'])} in total at {_peak(t)}",
    ]  # fmt: skip
    return "\n".join(rows)
