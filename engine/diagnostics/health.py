"""Unit health: which activation units are dead (always exactly 0) or saturated (stuck near a bound)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from engine.errors import InputError
from engine.training.recorder import health


@dataclass(frozen=True)
class UnitHealth:
    """One activation layer's units over a probe set.

    Attributes:
        layer: its index path as the summary shows it ("3", "3.1").
        kind: the activation's torch class name ("ReLU", "Tanh", ...).
        name: both ("3.1 ReLU"), the label charts use.
        dead: fraction (0..1) of units whose output is exactly 0 for every probe sample.
        saturated: fraction (0..1) of units within 1% of a bound (|tanh| ≥ 0.99; sigmoid ≤ 0.01 or ≥ 0.99; the
            hard variants alike) for at least 95% of the probe samples; 0 for activations without bounds.
    """

    layer: str
    kind: str
    name: str
    dead: float
    saturated: float

    def __getitem__(self, key: str):
        """Also readable as a dict: ``record["dead"]``."""
        return getattr(self, key)

    def to_dict(self) -> dict:
        return asdict(self)


def unit_health(model: nn.Module, x: torch.Tensor) -> list[UnitHealth]:
    """Dead and saturated unit shares of every activation layer on a probe batch.

    A unit is one feature, or one channel at one position of a convolution's output. The model runs once in
    eval mode (dropout off, batch norm on its running statistics) without gradients; its modes, weights and
    buffers are left as they were.

    Args:
        model: the network.
        x: the probe batch (e.g. 256 seeded validation samples), moved to the model's device (and float dtype).

    Returns:
        One ``UnitHealth`` per activation module (Sigmoid, Tanh, ReLU, LeakyReLU, ELU, hard variants) in module
        order; empty when the network has none.

    Raises:
        InputError: an empty batch, or one the network cannot read (the message says why).
    """
    if x.shape[0] == 0:
        raise InputError("unit health needs at least one probe sample")
    first = next(model.parameters(), None)
    if first is not None:
        x = x.to(first.device, first.dtype) if x.is_floating_point() else x.to(first.device)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        rows = health(model, x)
    except (RuntimeError, ValueError, IndexError) as exc:
        raise InputError(f"the network cannot read this probe batch of shape {tuple(x.shape)}: {exc}") from None
    finally:
        for module, training in modes:
            module.training = training
    return [UnitHealth(**row) for row in rows]
