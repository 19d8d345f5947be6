"""Fine-tuning controls every `transformers` adapter shares: its parts (for ``model.freeze``) by
the model's own accessors, gradient checkpointing, and LoRA through `peft`.

With LoRA the adapter's ``model`` is a ``PeftModel`` around the `transformers` model; only the
LoRA tensors train, so a checkpoint stores those alone and the base weights come back from
``model.pretrained`` (``stores_trainable_only``). `peft` is imported only when LoRA is asked for.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

ADAPTERS = ("lora",)  # model.adapter values besides null
LORA_KEYS = ("r", "alpha", "dropout", "target_modules")  # model.lora keys


def lora_config(settings: dict[str, Any]):
    """``peft.LoraConfig`` for ``model.lora`` (``target_modules=None``: peft's default for the
    architecture, e.g. GPT-2's c_attn, BART's q_proj and v_proj)."""
    from peft import LoraConfig

    return LoraConfig(r=settings["r"], lora_alpha=settings["alpha"],
                      lora_dropout=settings["dropout"],
                      target_modules=settings.get("target_modules"))  # fmt: skip


class FineTuning:
    """Mixed into the `transformers` adapters: ``self.model`` is the model (a ``PeftModel`` when
    ``self.adapter`` is set)."""

    model: nn.Module

    adapter: str | None = None

    def add_adapter(self, adapter: str | None, lora: dict[str, Any] | None) -> None:
        """Wrap ``self.model`` in LoRA layers; everything else stops training."""
        if adapter is None:
            return
        if adapter not in ADAPTERS:
            raise ValueError(f"adapter {adapter!r} is not one of {', '.join(ADAPTERS)}")
        from peft import get_peft_model

        self.adapter = adapter
        self.model = get_peft_model(self.model, lora_config(lora or {}))

    @property
    def hf_model(self) -> nn.Module:
        """The `transformers` model (under LoRA: with its LoRA layers, unwrapped from peft)."""
        return self.model.get_base_model() if self.adapter else self.model

    @property
    def stores_trainable_only(self) -> bool:
        """Whether checkpoints hold only the trainable tensors (the base is ``model.pretrained``)."""
        return self.adapter is not None

    def parts(self) -> dict[str, list[nn.Module]]:
        """What ``model.freeze`` can name, from the model's accessors (an encoder only where the
        model has one: a decoder-only model's ``get_encoder`` returns the model itself)."""
        model = self.hf_model
        parts = {"embeddings": [model.get_input_embeddings()]}
        if model.config.is_encoder_decoder:
            parts["encoder"] = [model.get_encoder()]
        decoder = model.get_decoder()
        if decoder is not None and decoder is not model:
            parts["decoder"] = [decoder]
        if model.get_output_embeddings() is not None:
            parts["lm_head"] = [model.get_output_embeddings()]
        return parts

    def enable_gradient_checkpointing(self) -> None:
        """Recompute activations in the backward pass instead of storing them (no KV cache
        while training: the two do not mix)."""
        model = self.hf_model
        if not model.supports_gradient_checkpointing:
            raise ValueError(f"{type(model).__name__} does not support gradient checkpointing")
        kwargs = {"use_reentrant": False}  # the reentrant variant drops grads of frozen inputs
        if hasattr(model, "activation_checkpointing_enable"):  # its name from transformers 5.x on
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        model.config.use_cache = False

    @property
    def checkpointing(self) -> bool:
        """Whether activations are recomputed in the backward pass."""
        model = self.hf_model
        flag = getattr(type(model), "is_activation_checkpointing", None)
        return bool(model.is_activation_checkpointing if flag else model.is_gradient_checkpointing)

    def load_pretrained_state(self, state: dict[str, Tensor]) -> None:
        """A pre-trained model's state dict into the model (under LoRA, into its base layers:
        peft renames a wrapped ``x.weight`` to ``x.base_layer.weight``)."""
        if not self.adapter:
            self.model.load_state_dict(state)
            return
        model = self.hf_model
        mine = {k: k.replace(".base_layer.", ".") for k in model.state_dict() if "lora_" not in k}
        missing = [theirs for theirs in mine.values() if theirs not in state]
        if missing:
            raise KeyError(f"the pre-trained weights have no {missing[0]}")
        result = model.load_state_dict({k: state[v] for k, v in mine.items()}, strict=False)
        assert all("lora_" in k for k in result.missing_keys), result.missing_keys

    def merged(self) -> nn.Module:
        """The `transformers` model with the LoRA update added into its weights (this adapter's
        own model is left as it was: the merge runs on a copy)."""
        import copy

        return copy.deepcopy(self.model).merge_and_unload() if self.adapter else self.model
