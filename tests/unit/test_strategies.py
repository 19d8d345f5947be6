"""seqlab's DDP strategy wraps the model on the current stream, not on a side stream."""

import pytest
import torch

from seqlab.lit import strategies
from seqlab.lit.strategies import DDPStrategy


@pytest.fixture
def no_side_streams(monkeypatch):
    """Records what DDP is built with; any side stream made for the wrapping fails the test."""
    built = {}

    def fake_ddp(module, device_ids=None, **kwargs):
        built.update(module=module, device_ids=device_ids, **kwargs)
        return module

    def side_stream(*args, **kwargs):
        raise AssertionError("DDP wrapped on a side stream")

    monkeypatch.setattr(strategies, "DistributedDataParallel", fake_ddp)
    monkeypatch.setattr(torch.cuda, "Stream", side_stream)
    return built


def _gpu_strategy(cls, monkeypatch):
    strategy = cls(find_unused_parameters=True)
    monkeypatch.setattr(strategy, "determine_ddp_device_ids", lambda: [0])
    return strategy


def test_ddp_wraps_the_model_on_the_current_stream(no_side_streams, monkeypatch):
    net = torch.nn.Linear(2, 2)
    assert _gpu_strategy(DDPStrategy, monkeypatch)._setup_model(net) is net
    assert no_side_streams == {"module": net, "device_ids": [0], "find_unused_parameters": True}
