"""Random numbers per run: concurrent runs (threads of one server) must not draw from each other's streams.

torch has one global CPU generator per process, shared by every thread, and ``nn.Dropout`` draws from it.
A run therefore gets its own generators (shuffling, augmentation, dropout), and seeded builds take
``GLOBAL_RNG_LOCK`` while they borrow the global generator.
"""
from __future__ import annotations

import threading

import torch
from torch import nn

# Held by seeded builds while they seed and draw from torch's global generator (engine.network.build).
GLOBAL_RNG_LOCK = threading.RLock()


class RunDropout(nn.Dropout):
    """``nn.Dropout`` whose masks come from the run's own ``generator`` instead of torch's global one.

    The arithmetic is ``F.dropout``'s on CPU (a Bernoulli(1 − p) mask divided by 1 − p), so with the same
    seed it gives the same numbers; in eval mode it is the identity.
    """

    generator: torch.Generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0.0
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.generator)
        keep.div_(1.0 - self.p)
        return x.mul_(keep) if self.inplace else x * keep


# Pages name layers by ``type(module).__name__`` (Inspect, gradient tables): a trained model's dropout layers
# must still read "Dropout" there and in ``repr``.
RunDropout.__name__ = RunDropout.__qualname__ = "Dropout"
Dropout = RunDropout  # pickle finds a class by module and qualified name


def use_run_dropout(model: nn.Module, generator: torch.Generator) -> int:
    """Make every ``nn.Dropout`` of ``model`` draw from ``generator``; returns how many there are.

    The modules keep their attributes and state (they only change class), so the state dict, ``repr``, the
    type's name and ``isinstance(m, nn.Dropout)`` are unchanged.
    """
    count = 0
    for module in model.modules():
        if type(module) is nn.Dropout or type(module) is RunDropout:
            module.__class__ = RunDropout
            module.generator = generator
            count += 1
    return count


def recurrent_dropout(model: nn.Module) -> bool:
    """Whether a recurrent layer applies its own dropout between stacked layers (drawn from the global RNG)."""
    return any(isinstance(m, nn.RNNBase) and m.dropout > 0 for m in model.modules())


def device_generator(device: torch.device, seed: int) -> torch.Generator:
    """A seeded generator on the device (no host-to-device copy per draw), or on the CPU where it has none."""
    try:
        return torch.Generator(device=device).manual_seed(seed)
    except RuntimeError:
        return torch.Generator().manual_seed(seed)
