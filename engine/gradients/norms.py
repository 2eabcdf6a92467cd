"""Where gradients vanish or explode: per-layer weight-gradient norms, per-time-step ∂L/∂h_t, activation statistics.

A layer's activation statistics come from ``engine.stats`` (shared with the training records and unit health).

Every function runs the model in its current train/eval mode and leaves it as it was: parameters,
``.grad`` fields (gradients come from ``torch.autograd.grad``), BatchNorm running statistics,
train/eval flags and hooks. While they run they attach hooks (or stand in for a recurrent layer's
forward), so do not call them concurrently on one model.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.gradients.unroll import cell_kind, recurrent_layers, unroll
from engine.network.build import display_path
from engine.stats import ACTIVATIONS, SATURATION, captured, layer_stats

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]



def default_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Batch-mean cross-entropy for integer targets (classes on the last dimension), else mean squared error.

    Args:
        output: logits ``(N, C)`` or ``(N, T, V)``, or values for regression.
        target: class ids ``(N,)`` or ``(N, T)``, or float values with as many elements as ``output``.

    Returns:
        The scalar loss.
    """
    if not target.is_floating_point():
        if output.dim() != target.dim() + 1:
            raise ValueError(f"cross-entropy needs logits with one more dimension than the targets; got "
                             f"{tuple(output.shape)} and {tuple(target.shape)}")
        # (N, T, V) with (N, T) targets -> (N*T, V) with (N*T,)
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1).long())
    if target.numel() == output.numel():
        target = target.reshape(output.shape)
    return F.mse_loss(output, target.to(output.dtype))


def weight_label(model: nn.Module, param_name: str) -> str:
    """A chart label for a weight: "0 Linear", "3.1 Conv2d", "2 BatchNorm1d γ", "1 LSTM weight_hh_l0"."""
    owner_name, _, short = param_name.rpartition(".")
    owner = model.get_submodule(owner_name)
    label = " ".join(filter(None, [display_path(owner_name), type(owner).__name__]))
    if isinstance(owner, nn.RNNBase):
        return f"{label} {short}"
    if isinstance(owner, nn.modules.batchnorm._NormBase) and short == "weight":
        return f"{label} γ"
    return label if short == "weight" else f"{label} {short}"


@contextmanager
def _untouched(model: nn.Module):
    """Restore every module's train/eval flag and every buffer (BatchNorm running statistics) afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        # cuDNN refuses RNN backward in eval mode; the plain kernels do not.
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            yield
    finally:
        for module, training in modes:
            module.training = training
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)


def _on_model(model: nn.Module, *tensors: torch.Tensor) -> list[torch.Tensor]:
    """Tensors moved to the model's device, floating ones in its dtype (a CUDA or float64 model, CPU batches)."""
    first = next(model.parameters(), None)
    if first is None:
        return list(tensors)
    return [t.to(first.device, first.dtype) if t.is_floating_point() else t.to(first.device) for t in tensors]


def layer_grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     loss_fn: LossFn | None = None) -> list[tuple[str, float]]:
    """The L2 norm of ∂L/∂W for every weight, input to output: the chart where early layers stop learning.

    The batch is moved to the model's device (and dtype); the norms are taken in float64.

    A weight is a trainable parameter whose name starts with "weight": Linear and convolution kernels,
    Embedding tables, BatchNorm's scale γ (labelled "γ") and each recurrent matrix (weight_ih_l0,
    weight_hh_l0, ...). Biases and BatchNorm's β are left out.

    Args:
        model: the network (its parameters in input-to-output order, as ``build`` makes them).
        x: an input batch.
        y: its targets.
        loss_fn: ``loss_fn(output, y)`` giving a batch-mean scalar; defaults to ``default_loss``.

    Returns:
        (label, norm) per weight, labelled by ``weight_label``, e.g. ("0 Linear", 0.012).
    """
    named = [(name, p) for name, p in model.named_parameters()
             if name.rpartition(".")[2].startswith("weight") and p.requires_grad]
    if not named:
        return []
    x, y = _on_model(model, x, y)
    with _untouched(model):
        loss = (loss_fn or default_loss)(model(x), y)
        grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
    # float64 before squaring: a float32 norm squares entries below ~1e-22 to 0 and above ~1e19 to inf
    return [(weight_label(model, name), 0.0 if g is None else g.double().norm().item())
            for (name, _), g in zip(named, grads)]


def timestep_grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn | None = None,
                        cell_state: bool = False, layer: int = -1) -> np.ndarray | dict[str, np.ndarray]:
    """The batch-mean ‖∂L/∂h_t‖ for t = 1..T in the model's first recurrent layer: vanishing or exploding in time.

    ∂L/∂h_t is the total derivative, through this step's output and every later step. The gradient of
    the torch layer's output tensor holds only the direct path, so the layer is unrolled step by step
    with its own weights (``unroll.unroll``) and autograd reads the gradient reaching each h_t.

    The batch is moved to the model's device (and dtype); the norms are taken in float64.

    Args:
        model: a network holding an RNN, LSTM or GRU (batch_first, one direction); the first one in
            module order is measured, the rest of the model runs as usual.
        x: an input batch.
        y: its targets.
        loss_fn: ``loss_fn(output, y)`` giving a batch-mean scalar; defaults to ``default_loss``.
        cell_state: also return ‖∂L/∂c_t‖ for the LSTM's cell state.
        layer: which stacked layer's states of that first recurrent module (-1: the top one, whose
            states form its output; 0: the one reading the input).

    Returns:
        An array of shape (T,) with ‖∂L/∂h_t‖ averaged over the batch (index 0 is the first step);
        with ``cell_state=True`` a dict {"h": (T,), "c": (T,)}.

    Raises:
        ValueError: no recurrent layer, a bidirectional one, or ``cell_state`` without an LSTM.
    """
    rnn = _first_recurrent(model, layer)
    if cell_state and cell_kind(rnn) != "LSTM":
        raise ValueError(f"only an LSTM has a cell state; this layer is a {cell_kind(rnn)}")
    x, y = _on_model(model, x, y)
    with _untouched(model), _unrolled(rnn, track=True) as captured:
        loss = (loss_fn or default_loss)(model(x), y)
        states = _states(captured)
        targets = states.h[layer] + (states.c[layer] if cell_state else [])
        grads = torch.autograd.grad(loss, targets, materialize_grads=True)
    # (2T or T, N, H) -> per-sample L2 norm -> mean over the batch; float64 before squaring (no underflow
    # of the square below ~1e-22 or overflow above ~1e19, as a float32 norm would)
    norms = torch.stack(grads).double().norm(dim=2).mean(dim=1).detach().cpu().numpy()
    steps = len(states.h[layer])
    return {"h": norms[:steps], "c": norms[steps:]} if cell_state else norms


def _first_recurrent(model: nn.Module, layer: int) -> nn.RNNBase:
    """The model's first recurrent layer, checked for one direction and a valid stacked-layer index."""
    layers = recurrent_layers(model)
    if not layers:
        raise ValueError("the model has no RNN, LSTM or GRU layer")
    rnn = layers[0]
    if rnn.bidirectional:
        raise ValueError("time-step gradients follow one direction of time; this layer is bidirectional. "
                         "Set bidirectional to false to see them")
    if not -rnn.num_layers <= layer < rnn.num_layers:
        raise ValueError(f"layer must be in [{-rnn.num_layers}, {rnn.num_layers - 1}], not {layer}")
    return rnn


@contextmanager
def _unrolled(rnn: nn.RNNBase, track: bool):
    """Stand in for the layer's fused forward with ``unroll`` (a forward hook would run the fused one too)."""
    captured: dict = {}

    def unrolled_forward(inputs, hx=None):
        if hx is not None:
            raise ValueError("unrolling starts from a zero state; this layer was given an initial state")
        if captured:  # only the first call is measured
            return type(rnn).forward(rnn, inputs)
        states = captured["states"] = unroll(rnn, inputs, track=track)
        h_n = torch.stack([h[-1] for h in states.h])  # (L, N, H), torch's final-state layout
        return states.output, ((h_n, torch.stack([c[-1] for c in states.c])) if states.c else h_n)

    rnn.forward = unrolled_forward
    try:
        yield captured
    finally:
        del rnn.forward


def _states(captured: dict):
    if not captured:
        raise ValueError("the model's forward pass never ran its recurrent layer")
    return captured["states"]


def recurrent_stats(model: nn.Module, x: torch.Tensor, layer: int = -1) -> dict:
    """How the first recurrent layer's states and gates sit on one batch: the live numbers of the formulas.

    Args:
        model: a network holding an RNN, LSTM or GRU (as for ``timestep_grad_norms``).
        x: an input batch (moved to the model's device and dtype).
        layer: which stacked layer (-1: the top one).

    Returns:
        A dict over every sample, step and unit of that layer: ``kind`` ("RNN", "LSTM", "GRU");
        ``saturated``, the share of hidden states with |h_t| > 0.99 (tanh' < 0.02 there); ``active``, the
        share with h_t > 0 (for a ReLU RNN the units that pass a gradient, else None); ``slope``, the mean
        f'(a_t) of a vanilla RNN (1 − h_t² for tanh, 0 or 1 for ReLU; else None); ``gate``, the mean
        forget gate f (LSTM) or update gate z (GRU), whose product over steps scales the direct path
        back in time (None for RNN).
    """
    rnn = _first_recurrent(model, layer)
    (x,) = _on_model(model, x)
    with _untouched(model), torch.no_grad(), _unrolled(rnn, track=False) as captured:
        model(x)
        states = _states(captured)
    h = torch.stack(states.h[layer]).double()  # (T, N, H)
    kind = cell_kind(rnn)
    relu = kind == "RNN" and rnn.nonlinearity == "relu"
    slope = ((h > 0).double() if relu else 1 - h * h) if kind == "RNN" else None  # f'(a) from f(a) = h
    return {"kind": kind, "saturated": (h.abs() > SATURATION).double().mean().item(),
            "active": (h > 0).double().mean().item() if relu else None,
            "slope": slope.mean().item() if slope is not None else None,
            "gate": torch.stack(states.gate[layer]).double().mean().item() if states.gate else None}


def activation_stats(model: nn.Module, x: torch.Tensor, bins: int = 30) -> list[dict]:
    """Statistics of every activation layer's output on one batch: saturation and dead units at a glance.

    Covers Sigmoid, Tanh, ReLU, LeakyReLU and ELU modules, nested ones included (the gates inside
    an LSTM or GRU are not modules and are not reported).

    Args:
        model: the network.
        x: an input batch.
        bins: histogram bins.

    Returns:
        One dict per activation layer in module order, with keys ``name`` ("3.2 ReLU"), ``type``,
        ``mean``, ``std``; ``saturated`` (fraction with tanh |y| > 0.99, sigmoid y < 0.01 or > 0.99,
        else None); ``dead`` (ReLU: fraction of outputs equal to 0, else None); ``dead_units`` (ReLU:
        fraction of units that are 0 for every sample of the batch, else None); ``counts`` and
        ``edges`` (a histogram over [0, 1] for sigmoid, [-1, 1] for tanh, else the observed range).
        A module called more than once reports its last call.
    """
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, ACTIVATIONS)]
    with captured(model, [name for name, _ in found]) as outputs, _untouched(model), torch.no_grad():
        model(*_on_model(model, x))
    return [layer_stats(f"{display_path(name)} {type(m).__name__}", m, outputs[name], bins)
            for name, m in found if name in outputs]


_DERIVATIVE_BOUNDS = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0, "leakyrelu": 1.0, "identity": 1.0,
                      "linear": 1.0}


def derivative_bound(activation: str, alpha: float = 1.0) -> float:
    """The largest slope of an activation: the per-layer factor by which it can pass a gradient on.

    Sigmoid's y(1 − y) peaks at 1/4, so ten sigmoid layers shrink a gradient by at least 4¹⁰ ≈ 10⁶
    unless the weights make up for it.

    Args:
        activation: "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU" or "Identity" (any case).
        alpha: ELU's α (its slope tends to α for very negative inputs).

    Returns:
        The supremum of |f'(x)|.
    """
    key = activation.lower()
    if key == "elu":
        return max(1.0, alpha)
    if key not in _DERIVATIVE_BOUNDS:
        raise ValueError(f"unknown activation {activation!r}; one of Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Identity")
    return _DERIVATIVE_BOUNDS[key]
