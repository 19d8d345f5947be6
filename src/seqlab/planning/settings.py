"""Schema of the ``plan`` config section (conf/plan/default.yaml); no heavy imports."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class PlanSettings:
    """Knobs of the estimates; each key is documented in conf/plan/default.yaml."""

    peak_flops: float | None = None
    utilization: dict[str, float] = dataclasses.field(
        default_factory=lambda: {
            "default": 0.3,
            "GPT": 0.4,
            "TransformerSeq2Seq": 0.4,
            "RNNLM": 0.15,
            "RNNSeq2Seq": 0.15,
        }
    )
    prepare_data: bool = False
    assumed_vocab_size: dict[str, int] = dataclasses.field(
        default_factory=lambda: {"char": 100, "word": 10000, "bpe": 8000}
    )
    bytes_per_token: dict[str, float] = dataclasses.field(
        default_factory=lambda: {"char": 1.0, "word": 5.5, "bpe": 4.0}
    )
    assumed_length: int = 32
