"""Looking inside an autoencoder: its reconstructions, the codes at its bottleneck (and their PCA), and decoding
the straight line between two codes. The network is split at the bottleneck: encoder = the layers up to it,
decoder = the rest (both share the model's own modules, so nothing is copied)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.errors import InputError
from engine.inspect.probe import as_batch, model_device

EVAL_BATCH = 512


@dataclass
class Codes:
    """The bottleneck activations of a split and their 2-D principal components.

    Attributes:
        z: ``(N, D)`` the codes (each sample's activation at ``layer``, flattened).
        xy: ``(N, 2)`` the codes projected on their first two principal components (centred).
        labels: ``(N,)`` each sample's class (for colouring), or None when the dataset has none.
        layer: index of the model's layer whose output is the code (the encoder is ``model[:layer + 1]``).
        explained: ``(2,)`` the share of the codes' variance each component explains.
    """

    z: np.ndarray
    xy: np.ndarray
    labels: np.ndarray | None
    layer: int
    explained: np.ndarray


def layer_sizes(model: nn.Sequential, input_shape: tuple) -> list[int]:
    """Values per sample after each top-level layer, measured with one blank sample."""
    x = torch.zeros((1, *input_shape), device=model_device(model))
    sizes = []
    with torch.no_grad(), _eval(model):
        for layer in model:
            x = layer(x)
            sizes.append(int(x[0].numel()))
    return sizes


def bottleneck(model: nn.Sequential, input_shape: tuple) -> int:
    """The code layer: the last of the first run of layers with the fewest values (after its activation).

    Args:
        model: a built spec (``nn.Sequential``).
        input_shape: one sample's shape.

    Returns:
        The index ``i`` such that ``model[:i + 1]`` is the encoder.
    """
    sizes = layer_sizes(model, input_shape)
    if len(sizes) < 2:
        raise InputError("an autoencoder needs at least two layers: an encoder and a decoder")
    narrowest = min(sizes[:-1])  # the output is a reconstruction, never the code
    i = sizes.index(narrowest)
    while i + 1 < len(sizes) - 1 and sizes[i + 1] == narrowest:
        i += 1  # the activation after the narrowest layer belongs to the code
    return i


def split(model: nn.Sequential, input_shape: tuple, layer: int | None = None) -> tuple[nn.Sequential, nn.Sequential]:
    """(encoder, decoder) sharing the model's modules: ``model[:layer + 1]`` and ``model[layer + 1:]``.

    Raises:
        InputError: a layer index outside the network (the decoder must keep at least one layer).
    """
    i = bottleneck(model, input_shape) if layer is None else layer
    if not 0 <= i < len(model) - 1:
        raise InputError(f"the code layer must be one of 0 to {len(model) - 2} (a layer before the last), not {i}")
    return model[:i + 1], model[i + 1:]


def reconstructions(model: nn.Module, dataset, n: int = 8, split_name: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` images of a split and the model's reconstructions of them.

    Args:
        model: an autoencoder (its output has its input's shape).
        dataset: the Dataset it was trained on.
        n: how many (at most the split's size).
        split_name: "train", "val" or "test".

    Returns:
        (originals, reconstructions), both float32 numpy ``(n, C, H, W)``.
    """
    x = dataset.split(split_name)[0][:max(1, int(n))]
    out = _run(model, x)
    if tuple(out.shape) != tuple(x.shape):
        raise InputError(f"the model outputs {tuple(out.shape[1:])} per sample, not images of its input's shape "
                         f"{tuple(x.shape[1:])}: it is not an autoencoder")
    return x.numpy().astype(np.float32), out.numpy().astype(np.float32)


def codes(model: nn.Sequential, dataset, layer: int | None = None, split_name: str = "test") -> Codes:
    """Every sample's code (the bottleneck's activations by default) and their 2-D PCA.

    Args:
        model: a built network (``nn.Sequential``).
        dataset: its Dataset; a "reconstruction" one supplies class labels through ``labels``.
        layer: the code layer's index; None is the bottleneck (``bottleneck``).
        split_name: "train", "val" or "test".

    Returns:
        A ``Codes`` record.
    """
    encoder, _ = split(model, dataset.input_shape, layer)
    x = dataset.split(split_name)[0]
    z = _run(encoder, x).reshape(len(x), -1).numpy().astype(np.float64)
    xy, explained = pca2(z)
    labels = (dataset.labels or {}).get(split_name) if dataset.task == "reconstruction" else dataset.split(split_name)[1]
    return Codes(z.astype(np.float32), xy, None if labels is None else labels.numpy(), len(encoder) - 1, explained)


def pca2(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal components of the rows of ``z`` (by SVD of the centred data).

    Returns:
        (projections ``(N, 2)``, explained variance ratios ``(2,)``); zeros fill missing components.
    """
    centred = z - z.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, vt.shape[0])
    xy = np.zeros((len(z), 2))
    xy[:, :k] = centred @ vt[:k].T
    total = float((s ** 2).sum())
    explained = np.zeros(2)
    explained[:k] = (s[:k] ** 2) / total if total > 0 else 0.0
    return xy, explained


def interpolate(model: nn.Sequential, x_a, x_b, steps: int = 8, layer: int | None = None) -> np.ndarray:
    """Decode evenly spaced points on the straight line from the code of ``x_a`` to the code of ``x_b``.

    Args:
        model: an autoencoder (``nn.Sequential``).
        x_a, x_b: two samples (tensors or arrays of the input's shape, no batch dimension).
        steps: points on the line, both ends included (2 to 64).
        layer: the code layer; None is the bottleneck.

    Returns:
        float32 numpy ``(steps, *output shape)``: step 0 is the model's reconstruction of ``x_a``, the last that
        of ``x_b``.
    """
    if not 2 <= int(steps) <= 64:
        raise InputError(f"steps must be from 2 to 64, not {steps}")
    a, b = as_batch(x_a, model), as_batch(x_b, model)
    if a.shape != b.shape:
        raise InputError(f"the two samples differ in shape: {tuple(a.shape[1:])} and {tuple(b.shape[1:])}")
    encoder, decoder = split(model, tuple(a.shape[1:]), layer)
    with torch.no_grad(), _eval(model):
        z_a, z_b = encoder(a), encoder(b)
        t = torch.linspace(0, 1, int(steps), device=z_a.device).reshape(-1, *[1] * (z_a.dim() - 1))
        return decoder(z_a + t * (z_b - z_a)).cpu().numpy().astype(np.float32)  # (steps, ...)


def _run(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The module's outputs for x on the CPU, in evaluation mode, a chunk at a time."""
    device = model_device(module)
    with torch.no_grad(), _eval(module):
        return torch.cat([module(x[i:i + EVAL_BATCH].to(device)).cpu() for i in range(0, len(x), EVAL_BATCH)])


@contextlib.contextmanager
def _eval(module: nn.Module):
    """Evaluation mode for the duration (dropout off, batch-norm running statistics), then each layer's own mode.

    Every submodule's flag is put back, not the container's: an encoder slice is a new ``nn.Sequential`` (in
    training mode) around the model's own layers.
    """
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode
