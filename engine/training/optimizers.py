"""The optimiser registry: name → ``Optimizer`` (what pages list, the formula torch runs, how a run makes one)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn


@dataclass(frozen=True)
class Optimizer:
    """An optimiser a run may use.

    Attributes:
        name: the ``TrainConfig.optimizer`` value.
        description: one line for the page, in the course's words.
        formula: the exact update PyTorch performs (g: the gradient with the L1/L2 penalties added).
        default_lr: the learning rate when ``TrainConfig.lr`` is None (``TrainConfig.learning_rate`` resolves it;
            the rate comes in resolved, so this registry never calls back into the config).
        settings: the ``TrainConfig`` fields only this optimiser (and others listing them) uses, e.g. ("momentum",).
        torch_class: the ``torch.optim`` class.
        hyper: the torch keyword arguments besides ``lr`` taken from a config (its ``settings``, as torch names them).
    """

    name: str
    description: str
    formula: str
    default_lr: float
    settings: tuple[str, ...]
    torch_class: type[torch.optim.Optimizer]
    hyper: Callable[[Any], dict]

    def make(self, params, lr: float, config: Any) -> torch.optim.Optimizer:
        """The torch optimiser over ``params`` (tensors or parameter groups) at rate ``lr`` with ``config``'s
        settings (a ``TrainConfig``, read for this optimiser's ``settings``)."""
        return self.torch_class(params, lr=lr, **self.hyper(config))

    def apply(self, optimizer: torch.optim.Optimizer, lr: float, config: Any) -> None:
        """Put rate ``lr`` and ``config``'s settings into every parameter group: a live change acts from the next
        step."""
        for group in optimizer.param_groups:
            group["lr"] = lr
            group.update(self.hyper(config))

    def uses(self, setting: str) -> bool:
        """Whether a ``TrainConfig`` setting acts on this optimiser: its own, or one that no optimiser owns (lr …)."""
        return setting in self.settings or not owners(setting)


def _sgd(nesterov: bool) -> Callable[[Any], dict]:
    # torch refuses nesterov without momentum, so μ = 0 makes it plain SGD (also when μ changes live)
    return lambda c: {"momentum": c.momentum, "nesterov": nesterov and c.momentum > 0}


OPTIMIZERS: dict[str, Optimizer] = {o.name: o for o in [
    Optimizer("sgd", "Plain stochastic gradient descent: w ← w − η·g",
              "torch.optim.SGD: w ← w − η·g",
              0.1, (), torch.optim.SGD, lambda c: {"momentum": 0.0, "nesterov": False}),
    Optimizer("momentum", "SGD with momentum: a velocity v ← μv + g, w ← w − η·v",
              "torch.optim.SGD(momentum=μ): v ← μ·v + g, w ← w − η·v (equals v ← μv − ηg, w ← w + v while η "
              "is fixed)",
              0.01, ("momentum",), torch.optim.SGD, _sgd(nesterov=False)),
    Optimizer("nesterov", "Nesterov momentum: the gradient taken after the look-ahead step",
              "torch.optim.SGD(nesterov=True): v ← μ·v + g, w ← w − η·(g + μ·v); the stored w is the look-ahead "
              "point w + μv of the course's form v ← μv − η∇f(w + μv), w ← w + v (same path, shifted weights)",
              0.01, ("momentum",), torch.optim.SGD, _sgd(nesterov=True)),
    Optimizer("adagrad", "AdaGrad: each weight's step divided by the root of its summed squared gradients",
              "torch.optim.Adagrad: G ← G + g², w ← w − η·g / (√G + 1e-10)",
              0.01, (), torch.optim.Adagrad, lambda c: {}),
    Optimizer("rmsprop", "RMSProp: divided by a running root-mean-square of gradients (decay α = 0.9)",
              "torch.optim.RMSprop: s ← α·s + (1 − α)·g², w ← w − η·g / (√s + 1e-8)",
              0.001, ("alpha",), torch.optim.RMSprop, lambda c: {"alpha": c.alpha}),
    Optimizer("adam", "Adam: momentum and RMSProp together, with bias correction",
              "torch.optim.Adam: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², w ← w − η·(m / (1 − β₁ᵗ)) / "
              "(√(v / (1 − β₂ᵗ)) + 1e-8); weight decay is coupled L2 in g, not AdamW",
              0.001, ("betas",), torch.optim.Adam, lambda c: {"betas": tuple(c.betas)}),
]}


def owners(setting: str) -> tuple[str, ...]:
    """The optimisers that own a setting, in registry order; () for one every optimiser uses (lr, weight_decay …)."""
    return tuple(name for name, o in OPTIMIZERS.items() if setting in o.settings)


def penalised(model: nn.Module) -> list[nn.Parameter]:
    """The weights the L1 and L2 penalties act on: matrices and kernels, not biases or norm scales."""
    return [p for p in model.parameters() if p.requires_grad and p.dim() > 1]


def make_optimizer(model: nn.Module, config: Any, lr: float) -> torch.optim.Optimizer:
    """The configured optimiser; weight decay goes to ``penalised`` weights only (two parameter groups). Without
    weight decay, one group holding the same parameters in the same order (penalised first).

    ``Loop`` passes ``weight_decay=0`` and adds λw to the gradient itself, before clipping.

    Args:
        model: the network whose trainable parameters it updates.
        config: a ``TrainConfig``: ``optimizer`` (an ``OPTIMIZERS`` name), ``weight_decay`` and that optimiser's
            settings.
        lr: the learning rate, resolved (``TrainConfig.learning_rate``).

    Returns:
        The ``torch.optim`` optimiser.
    """
    decay = penalised(model)
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    if not config.weight_decay:  # one group, in the same order: each group costs a step its own pass (≈ 9 µs)
        return OPTIMIZERS[config.optimizer].make([{"params": decay + rest}], lr, config)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return OPTIMIZERS[config.optimizer].make([g for g in groups if g["params"]], lr, config)
