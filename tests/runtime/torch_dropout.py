"""Dropout whose training-mode masks can be fed from outside, for the PyTorch reference models
(torch_models.py, torch_classics.py): a parity test hands the same masks to cnnc and to PyTorch."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class MaskedDropout(nn.Module):
    """nn.Dropout(p), except that in training it takes its mask from a queue when one is set.

    A mask has the output's shape and holds 0 or 1/(1-p); the output is `x * mask`. `queue` is
    shared through the root model's `dropout_masks` (see torch_models.build); when it is None, this draws
    its own mask like nn.Dropout. Inference, and p = 0, is the identity either way.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p
        self.queue: list[Any] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:  # no mask is drawn, none is taken (like cnnc)
            return x
        if self.queue is None:
            return F.dropout(x, self.p, training=True)
        if not self.queue:
            raise RuntimeError("model.dropout_masks ran out: one mask is needed per dropout call")
        mask = torch.as_tensor(self.queue.pop(0), dtype=x.dtype, device=x.device)
        if mask.shape != x.shape:
            raise ValueError(f"dropout mask of shape {tuple(mask.shape)} for an output of shape "
                             f"{tuple(x.shape)}")
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MaskedStochasticDepth(nn.Module):
    """torchvision's StochasticDepth(p, "row"), except that in training it takes its mask from
    the queue the dropouts share, when one is set (in forward order, as cnnc's steps run).

    A mask has shape (N, 1, ...) and holds 0 or 1/(1-p) per sample; the output is `x * mask`.
    Without a queue it draws its own, as torchvision does; inference, and p = 0, is the identity.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.queue: list[Any] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        if self.queue is None:
            return x * torch.empty(shape, dtype=x.dtype).bernoulli_(1 - self.p) / (1 - self.p)
        if not self.queue:
            raise RuntimeError("model.dropout_masks ran out: one mask is needed per drop call")
        mask = torch.as_tensor(self.queue.pop(0), dtype=x.dtype, device=x.device)
        if tuple(mask.shape) != shape:
            raise ValueError(f"stochastic depth mask of shape {tuple(mask.shape)} for an output "
                             f"of shape {tuple(x.shape)}")
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, mode=row"


def share_mask_queue(model: nn.Module, inputs: tuple[Any, ...]) -> None:
    """Forward pre-hook of the root model: hands its `dropout_masks` list to every dropout and
    stochastic depth."""
    queue = getattr(model, "dropout_masks", None)
    for m in model.modules():
        if isinstance(m, (MaskedDropout, MaskedStochasticDepth)):
            m.queue = queue
