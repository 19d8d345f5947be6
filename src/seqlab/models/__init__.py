"""Pure-PyTorch sequence models: GRU and Transformer seq2seq, GPT and GRU language models.

Seq2seq models share an incremental-decoding interface (``encode``, ``init_state``, ``step``,
``reorder_state``); language models expose ``init_state(batch_size, device)``, ``prefill``,
``step`` and ``reorder_state``. Decoding states are dicts of batch-first tensors.
"""

from seqlab.models.gpt import GPT
from seqlab.models.gru_lm import GRULM
from seqlab.models.gru_seq2seq import GRUSeq2Seq
from seqlab.models.transformer_seq2seq import TransformerSeq2Seq

__all__ = ["GPT", "GRULM", "GRUSeq2Seq", "TransformerSeq2Seq"]
