"""Pure-PyTorch sequence models: recurrent (GRU/LSTM) and Transformer seq2seq, GPT and recurrent
language models.

Seq2seq models share an incremental-decoding interface (``encode``, ``init_state``, ``step``,
``reorder_state``); language models expose ``init_state(batch_size, device)``, ``prefill``,
``step`` and ``reorder_state``. Decoding states are dicts of batch-first tensors.
"""

from seqlab.models.gpt import GPT
from seqlab.models.rnn_lm import RNNLM
from seqlab.models.rnn_seq2seq import RNNSeq2Seq
from seqlab.models.transformer_seq2seq import TransformerSeq2Seq

__all__ = ["GPT", "RNNLM", "RNNSeq2Seq", "TransformerSeq2Seq"]
