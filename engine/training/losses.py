"""The loss registry: name → ``Loss`` (what pages list, the formula torch computes, the function a run calls)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from engine.errors import InputError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Loss:
    """A loss a run may use.

    Attributes:
        name: the ``TrainConfig.loss`` value.
        description: one line for the page, in the course's words.
        formula: the exact formula PyTorch computes for a batch of N samples with C classes (or outputs).
        fn: ``fn(output, target)`` → the batch's mean loss, with character outputs already ``(N·T, V)``;
            None for "auto", which ``resolve_loss`` turns into a real loss.
        tasks: the dataset tasks (``Dataset.task``) whose targets it accepts.
        chance: the loss of uniform scores over C classes (the divergence guard's floor); None for "auto".
    """

    name: str
    description: str
    formula: str
    fn: LossFn | None
    tasks: tuple[str, ...] = ("classification", "char", "regression")
    chance: Callable[[int], float] | None = None


def _mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if target.dtype == torch.long:  # MSE between softmax probabilities and one-hot targets
        one_hot = F.one_hot(target, output.shape[-1]).to(output.dtype)
        return F.mse_loss(output.softmax(dim=-1), one_hot)
    return F.mse_loss(output, target.reshape(output.shape).to(output.dtype))


_CLASSES = ("classification", "char")

LOSSES: dict[str, Loss] = {l.name: l for l in [
    Loss("auto", "the task's natural loss: cross-entropy for classes and characters, MSE for regression and "
         "reconstruction", "cross-entropy for classes and characters, mse for regression and reconstruction", None),
    Loss("cross-entropy", "−Σ t log softmax(s): the gradient w.r.t. the logits is softmax(s) − t",
         "F.cross_entropy: (1/N)·Σ_n −log softmax(s_n)[y_n] (characters: averaged over all N·T tokens)",
         F.cross_entropy, _CLASSES, lambda c: math.log(c)),
    Loss("mse", "mean squared error; for classes, between softmax probabilities and one-hot targets (a poor match)",
         "F.mse_loss: (1/(N·C))·Σ_n Σ_c (p_nc − t_nc)², p = softmax(s), t one-hot, so the mean over classes "
         "too (regression: s instead of p, averaged over N × outputs)",
         _mse, (*_CLASSES, "regression", "reconstruction"), lambda c: (c - 1) / c ** 2),
    # MultiMarginLoss: Σ_{j≠y} max(0, 1 − s_y + s_j) / C, averaged over the batch
    Loss("hinge", "multi-class hinge Σ_{j≠y} max(0, s_j − s_y + 1), divided by the number of classes",
         "F.multi_margin_loss: (1/N)·Σ_n (1/C)·Σ_{j≠y_n} max(0, 1 − s_ny + s_nj); the 1/C is torch's, the "
         "CS231n form has none",
         F.multi_margin_loss, _CLASSES, lambda c: (c - 1) / c),
    Loss("bce", "binary cross-entropy between outputs in [0, 1] (after a Sigmoid) and targets in [0, 1], e.g. pixels",
         "F.binary_cross_entropy: −(1/M)·Σ_i [t_i·log p_i + (1 − t_i)·log(1 − p_i)] over all M outputs, p the "
         "network's output (a Sigmoid's), t the target (each log clamped at −100, as torch does)",
         lambda output, target: F.binary_cross_entropy(output, target.reshape(output.shape).to(output.dtype)),
         ("reconstruction",)),
]}

# what "auto" means for each task
_TASK_LOSS = {"classification": "cross-entropy", "char": "cross-entropy", "regression": "mse", "reconstruction": "mse"}


def resolve_loss(name: str, task: str) -> str:
    """The loss a run uses: "auto" becomes the task's own; a loss that cannot read the task's targets is refused.

    Raises:
        InputError: e.g. cross-entropy or hinge on regression targets (numbers, not class labels).
    """
    loss = _TASK_LOSS[task] if name == "auto" else name
    if task in LOSSES[loss].tasks:
        return loss
    if loss == "bce":
        raise InputError("bce compares outputs in [0, 1] with targets in [0, 1] (an autoencoder's pixels); for "
                         "classes use cross-entropy")
    if task == "reconstruction":
        raise InputError(f"{loss} needs class labels; an autoencoder's target is its input image: use mse or bce")
    raise InputError(f"{loss} needs class labels; the {task} targets here are numbers: use mse")


def check_output_range(loss: str, spec) -> None:
    """BCE takes the log of the outputs and of one minus them: the network must end in a Sigmoid.

    Raises:
        InputError: "bce" on a network whose last value-changing layer is not a Sigmoid.
    """
    kept = [layer["type"] for layer in spec.layers if layer["type"] not in ("Unflatten", "Flatten", "Dropout")]
    if loss == "bce" and (not kept or kept[-1] != "Sigmoid"):
        raise InputError("bce needs outputs in [0, 1]: end the network with a Sigmoid layer, or use mse")


def compute_loss(loss: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean loss of a batch.

    Args:
        loss: a resolved ``LOSSES`` name ("cross-entropy", "mse", "hinge" or "bce", not "auto").
        output: logits ``(N, C)``, character logits ``(N, T, V)``, regression outputs ``(N, out)``, or
            reconstructions ``(N, C, H, W)`` (in [0, 1] for "bce").
        target: long labels ``(N,)`` or ``(N, T)``, float targets ``(N, out)``, or images ``(N, C, H, W)``.

    Returns:
        The scalar loss.
    """
    if target.dtype == torch.long and output.dim() == 3:  # (N, T, V) with (N, T) -> (N·T, V) with (N·T,)
        output, target = output.reshape(-1, output.shape[-1]), target.reshape(-1)
    fn = LOSSES[loss].fn
    if fn is None:
        raise ValueError(f"{loss!r} is not a loss function itself; resolve it with resolve_loss(name, task) first")
    return fn(output, target)


def mixed_loss(loss: str, output: torch.Tensor, target: torch.Tensor, mix: tuple | None) -> torch.Tensor:
    """``compute_loss``, or with mixup's ``mix = (λ, permutation)`` the blend λ·L(y) + (1 − λ)·L(y[permutation])."""
    if mix is None:
        return compute_loss(loss, output, target)
    lam, perm = mix
    return lam * compute_loss(loss, output, target) + (1 - lam) * compute_loss(loss, output, target[perm])
