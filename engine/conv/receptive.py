"""Receptive-field arithmetic for a stack of convolution and pooling layers (one axis; square layers)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.conv.arithmetic import output_size
from engine.errors import InputError


@dataclass(frozen=True)
class Layer:
    """One sliding-window layer: "conv" or "pool", with PyTorch's arguments."""

    kind: str
    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1


@dataclass(frozen=True)
class Field:
    """What one unit after a layer sees of the input.

    Attributes:
        size: receptive field, in input pixels (r_l = r_{l−1} + D(K−1)·j_{l−1}).
        jump: input pixels between neighbouring units (j_l = j_{l−1}·S).
        first: input index where unit 0's field starts (negative: it starts in the padding).
        output_size: the layer's output length for the given input, or None when no input size was given.
    """

    layer: Layer
    size: int
    jump: int
    first: int
    output_size: int | None

    def span(self, unit: int) -> tuple[int, int]:
        """First and last input index (inclusive) seen by unit `unit`, padding included."""
        start = self.first + unit * self.jump
        return start, start + self.size - 1


def fields(layers: list[Layer], input_size: int | None = None) -> list[Field]:
    """Receptive field after each layer.

    Args:
        layers: the stack, input side first.
        input_size: optional input length, to compute each layer's output length too.

    Returns:
        One Field per layer. With L stride-1 K×K convolutions the last size is 1 + L(K−1).

    Raises:
        InputError: a layer's window no longer fits the shrinking input.
    """
    size, jump, first, n, out = 1, 1, 0, input_size, []
    for i, layer in enumerate(layers):
        if layer.kind not in ("conv", "pool"):
            raise InputError(f'Layer {i + 1}: kind must be "conv" or "pool", got {layer.kind!r}.')
        if min(layer.kernel_size, layer.stride, layer.dilation) < 1 or layer.padding < 0:
            raise InputError(f"Layer {i + 1}: kernel size, stride and dilation must be at least 1, padding at least 0.")
        size += layer.dilation * (layer.kernel_size - 1) * jump
        first -= layer.padding * jump
        jump *= layer.stride
        if n is not None:
            n = output_size(n, layer.kernel_size, layer.stride, layer.padding, layer.dilation)
            if n < 1:
                raise InputError(f"Layer {i + 1} ({layer.kind} {layer.kernel_size}×{layer.kernel_size}) no longer "
                                 "fits: the input has shrunk below its window. Use fewer layers, padding, or a "
                                 "larger input.")
        out.append(Field(layer, size, jump, first, n))
    return out


def stack(n_layers: int, kernel_size: int, stride: int = 1, pool_every: int = 0, pool_size: int = 2,
          dilation: int = 1, padding: int = 0) -> list[Layer]:
    """L convolution layers, with a pool_size pooling layer after every `pool_every` of them (0: none)."""
    layers = []
    for i in range(n_layers):
        layers.append(Layer("conv", kernel_size, stride, padding, dilation))
        if pool_every and (i + 1) % pool_every == 0:
            layers.append(Layer("pool", pool_size, pool_size))
    return layers
