"""Lightning's DDP, with the model wrapped on the stream that trains it."""

from __future__ import annotations

from lightning.pytorch.strategies import DDPStrategy as LightningDDP
from torch import nn
from torch.nn.parallel import DistributedDataParallel


class DDPStrategy(LightningDDP):
    """Lightning's `DDPStrategy` (same arguments), wrapping the model on the current CUDA stream.

    Lightning 2.6 wraps it on a fresh side stream (for whole-step CUDA graph capture). DDP keeps
    the gradient accumulators it creates there, so every backward on the default stream syncs
    across the two streams and PyTorch ≥ 2.10 warns ("The AccumulateGrad node's stream does not
    match ..."); Lightning 2.6.6 still does (its fix is PR #21746). seqlab captures no CUDA
    graphs, so it follows PyTorch's advice: initialize DDP on the stream of the forwards.
    """

    def _setup_model(self, model: nn.Module) -> DistributedDataParallel:
        return DistributedDataParallel(
            module=model, device_ids=self.determine_ddp_device_ids(), **self._ddp_kwargs
        )
