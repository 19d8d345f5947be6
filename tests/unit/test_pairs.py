"""The pairs tasks' loss: label smoothing over the columns a model can produce."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seqlab.lit.pairs import smoothed_over_finite


def _batch():
    torch.manual_seed(0)
    logits, targets = torch.randn(12, 10), torch.randint(3, 10, (12,))
    targets[:3] = 0  # padding
    return logits, targets


def test_with_every_column_finite_it_is_pytorchs_label_smoothing():
    logits, targets = _batch()
    expected = F.cross_entropy(logits, targets, ignore_index=0, label_smoothing=0.1)
    torch.testing.assert_close(smoothed_over_finite(logits, targets, 0.1, 0), expected)


def test_masked_columns_get_no_share_and_the_loss_stays_finite():
    logits, targets = _batch()
    masked = logits.clone()
    masked[:, :3] = float("-inf")  # never targets: as a transformers adapter's special columns
    assert torch.isinf(F.cross_entropy(masked, targets, ignore_index=0, label_smoothing=0.1))
    # The same as PyTorch's smoothing over the seven columns left.
    expected = F.cross_entropy(logits[:, 3:], (targets - 3).clamp(min=0), label_smoothing=0.1,
                               reduction="none")[targets != 0].mean()  # fmt: skip
    torch.testing.assert_close(smoothed_over_finite(masked, targets, 0.1, 0), expected)
