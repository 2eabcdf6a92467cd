"""The Gradients page's experiments: seeded models, fixed batches, and short recorded training runs.

Depth: a deep MLP on 8×8 digits, its per-layer weight-gradient norms at initialisation and every few
steps of training. Time: a one-layer RNN, LSTM or GRU on a long-range many-to-one task, its
‖∂L/∂h_t‖ curve, the raw and clipped total gradient norm, and the loss over training steps.
Training here is short and capped in wall time so a page can run it in its own script.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import data
from .build import build
from .gradients import default_loss, layer_grad_norms, timestep_grad_norms, weight_label
from .init import init_weights, make_depth_mlp
from .spec import ModelSpec
from .unroll import recurrent_radius, set_recurrent_radius

CELLS = {"RNN (tanh)": ("RNN", "tanh"), "RNN (ReLU)": ("RNN", "relu"), "LSTM": ("LSTM", None),
         "GRU": ("GRU", None)}
TASKS = ("adding", "copy")
BATCH = 64
ADDING_BASELINE = 0.167  # mean squared error of always answering 1 (the adding problem's dataset text)


def depth_batch(n: int = 128, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One fixed batch of 8×8 digits ``(n, 1, 8, 8)`` with labels ``(n,)``."""
    ds = data.load("digits", seed=seed)
    return ds.x_train[:n], ds.y_train[:n]


def depth_model(depth: int, width: int, activation: str, scheme: str, batch_norm: bool = False,
                residual: bool = False, seed: int = 0) -> nn.Module:
    """A seeded depth-lab MLP for 8×8 digits, initialised with ``scheme`` (see ``init.SCHEMES``)."""
    spec = make_depth_mlp(depth, width, activation, batch_norm, residual, input_shape=[1, 8, 8], num_classes=10)
    return init_weights(build(spec, seed=seed), scheme, seed=seed)


def layer_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[list[str], np.ndarray]:
    """The Linear layers' weight-gradient norms input to output: (labels, norms)."""
    pairs = [(label, norm) for label, norm in layer_grad_norms(model, x, y) if label.endswith("Linear")]
    return [label for label, _ in pairs], np.array([norm for _, norm in pairs])


def sequence_task(task: str, T: int, seed: int = 0) -> data.Dataset:
    """The adding problem or the copy task with sequences of length T."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; one of {', '.join(TASKS)}")
    return data.load(task, seed=seed, T=T)


def time_spec(cell: str, hidden: int, ds: data.Dataset) -> ModelSpec:
    """A many-to-one recurrent network for a sequence dataset: one cell reading (T, F), then Linear."""
    kind, nonlinearity = CELLS[cell]
    layer = {"type": kind, "hidden_size": hidden, "output": "last"}
    if nonlinearity:
        layer["nonlinearity"] = nonlinearity
    out = len(ds.classes) if ds.task == "classification" else 1
    return ModelSpec.from_dict({"name": f"{kind.lower()}-{ds.name}", "input": list(ds.input_shape),
                                "layers": [layer, {"type": "Linear", "out_features": out}]})


def time_model(cell: str, hidden: int, ds: data.Dataset, seed: int = 0) -> nn.Module:
    """A seeded recurrent model for ``ds`` with PyTorch's default initialisation."""
    return build(time_spec(cell, hidden, ds), seed=seed)


def with_radius(model: nn.Module, radius: float | None) -> tuple[nn.Module, float]:
    """A copy of a recurrent model with W_hh rescaled to spectral radius ``radius`` (None: as initialised).

    Returns:
        (the copy, the largest singular value of its W_hh blocks).
    """
    clone = copy.deepcopy(model)
    if radius is not None:
        set_recurrent_radius(clone, radius, "spectral")
    return clone, recurrent_radius(clone, "singular")


@dataclass
class Recording:
    """What a short training run recorded.

    Attributes:
        steps: the step (0 = before any update) of each snapshot.
        labels: the layer labels (depth) or time indices 1..T (time) the snapshots are over.
        snapshots: ``(len(steps), len(labels))``: per-layer grad norms or ‖∂L/∂h_t‖ per snapshot.
        loss_steps, loss: the training loss after every step.
        raw_norm, clipped_norm: the total gradient norm before and after clipping, every step (time only).
        seconds: wall time spent.
        stopped_early: the time cap ended the run before its step count.
    """

    steps: list[int] = field(default_factory=list)
    labels: list = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)
    loss_steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    raw_norm: list[float] = field(default_factory=list)
    clipped_norm: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stopped_early: bool = False

    @property
    def matrix(self) -> np.ndarray:
        """Snapshots stacked: ``(snapshots, labels)``."""
        return np.stack(self.snapshots) if self.snapshots else np.zeros((0, len(self.labels)))


def _batches(x: torch.Tensor, y: torch.Tensor, seed: int):
    generator = torch.Generator().manual_seed(seed)
    while True:
        for index in torch.randperm(len(x), generator=generator).split(BATCH):
            if len(index) == BATCH:
                yield x[index], y[index]


def train_depth(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 100, every: int = 5,
                lr: float = 0.05, max_seconds: float = 3.0, seed: int = 0) -> Recording:
    """Train an MLP in place with SGD (momentum 0.9), recording its Linear layers' grad norms every ``every`` steps.

    Args:
        model: the network (trained in place).
        x, y: the training set (mini-batches of 64 are drawn from it).
        steps: updates to make.
        every: steps between snapshots (the step's own mini-batch gradients are recorded).
        lr: learning rate.
        max_seconds: stop early after this much wall time.
        seed: for the mini-batch order.
    """
    named = [(weight_label(model, n), p) for n, p in model.named_parameters()
             if n.endswith("weight") and isinstance(model.get_submodule(n.rpartition(".")[0]), nn.Linear)]
    rec = Recording(labels=[label for label, _ in named])
    optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    start = time.perf_counter()
    for step, (xb, yb) in zip(range(steps), _batches(x, y, seed)):
        optimiser.zero_grad()
        loss = default_loss(model(xb), yb)
        loss.backward()
        out_of_time = time.perf_counter() - start > max_seconds
        if step % every == 0 or step == steps - 1 or out_of_time:
            rec.steps.append(step)
            rec.snapshots.append(np.array([p.grad.norm().item() for _, p in named]))
        optimiser.step()
        rec.loss_steps.append(step + 1)
        rec.loss.append(loss.item())
        if out_of_time:
            rec.stopped_early = step < steps - 1
            break
    rec.seconds = time.perf_counter() - start
    return rec


def train_time(model: nn.Module, ds: data.Dataset, steps: int = 100, every: int = 10, clip: float | None = 1.0,
               lr: float = 3e-3, max_seconds: float = 3.0, probe: int = 32, seed: int = 0,
               record_curves: bool = True) -> Recording:
    """Train a recurrent model in place with Adam and gradient-norm clipping, recording as it goes.

    Every step records the loss and the total gradient norm before and after clipping
    (g ← g·clip/‖g‖ when ‖g‖ ≥ clip); every ``every`` steps, ‖∂L/∂h_t‖ on a fixed probe batch.

    Args:
        model: the recurrent network (trained in place).
        ds: its sequence dataset.
        steps: updates to make.
        every: steps between ‖∂L/∂h_t‖ snapshots.
        clip: the clipping threshold (None: no clipping).
        lr: Adam's learning rate.
        max_seconds: stop early after this much wall time.
        probe: samples in the fixed batch the ‖∂L/∂h_t‖ curves are measured on.
        seed: for the mini-batch order.
        record_curves: measure ‖∂L/∂h_t‖ snapshots (off for the cheaper side-by-side runs).
    """
    x, y = ds.x_train, ds.y_train
    xp, yp = x[:probe], y[:probe]
    rec = Recording(labels=list(range(1, x.shape[1] + 1)))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    start = time.perf_counter()
    for step, (xb, yb) in zip(range(steps), _batches(x, y, seed)):
        if record_curves and (step % every == 0):
            rec.steps.append(step)
            rec.snapshots.append(timestep_grad_norms(model, xp, yp))
        optimiser.zero_grad()
        loss = default_loss(model(xb), yb)
        loss.backward()
        raw = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip else float("inf")).item()
        optimiser.step()
        rec.loss_steps.append(step + 1)
        rec.loss.append(loss.item())
        rec.raw_norm.append(raw)
        rec.clipped_norm.append(min(raw, clip) if clip else raw)
        if time.perf_counter() - start > max_seconds:
            rec.stopped_early = step < steps - 1
            break
    if record_curves:
        rec.steps.append(len(rec.loss))
        rec.snapshots.append(timestep_grad_norms(model, xp, yp))
    rec.seconds = time.perf_counter() - start
    return rec


def ratio(norms: np.ndarray) -> float:
    """first / last of a gradient-norm curve: ≪ 1 vanishing towards the input (or the past), ≫ 1 exploding."""
    last = float(norms[-1])
    return float(norms[0]) / last if last > 0 else float("inf")
