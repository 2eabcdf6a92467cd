"""Convolution arithmetic: output sizes, padding modes, and whether a window fits (PyTorch's rules)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InputError


@dataclass(frozen=True)
class Fit:
    """How a sliding window fits along one axis.

    Attributes:
        output_size: number of window positions (PyTorch's floor rule).
        exact: True when the last window ends exactly on the padded edge.
        leftover: padded cells after the last window that no window reaches.
        uncovered: input indices (0-based, padding excluded) that no window tap reads.
    """

    output_size: int
    exact: bool
    leftover: int
    uncovered: tuple[int, ...]


def as_tuple(value, dims: int, name: str, minimum: int) -> tuple[int, ...]:
    """Per-axis ints from an int or a sequence of `dims` ints, each at least `minimum`."""
    if isinstance(value, (int, np.integer)):
        values = (value,) * dims
    elif isinstance(value, (tuple, list, np.ndarray)):
        values = tuple(value)
    else:  # a float or a string would otherwise fail with a TypeError deep inside numpy
        raise InputError(f"{name} must be a whole number or {dims} of them, got {value!r}.")
    if len(values) != dims or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise InputError(f"{name} must be a whole number or {dims} of them, got {value!r}.")
    if any(v < minimum for v in values):
        raise InputError(f"{name} must be at least {minimum}, got {value!r}.")
    return tuple(int(v) for v in values)


def resolve_padding(padding, kernel_size, dilation=1, dims: int = 2, stride=1) -> tuple[tuple[int, int], ...]:
    """Per-axis (before, after) padding from an int, a tuple, or "valid" / "same" / "full".

    Args:
        padding: cells added on each side (an int, or one int per axis; in 1-D also a (before, after)
            pair), or "valid" (none: narrow convolution), "same" (output as
            wide as the input, stride 1 only, as in PyTorch) or "full" (D(K−1) each side: wide convolution).
        kernel_size, dilation, stride: per axis (int or tuple).
        dims: 1 or 2.

    Returns:
        One (before, after) pair per axis; "same" puts the odd cell after, as PyTorch does.
    """
    k, d = as_tuple(kernel_size, dims, "kernel_size", 1), as_tuple(dilation, dims, "dilation", 1)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * dims
        if mode == "full":
            return tuple((di * (ki - 1),) * 2 for ki, di in zip(k, d))
        if mode == "same":
            if any(s != 1 for s in as_tuple(stride, dims, "stride", 1)):
                raise InputError('padding="same" keeps the width only with stride 1 (PyTorch refuses it '
                                 "otherwise): set the stride to 1 or give the padding as a number.")
            return tuple((di * (ki - 1) // 2, di * (ki - 1) - di * (ki - 1) // 2) for ki, di in zip(k, d))
        raise InputError(f'padding must be a number, "valid", "same" or "full", got {padding!r}.')
    if dims == 1 and isinstance(padding, (tuple, list)) and len(padding) == 2:
        return (as_tuple(padding, 2, "padding", 0),)  # 1-D: (before, after)
    return tuple((p, p) for p in as_tuple(padding, dims, "padding", 0))


def _axis(n, kernel_size, stride, padding, dilation) -> tuple[int, ...]:
    """Checked (n, k, s, lo, hi, d) for one axis: a clear InputError instead of ZeroDivisionError."""
    (n,), (k,), (s,), (d,) = (as_tuple(v, 1, name, low) for v, name, low in
                              ((n, "input size", 0), (kernel_size, "kernel_size", 1), (stride, "stride", 1),
                               (dilation, "dilation", 1)))
    lo, hi = as_tuple((padding, padding) if isinstance(padding, (int, np.integer)) else padding, 2, "padding", 0)
    return n, k, s, lo, hi, d


def output_size(n: int, kernel_size: int, stride: int = 1, padding=0, dilation: int = 1,
                ceil_mode: bool = False) -> int:
    """Window positions along one axis: floor((N + 2P − D(K−1) − 1)/S) + 1, as PyTorch computes it.

    Args:
        n: input length; kernel_size, stride, dilation: ints.
        padding: an int (each side) or a (before, after) pair.
        ceil_mode: round up instead (pooling), dropping a last window that would start in the padding.

    Returns:
        The output length; 0 when no window fits (PyTorch refuses those cases).

    Raises:
        InputError: a stride, kernel size or dilation below 1, negative padding, or a non-integer.
    """
    n, kernel_size, stride, lo, hi, dilation = _axis(n, kernel_size, stride, padding, dilation)
    room = n + lo + hi - dilation * (kernel_size - 1) - 1
    if not ceil_mode:
        return max(room // stride + 1, 0)
    # PyTorch's pooling_output_shape: floor((room + S − 1)/S) + 1, so in ceil mode a window may be
    # larger than the padded input; then the last window must start inside the input or left padding.
    size = (room + stride - 1) // stride + 1
    if size > 0 and (size - 1) * stride >= n + lo:
        size -= 1
    return max(size, 0)


def fit(n: int, kernel_size: int, stride: int = 1, padding=0, dilation: int = 1) -> Fit:
    """Whether the window fits the padded input exactly and which input cells it never reads.

    Example: a 3-wide filter with stride 3 on 7 cells fits twice and leaves index 6 uncovered.

    Raises:
        InputError: as ``output_size``.
    """
    n, kernel_size, stride, lo, hi, dilation = _axis(n, kernel_size, stride, padding, dilation)
    size = output_size(n, kernel_size, stride, (lo, hi), dilation)
    room = n + lo + hi - dilation * (kernel_size - 1) - 1
    covered = np.zeros(n + lo + hi, dtype=bool)
    for start in range(0, max(size, 0) * stride, stride):
        covered[start:start + dilation * (kernel_size - 1) + 1:dilation] = True
    uncovered = tuple(int(i) - lo for i in np.flatnonzero(~covered) if lo <= i < lo + n)
    leftover = room % stride if size > 0 else n + lo + hi
    return Fit(size, size > 0 and leftover == 0, leftover, uncovered)
