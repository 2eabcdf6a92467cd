"""Divergence: when a run's loss counts as diverged, and the weights with the lowest training loss seen."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from engine.training.losses import LOSSES

DIVERGED_HINT = "Lower the learning rate (try a tenth) or turn on gradient-norm clipping."
# A training loss this many times its first recorded value (and above chance level) counts as diverged: a run
# that learns never gets there (noisy runs rise a few fold), while a learning rate far too high reaches 1e6-1e11
# within a few records, long before the loss overflows to inf, and would otherwise "finish" at chance accuracy.
DIVERGE_FACTOR = 1e3


def chance_loss(dataset, loss: str) -> float:
    """The loss of guessing: uniform scores over the classes, or the targets' mean (regression, reconstruction)."""
    if dataset.task in ("regression", "reconstruction"):
        y = dataset.split("train")[1].float()
        mean = y.mean(0, keepdim=True).expand_as(y)
        return float(F.binary_cross_entropy(mean, y) if loss == "bce" else F.mse_loss(mean, y))
    c = max(len(dataset.classes), 2)
    return LOSSES[loss].chance(c)


class Guard:
    """Watches a run's recorded losses and keeps a copy of its best weights.

    Args:
        state: the model's state tensors (``state_dict().values()``), copied in and out in place.
        chance: ``chance_loss`` of the run; a loss below it is never called diverged.
    """

    def __init__(self, state: list[torch.Tensor], chance: float):
        self.state, self.chance = state, chance
        self.good = [t.detach().clone() for t in state]
        self.good_step, self.good_loss = 0, math.inf
        self.first: float | None = None

    @property
    def limit(self) -> float:
        """Losses above this count as diverged: DIVERGE_FACTOR × the first recorded loss, and above chance."""
        return max(DIVERGE_FACTOR * (self.first or 0.0), self.chance)

    def grown(self, what: str, loss: float) -> str | None:
        """Why ``loss`` counts as diverged, or None; the first loss it sees sets the bar."""
        if self.first is None:
            self.first = loss
            return None
        if loss <= self.limit:
            return None
        return f"{what} grew to {loss:.3g}, over {DIVERGE_FACTOR:g}× the first training loss {self.first:.3g} " \
               f"(chance level is {self.chance:.3g})"

    def offer(self, loss: float, step: int) -> None:
        """The current weights gave ``loss`` on a batch: keep them when it is the lowest so far."""
        if loss < self.good_loss:
            torch._foreach_copy_(self.good, self.state)
            self.good_step, self.good_loss = step, loss

    def restore(self) -> str:
        """Put the best weights back; returns the sentence that says which they are."""
        with torch.no_grad():
            torch._foreach_copy_(self.state, self.good)
        if math.isinf(self.good_loss):
            return "The weights are the initial ones."
        return f"The weights are those of step {self.good_step}, the lowest training loss seen ({self.good_loss:.4g})."

    def release(self) -> None:
        """Drop the copy once the run is over."""
        self.good = []
