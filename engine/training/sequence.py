"""Run a Sequential network chunk by chunk, carrying recurrent hidden states (truncated BPTT, sampling)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from engine.errors import InputError
from engine.network.modules import Recurrent

# Layers that act on each time step alone, so a chunk of steps goes through them like the whole sequence.
_PER_STEP = (nn.Embedding, nn.Linear, nn.Dropout, nn.Identity, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU,
             nn.LeakyReLU, nn.ELU, nn.Softmax, nn.LayerNorm)


def stateful_problem(model: nn.Module) -> str | None:
    """Why ``forward_with_state`` cannot run this model, or None when it can.

    It needs an ``nn.Sequential`` of per-step layers and unidirectional recurrent layers that all output
    the whole sequence (the character models).
    """
    if not isinstance(model, nn.Sequential):
        return "the model is not a plain sequence of layers"
    for i, layer in enumerate(model):
        if isinstance(layer, Recurrent):
            if layer.output != "sequence":
                return f"layer {i} ({layer.cell}) outputs its {layer.output} state, not the whole sequence"
            if layer.rnn.bidirectional:
                return f"layer {i} ({layer.cell}) is bidirectional: its backward pass needs the whole sequence"
        elif not isinstance(layer, _PER_STEP):
            return f"layer {i} ({type(layer).__name__}) mixes time steps"
    return None


def forward_with_state(model: nn.Sequential, x: torch.Tensor, state: dict | None = None
                       ) -> tuple[torch.Tensor, dict]:
    """The model's output for a chunk of steps ``x`` ``(N, t, ...)``, starting from ``state``.

    Returns:
        The output ``(N, t, ...)`` and the new state: layer index → the recurrent layer's final hidden
        state (a tuple for LSTM).
    """
    state = dict(state or {})
    for i, layer in enumerate(model):
        if isinstance(layer, Recurrent):
            x, state[i] = layer.rnn(x, state.get(i))  # (N, t, H)
        else:
            x = layer(x)
    return x, state


def detach_state(state: dict) -> dict:
    """The same hidden states cut from the graph: gradients stop at the chunk boundary."""
    return {k: tuple(t.detach() for t in v) if isinstance(v, tuple) else v.detach() for k, v in state.items()}


def truncated_bptt(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, k: int,
                   loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward passes chunk by chunk: gradients flow back at most ``k`` steps, summed over the chunks
    (one update per batch), each chunk's loss weighted by its share of the sequence so the loss is the sequence's
    mean.

    Returns:
        The detached output ``(N, T, V)`` and mean loss.
    """
    steps, state, outs, total = x.shape[1], None, [], 0.0
    for t0 in range(0, steps, k):
        xs, ys = x[:, t0:t0 + k], y[:, t0:t0 + k]  # (N, k)
        out, state = forward_with_state(model, xs, state)  # (N, k, V)
        loss = loss_of(out, ys) * (xs.shape[1] / steps)
        loss.backward()
        state = detach_state(state)
        outs.append(out.detach())
        total = total + loss.detach()
    return torch.cat(outs, dim=1), total


def bptt_chunk(k: int, task: str, dataset, model: nn.Module, notes: list[str]) -> int:
    """Chunk length for truncated BPTT (0 = off); only character models with whole-sequence outputs. Why a
    setting is not used goes into ``notes`` (the run's notes)."""
    if k and task != "char":
        notes.append(f"truncated BPTT (bptt={k}) is not used: it applies to character models, which "
                     f"predict at every step; on {dataset.name} the network gives one answer "
                     f"per sample, so gradients flow back through the whole input sequence")
    elif k and k >= dataset.input_shape[0]:
        notes.append(f"bptt={k} covers the whole {dataset.input_shape[0]}-step sequence: this is "
                     f"plain (full) backpropagation through time")
    if not k or task != "char" or k >= dataset.input_shape[0]:
        return 0
    problem = stateful_problem(model)
    if problem:
        raise InputError(f"truncated BPTT runs character models layer by layer, but {problem}; set bptt to 0")
    return k
