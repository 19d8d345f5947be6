"""MODEL_CARD.md for every run folder, and the same facts inside every checkpoint.

``card_facts`` holds what the config alone says (architecture, task, data and its license,
tokenizer, decoding, intended use, known limits); it is plain containers, so checkpoints carry
it and ``torch.load(weights_only=True)`` reads it. ``write_model_card`` adds what the run
measured (training budget, hardware, final metrics) from ``results.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seqlab.planning.format import duration

# Fallback for data configs without a `commercial_use` flag: licenses that say so in words.
_NON_COMMERCIAL = re.compile(r"non[- ]?commercial|\bNC\b", re.IGNORECASE)


def commercial_use(data: Mapping[str, Any]) -> bool | None:
    """Whether the data's license allows commercial use: the config's ``commercial_use`` flag,
    else False when the license text says non-commercial, else None (not stated)."""
    flag = data.get("commercial_use")
    if flag is not None:
        return bool(flag)
    return False if _NON_COMMERCIAL.search(str(data.get("license") or "")) else None


def _limits(cfg: Mapping[str, Any]) -> list[str]:
    data, tok, task = cfg["data"], cfg["tokenizer"], cfg["task"]
    net = cfg["model"]["net"]
    langs = f" ({data['src_lang']} → {data['tgt_lang']})" if data.get("src_lang") else ""
    limits = [
        f"Trained only on {data['name']}{langs}: expect much worse output on other domains, "
        "genres and languages.",
        f"One run with one seed ({cfg.get('seed')}): metrics carry no confidence interval.",
        "Not evaluated for bias, toxicity, factuality or robustness to adversarial input.",
    ]
    if task["kind"] == "lm":
        limits.append(f"Sees at most {task.get('block_size')} tokens of context.")
    elif net.get("max_len"):
        limits.append(f"Sources and targets longer than {net['max_len']} tokens are not supported.")
    if tok["kind"] in ("word", "char"):
        rare = (
            f" (or seen fewer than {tok['min_freq']} times)" if tok.get("min_freq", 1) > 1 else ""
        )
        limits.append(
            f"{tok['kind'].capitalize()}-level vocabulary fitted on the training split: "
            f"{tok['kind']}s unseen there{rare} become <unk>."
        )
    if (data.get("cleaning") or {}).get("lowercase"):
        limits.append("Text was lowercased for training: output is lowercase.")
    return limits


def card_facts(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What the run config says about the model, as plain containers (checkpoint-safe).

    Args:
        cfg: The composed run config as plain containers (``OmegaConf.to_container``).
    """
    data, model, task = cfg["data"], cfg["model"], cfg["task"]
    allowed = commercial_use(data)
    use = "Research and teaching: a baseline for comparing architectures, sizes and data."
    if allowed is False:
        use += (
            f" Non-commercial use only: the training data is licensed so ({data.get('license')})."
        )
    use += " Not for deployment or for decisions about people."
    return {
        "name": cfg.get("name"),
        "architecture": str(model["net"]["_target_"]).rsplit(".", 1)[-1],
        "family": model.get("family"),
        "size": dict(cfg.get("size") or {}),
        "net": {k: v for k, v in model["net"].items() if not k.startswith("_")},
        "fine_tuning": {
            "pretrained": model.get("pretrained") or model.get("init_from"),
            "freeze": list(model.get("freeze") or []),
            "gradient_checkpointing": bool(model.get("gradient_checkpointing")),
            "adapter": model.get("adapter"),
            "lora": dict(model.get("lora") or {}) if model.get("adapter") else None,
        },
        "task": {"name": task["name"], "kind": task["kind"]},
        "data": {
            "name": data["name"],
            "license": data.get("license"),
            "url": data.get("url"),
            "commercial_use": allowed,
            "files": [f["url"] for f in data.get("files") or [] if f.get("url")],
            "languages": [x for x in (data.get("src_lang"), data.get("tgt_lang")) if x],
        },
        "tokenizer": {k: cfg["tokenizer"].get(k) for k in ("kind", "shared_vocab", "vocab_size")},
        "decoding": dict(cfg.get("decoding") or {}) if task["kind"] != "lm" else None,
        "intended_use": use,
        "limits": _limits(cfg),
    }


def license_notice(stored: Mapping[str, Any]) -> str | None:
    """One line for seqlab-generate when the training data is not licensed for commercial use.

    Args:
        stored: A checkpoint's ``seqlab`` entry (its ``card``, or for older checkpoints its
            ``config``), or ``card_facts`` output itself.
    """
    facts = stored.get("card") or (card_facts(stored["config"]) if "config" in stored else stored)
    data = facts["data"]
    if data.get("commercial_use") is not False:
        return None
    return (
        f"notice: this model was trained on {data['name']}, licensed for non-commercial use only "
        f"({data.get('license')}); see {data.get('url') or 'the data config'}"
    )


def _budget(results: Mapping[str, Any], cfg: Mapping[str, Any], env: Mapping[str, Any]) -> list:
    plan = results.get("plan") or {}
    trainer = cfg.get("trainer") or {}
    devices = (plan.get("devices") or {}).get("count") or trainer.get("devices")
    batch = plan.get("batch") or {}
    seen = "not recorded (no plan in results.json)"
    if batch.get("tokens") and results.get("steps") is not None and isinstance(devices, int):
        tokens = results["steps"] * batch["tokens"] * batch.get("accumulate", 1) * devices
        seen = f"{tokens:,.0f} target tokens (steps × mean tokens per step × devices)"
    hardware = env.get("cuda") or f"{env.get('platform', '?')}, {env.get('cpu_count', '?')} CPUs"
    return [
        f"- Steps: {results.get('steps')} optimizer steps, {results.get('epochs')} epochs",
        f"- Tokens seen: {seen}",
        f"- Wall time: {duration(results.get('wall_time_s'))}",
        f"- Hardware: {hardware}; trainer {trainer.get('accelerator')} × {devices}, "
        f"precision {trainer.get('precision')}",
    ]


def _metrics(results: Mapping[str, Any], decoding: Mapping[str, Any] | None) -> list:
    rows = [
        f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
        for k, v in (results.get("metrics") or {}).items()
    ]
    table = ["| metric | value |", "| --- | --- |", *rows] if rows else ["No metrics recorded."]
    if decoding:
        settings = ", ".join(f"{k}={v}" for k, v in decoding.items() if k != "strategy")
        how = (
            f"Exact match and BLEU score `{decoding.get('strategy')}` decodes ({settings}); "
            "loss, perplexity and token accuracy are teacher-forced."
        )
    else:
        how = "Loss and perplexity are teacher-forced next-token scores; no decoding."
    return [*table, "", f"Decoding: {how}"]


def _fine_tuning(facts: Mapping[str, Any] | None) -> list[str]:
    """The card's lines on what was trained on top of what (none for a model from scratch)."""
    if not facts or not (facts["pretrained"] or facts["freeze"] or facts["adapter"]):
        return []
    lines = [f"- Starting weights: {facts['pretrained'] or 'trained from scratch'}"]
    if facts["adapter"] == "lora":
        lora = facts["lora"]
        targets = lora.get("target_modules") or "peft's default for the architecture"
        lines.append(f"- LoRA: rank {lora.get('r')}, alpha {lora.get('alpha')}, dropout "
                     f"{lora.get('dropout')}, on {targets}; only the adapter was trained and the "
                     "checkpoints hold only it (the base weights are the starting weights)")  # fmt: skip
    if facts["freeze"]:
        lines.append(f"- Frozen parts: {', '.join(facts['freeze'])} (with any weights tied to "
                     "them)")  # fmt: skip
    if facts["gradient_checkpointing"]:
        lines.append("- Gradient checkpointing: on (activations recomputed in the backward pass)")
    return lines


def render(cfg: Mapping[str, Any], results: Mapping[str, Any], env: Mapping[str, Any]) -> str:
    """The card's Markdown text."""
    f = card_facts(cfg)
    data, tok, params = f["data"], f["tokenizer"], results.get("parameters") or {}
    vocab = ((results.get("plan") or {}).get("vocab")) or {}
    allowed = {True: "yes", False: "**no**", None: "not stated"}[data["commercial_use"]]
    languages = f" ({' → '.join(data['languages'])})" if data["languages"] else ""
    sections = {
        "Model": [
            f"- Architecture: {f['architecture']} ({f['family']}): "
            + ", ".join(f"{k}={v}" for k, v in f["net"].items()),
            f"- Parameters: {params.get('total', 0):,} "
            f"({params.get('non_embedding', 0):,} non-embedding"
            + (f"; {params['trainable']:,} trainable" if "trainable" in params else "")
            + ")",
            *_fine_tuning(f["fine_tuning"]),
            f"- Task: {f['task']['name']}"
            + (f" ({f['task']['kind']})" if f["task"]["kind"] != f["task"]["name"] else ""),
            f"- Tokenizer: {tok['kind']}"
            + "".join(f", {role} vocabulary {v:,}" for role, v in vocab.items()),
        ],
        "Data": [
            f"- Dataset: {data['name']}{languages}",
            f"- License: {data['license'] or 'not stated'}; commercial use: {allowed}",
            f"- Source: {data['url'] or 'not stated'}",
            *(f"  - {u}" for u in data["files"]),
        ],
        "Training budget": _budget(results, cfg, env),
        "Final metrics": _metrics(results, f["decoding"]),
        "Intended use": [f["intended_use"]],
        "Known limits": [f"- {x}" for x in f["limits"]],
    }
    body = "".join(
        f"\n## {title}\n\n" + "\n".join(lines) + "\n" for title, lines in sections.items()
    )
    return f"# Model card: {f['name']} (run {results.get('run_id')})\n{body}"


def write_model_card(
    run_dir: str | Path, cfg: Mapping[str, Any], results: Mapping[str, Any]
) -> Path:
    """Write ``<run_dir>/MODEL_CARD.md`` from the run config (plain dict) and its results.

    Hardware comes from the run folder's environment.json when it is there.
    """
    run_dir = Path(run_dir)
    try:
        env = json.loads((run_dir / "environment.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        env = {}
    path = run_dir / "MODEL_CARD.md"
    path.write_text(render(cfg, results, env), encoding="utf-8")
    return path
