"""seqlab-export of a model=hf_causal_lm / hf_seq2seq run: the `transformers` model itself (a
LoRA adapter merged into its weights) or, with ``adapter_only``, the peft adapter folder alone,
each beside the tokenizer the run read (``tokenizer=pretrained``: the model's own)."""

from __future__ import annotations

from pathlib import Path

from seqlab.errors import SeqlabError


def export_hf(net, ckpt: dict, path: str, out: Path, adapter_only: bool) -> str:
    """Write ``net`` (a `transformers` adapter loaded from checkpoint ``path``) to ``out``;
    returns what was written, in words."""
    from transformers import AutoTokenizer

    from seqlab.hub import resolve_pretrained

    config = ckpt["seqlab"]["config"]
    tokenizer = config["tokenizer"]
    if tokenizer["kind"] != "pretrained":  # seqlab's own vocabulary: ids the model never had
        raise SeqlabError(
            f"{path} was trained with tokenizer.kind={tokenizer['kind']}; only runs with the "
            "model's own tokenizer (tokenizer=pretrained) export as transformers folders"
        )
    if adapter_only and not net.adapter:
        raise SeqlabError(f"adapter_only=true: {path} has no adapter (model.adapter=null); "
                          "leave adapter_only out to export the whole model")  # fmt: skip
    if adapter_only:
        base = str(config["model"]["pretrained"])
        net.model.peft_config[net.model.active_adapter].base_model_name_or_path = base
        net.model.save_pretrained(out)  # adapter_config.json, adapter_model.safetensors
        what = f"a peft {net.adapter} adapter folder (base model: {base})"
    else:
        net.merged().save_pretrained(out)  # config.json, model.safetensors
        what = "a transformers folder" + (f" ({net.adapter} merged)" if net.adapter else "")
    source = resolve_pretrained(str(tokenizer["name"]), "tokenizer.name")
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return what
