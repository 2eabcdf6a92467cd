"""Recurrent layers one time step at a time, with the torch layer's own weights, and the size of W_hh.

``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` run the whole sequence in one fused call, so the hidden
state h_t at each step is never a tensor of its own. Unrolling the same math step by step makes
every h_t (and the LSTM's c_t) a node of the autograd graph: the gradient reaching it is the total
derivative ∂L/∂h_t, through the output and through every later step.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from engine.network.modules import Recurrent

# The row blocks of weight_ih / weight_hh, in torch's order.
GATES = {"RNN": ("",), "LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n")}


@dataclass
class Unrolled:
    """The states of an unrolled recurrent layer.

    Attributes:
        output: the top layer's states stacked, ``(N, T, H)``: equals the torch layer's output.
        h: ``h[l][t]`` is layer l's hidden state after step t, ``(N, H)``.
        c: ``c[l][t]`` is layer l's LSTM cell state after step t, ``(N, H)``; empty for RNN and GRU.
        gate: ``gate[l][t]`` is the gate on layer l's direct path back in time at step t, ``(N, H)``: the
            LSTM's forget gate f_t (∂c_t/∂c_{t−1} = diag(f_t)) or the GRU's update gate z_t (h_t = (1 − z)⊙n
            + z⊙h_{t−1}); empty for RNN.
    """

    output: torch.Tensor
    h: list[list[torch.Tensor]]
    c: list[list[torch.Tensor]]
    gate: list[list[torch.Tensor]] = field(default_factory=list)


def cell_kind(rnn: nn.RNNBase) -> str:
    """"RNN", "LSTM" or "GRU" for a torch recurrent layer."""
    for kind, cls in (("LSTM", nn.LSTM), ("GRU", nn.GRU), ("RNN", nn.RNN)):
        if isinstance(rnn, cls):
            return kind
    raise ValueError(f"{type(rnn).__name__} is not an nn.RNN, nn.LSTM or nn.GRU")


def unroll(rnn: nn.RNNBase, x: torch.Tensor, track: bool = False) -> Unrolled:
    """Run a batch-first, one-direction torch RNN, LSTM or GRU step by step with its own parameters.

    Uses torch's cell equations (zero initial state); in train mode, dropout between stacked layers
    draws its own mask.

    Args:
        rnn: the torch layer (``batch_first=True``, not bidirectional, no LSTM projection).
        x: the input ``(N, T, F)``.
        track: make the zero initial state require grad, so the states are in an autograd graph
            even when the weights are frozen.

    Returns:
        The Unrolled states; ``output`` matches ``rnn(x)[0]`` to rounding.

    Raises:
        ValueError: for a bidirectional or sequence-first layer, or an LSTM with ``proj_size``.
    """
    kind = cell_kind(rnn)
    if rnn.bidirectional or not rnn.batch_first or getattr(rnn, "proj_size", 0):
        raise ValueError("unrolling needs a one-direction, batch_first layer without proj_size")
    n, hidden = x.shape[0], rnn.hidden_size
    hs, cs, gs = [], [], []
    inp = x  # (N, T, F)
    for layer in range(rnn.num_layers):
        if layer > 0 and rnn.dropout > 0 and rnn.training:
            inp = F.dropout(inp, rnn.dropout, training=True)
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}")
        b_ih = getattr(rnn, f"bias_ih_l{layer}", None)
        b_hh = getattr(rnn, f"bias_hh_l{layer}", None)
        hidden_bias = b_hh is not None and kind != "GRU"
        # The input half of every gate for all steps at once, with both biases where they simply add.
        xw = F.linear(inp, w_ih, b_ih) + b_hh if hidden_bias else F.linear(inp, w_ih, b_ih)  # (N, T, G*H)
        w_hh_t = w_hh.t()
        h = x.new_zeros(n, hidden, requires_grad=track)
        c = x.new_zeros(n, hidden) if kind == "LSTM" else None
        h_seq, c_seq, g_seq = [], [], []
        for x_t in xw.unbind(1):
            if kind == "RNN":
                pre = torch.addmm(x_t, h, w_hh_t)  # x W_ihᵀ + b_ih + b_hh + h W_hhᵀ
                h = torch.tanh(pre) if rnn.nonlinearity == "tanh" else torch.relu(pre)
            elif kind == "LSTM":
                gates = torch.addmm(x_t, h, w_hh_t)  # (N, 4H): i, f, g, o
                i, f, _, o = torch.sigmoid(gates).chunk(4, dim=1)
                c = torch.addcmul(f * c, i, torch.tanh(gates[:, 2 * hidden:3 * hidden]))
                h = o * torch.tanh(c)
                c_seq.append(c)
                g_seq.append(f)
            else:  # GRU: the reset gate scales only the recurrent half of the candidate n
                hw = F.linear(h, w_hh, b_hh)  # (N, 3H): r, z, n
                r, z = torch.sigmoid(x_t[:, :2 * hidden] + hw[:, :2 * hidden]).chunk(2, dim=1)
                candidate = torch.tanh(x_t[:, 2 * hidden:] + r * hw[:, 2 * hidden:])
                h = candidate + z * (h - candidate)  # (1 − z) n + z h
                g_seq.append(z)
            h_seq.append(h)
        hs.append(h_seq)
        if kind == "LSTM":
            cs.append(c_seq)
        if kind != "RNN":
            gs.append(g_seq)
        inp = torch.stack(h_seq, dim=1)  # (N, T, H)
    return Unrolled(inp, hs, cs, gs)


def recurrent_layers(model: nn.Module) -> list[nn.RNNBase]:
    """The torch recurrent layers in a model (or the model itself), in module order."""
    if isinstance(model, Recurrent):
        return [model.rnn]
    return [m for m in model.modules() if isinstance(m, nn.RNNBase)]


def _measure(block: torch.Tensor, kind: str) -> float:
    if kind == "spectral":
        return torch.linalg.eigvals(block.detach().double()).abs().max().item()
    if kind == "singular":
        return torch.linalg.matrix_norm(block.detach().double(), ord=2).item()
    raise ValueError(f"kind must be 'spectral' (largest |eigenvalue|) or 'singular' (largest singular value), "
                     f"not {kind!r}")


def _hh_blocks(model: nn.Module):
    """(label, square W_hh block) for every gate of every recurrent layer, e.g. ("LSTM weight_hh_l0 f", W_hf)."""
    layers = recurrent_layers(model)
    if not layers:
        raise ValueError("the model has no RNN, LSTM or GRU layer")
    for index, rnn in enumerate(layers):
        kind = cell_kind(rnn)
        prefix = f"{index} {kind}" if len(layers) > 1 else kind
        for name, weight in rnn.named_parameters():
            if name.startswith("weight_hh"):
                for gate, block in zip(GATES[kind], weight.chunk(len(GATES[kind]), dim=0)):
                    yield f"{prefix} {name} {gate}".rstrip(), block


def recurrent_radii(model: nn.Module, kind: str = "spectral") -> list[tuple[str, float]]:
    """The size of each square recurrent matrix: W_hh for RNN, each gate's block for LSTM and GRU.

    Args:
        model: a model containing recurrent layers, a ``Recurrent`` module, or a torch RNN/LSTM/GRU.
        kind: "spectral" for the largest |eigenvalue|, "singular" for the largest singular value
            (the bound that guarantees vanishing below 1).

    Returns:
        (label, value) per block, e.g. ("LSTM weight_hh_l0 f", 0.93).
    """
    return [(label, _measure(block, kind)) for label, block in _hh_blocks(model)]


def recurrent_radius(model: nn.Module, kind: str = "spectral") -> float:
    """The largest of ``recurrent_radii(model, kind)``: one number for the page's W_hh readout."""
    return max(value for _, value in recurrent_radii(model, kind))


def set_recurrent_radius(model: nn.Module, radius: float, kind: str = "spectral") -> float:
    """Rescale every square recurrent block in place so its spectral radius (or largest singular value) is ``radius``.

    For LSTM and GRU each gate's H×H block of W_hh is scaled on its own: the stacked matrix is not
    square, and the argument ∂h_t/∂h_{t-1} = W_hhᵀ diag(·) applies gate by gate.

    Args:
        model: a model containing recurrent layers, a ``Recurrent`` module, or a torch RNN/LSTM/GRU.
        radius: the target value (≥ 0).
        kind: "spectral" or "singular", as in ``recurrent_radii``.

    Returns:
        ``recurrent_radius(model, kind)`` measured afterwards.

    Raises:
        ValueError: for a negative radius, a model without recurrent layers, or a block whose radius is 0.
    """
    if not radius >= 0:
        raise ValueError(f"radius must be a number ≥ 0, not {radius!r}")
    with torch.no_grad():
        for label, block in _hh_blocks(model):
            current = _measure(block, kind)
            if current == 0:
                raise ValueError(f"{label} has {kind} radius 0 and cannot be rescaled; re-initialise it first")
            block.mul_(radius / current)  # a view of the weight: scales it in place
    return recurrent_radius(model, kind)
