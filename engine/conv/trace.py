"""Convolution and pooling in plain numpy, recorded step by step; the outputs equal torch.nn.functional's.

Every operation slides a window over a *padded grid* and returns a ``Trace``: the output and one
``Step`` per output element (which cells the window covered, the products, the sum). Transposed
convolution is traced as what it is: zeros inserted between inputs, then an ordinary convolution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.conv.arithmetic import Fit, as_tuple, fit, output_size, resolve_padding
from engine.errors import InputError

# What each cell of a padded grid holds (Trace.source).
PAD, INPUT, INSERTED, OUTSIDE = 0, 1, 2, 3
MAX_WINDOW_CELLS = 5_000_000  # C × outputs × kernel cells gathered at once: 40 MB of float64 per request
_AXES = {1: ("length",), 2: ("height", "width")}
__all__ = ["Fit", "Step", "Trace", "fit", "output_size", "resolve_padding", "conv1d", "conv2d",
           "conv_transpose1d", "conv_transpose2d", "pool1d", "pool2d", "PAD", "INPUT", "INSERTED", "OUTSIDE"]


@dataclass(frozen=True)
class Step:
    """One output element: the window that produced it and the arithmetic.

    Attributes:
        out_index: index into ``Trace.output``: (o, i, j) when it has a map axis, else (i, j); (o, i) / (i,) in 1-D.
        positions: (taps, dims) padded coordinates of the window's cells, in kernel order.
        kinds: (taps,) what each cell holds: PAD, INPUT, INSERTED (transposed conv) or OUTSIDE (ceil mode).
        values: (C, *kernel) input values under the window.
        weights: (C, *kernel) kernel as applied (already flipped when flip=True); None for pooling.
        products: values × weights; None for pooling.
        winner: for max pooling, the flat index into ``values`` of the element that won.
        value: the output element.
    """

    out_index: tuple[int, ...]
    positions: np.ndarray
    kinds: np.ndarray
    values: np.ndarray
    weights: np.ndarray | None
    products: np.ndarray | None
    winner: int | None
    value: float

    @property
    def is_padding(self) -> np.ndarray:
        """(taps,) True where the window reads padding rather than the input."""
        return self.kinds != INPUT


@dataclass
class Trace:
    """The result of one traced operation: ``output`` plus everything needed to replay it.

    ``padded`` (C, *grid) is the grid the window slid over, ``source`` (*grid) says what each cell is,
    ``kernel`` (O, C, *K) is the kernel as applied, ``starts``/``taps`` give each axis's window starts
    and tap offsets (dilation gaps included). ``steps`` builds one ``Step`` per output element on demand.
    """

    op: str  # "conv", "conv_transpose", "max_pool" or "avg_pool"
    output: np.ndarray
    padded: np.ndarray
    source: np.ndarray
    kernel: np.ndarray | None
    starts: tuple[np.ndarray, ...]
    taps: tuple[np.ndarray, ...]
    windows: np.ndarray  # (C, *out, *K) gathered input values
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    flip: bool = False
    bias: np.ndarray | None = None
    has_maps: bool = False  # output has a leading axis: one map per kernel, or per pooled channel
    input_shape: tuple[int, ...] = ()
    insert_stride: tuple[int, ...] = ()  # transposed convolution: spacing of the inserted zeros
    count_include_pad: bool = True  # average pooling: padding cells count in the divisor

    @property
    def dims(self) -> int:
        """1 for sequences, 2 for images."""
        return len(self.starts)

    @property
    def n_steps(self) -> int:
        """Number of output elements (one step each)."""
        return int(self.output.size)

    def step(self, i: int) -> Step:
        """The i-th output element in row-major order of ``output``."""
        index = np.unravel_index(i, self.output.shape)
        o, spatial = (index[0], index[1:]) if self.has_maps else (0, index)
        grids = np.meshgrid(*[self.starts[a][spatial[a]] + self.taps[a] for a in range(self.dims)], indexing="ij")
        positions = np.stack([g.ravel() for g in grids], axis=1)  # (taps, dims)
        kinds = self.source[tuple(positions.T)]
        channels = slice(None) if self.kernel is not None else slice(o, o + 1)  # pooling: one channel
        values = self.windows[(channels, *spatial)]  # (C, *K)
        weights = products = winner = None
        if self.kernel is not None:
            weights = self.kernel[o]
            products = values * weights
        elif self.op == "max_pool":
            flat = np.where(np.isnan(values), -np.inf, values).ravel()
            winner = int(np.argmax(flat))
        return Step(tuple(int(k) for k in index), positions, kinds, values, weights, products, winner,
                    float(self.output[index]))

    @cached_property
    def steps(self) -> list[Step]:
        """Every step, in the order of ``output``'s elements."""
        return [self.step(i) for i in range(self.n_steps)]


def _check_fits(shape, k, s, pads, d, ceil_mode=False) -> tuple[int, ...]:
    """Output sizes per axis, or an InputError saying which axis is too small and how to fix it."""
    sizes = []
    for axis, n, ki, si, (lo, hi), di in zip(_AXES[len(shape)], shape, k, s, pads, d):
        size = output_size(n, ki, si, (lo, hi), di, ceil_mode)
        span, room = di * (ki - 1) + 1, n + lo + hi
        if size < 1 and di > 1 and ki <= room:
            biggest = (room - 1) // (ki - 1)
            raise InputError(f"Dilation {di} spreads the {ki}-cell kernel over {span} cells, more than the "
                             f"{room} cells of the padded input ({axis} {n}, padding {lo}+{hi}). "
                             f"Use a dilation of at most {biggest}, more padding, or a smaller kernel.")
        if size < 1:
            raise InputError(f"The kernel ({ki} cells along the {axis}) is larger than the padded input "
                             f"({n} + padding {lo}+{hi} = {room} cells). Use a kernel of at most {room}, "
                             f"add padding, or use a larger input.")
        sizes.append(size)
    return tuple(sizes)


def _array(a, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    """A finite float64 array with one of the allowed ranks."""
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must contain only numbers ({exc}).") from None
    if arr.ndim not in ndims:
        raise InputError(f"{name} must have {' or '.join(map(str, ndims))} dimensions, got shape {arr.shape}.")
    if arr.size == 0 or not np.isfinite(arr).all():
        raise InputError(f"{name} has empty or non-finite cells: fill every cell with a number.")
    return arr


def _slide(padded, source, out_sizes, stride, dilation, ksize, op, padding, kernel=None, reduce=None, **meta) -> Trace:
    """Gather every window of `padded` (C, *grid) and reduce it to the output; shared by all operations.

    Convolutions pass `kernel` (O, C, *K); pooling passes `reduce(windows, index, k_axes)`.
    """
    dims = len(out_sizes)
    cells = padded.shape[0] * math.prod(out_sizes) * math.prod(ksize)
    if cells > MAX_WINDOW_CELLS:
        raise InputError(f"This input is too large to trace ({cells:,} window cells); use a smaller image.")
    starts = tuple(np.arange(o) * s for o, s in zip(out_sizes, stride))
    taps = tuple(np.arange(k) * d for k, d in zip(ksize, dilation))
    index = []
    for a in range(dims):  # broadcast (out_a, K_a) index grids into shape (*out, *K)
        shape = [1] * (2 * dims)
        shape[a], shape[dims + a] = out_sizes[a], ksize[a]
        index.append((starts[a][:, None] + taps[a][None, :]).reshape(shape))
    windows = padded[(slice(None), *index)]  # (C, *out, *K)
    k_axes = tuple(range(-dims, 0))
    if kernel is not None:
        spec = "cxi,oci->ox" if dims == 1 else "cxyij,ocij->oxy"
        output = np.einsum(spec, windows, kernel, optimize=True)
        if meta.get("bias") is not None:
            output = output + meta["bias"].reshape((-1,) + (1,) * dims)
    else:
        output = reduce(windows, index, k_axes)
    return Trace(op, output, padded, source, kernel, starts, taps, windows, tuple(stride), padding, tuple(dilation),
                 **meta)


def _prepare_conv(x, w, dims, bias):
    """Normalise x to (C, *S) and w to (O, C, *K); remember whether the output keeps a kernel axis."""
    x = _array(x, "The input", (dims, dims + 1))
    w = _array(w, "The kernel", (dims, dims + 1, dims + 2))
    several = w.ndim == dims + 2
    x3 = x if x.ndim == dims + 1 else x[None]
    w4 = w if several else (w[None] if w.ndim == dims + 1 else w[None, None])
    if w4.shape[1] != x3.shape[0]:
        raise InputError(f"The input has {x3.shape[0]} channel(s) but the kernel has {w4.shape[1]}: "
                         f"give a kernel with one {'×'.join(map(str, w4.shape[2:]))} slice per input channel.")
    b = None if bias is None else np.broadcast_to(np.asarray(bias, dtype=np.float64).ravel(), (w4.shape[0],)).copy()
    return x3, w4, several, b


def _pad(x, pads, fill=0.0, extra=None):
    """Pad (C, *S) with `fill`; `extra` cells past the far edge are OUTSIDE (ceil-mode pooling)."""
    extra = extra or (0,) * len(pads)
    widths = [(0, 0)] + [(lo, hi + e) for (lo, hi), e in zip(pads, extra)]
    padded = np.pad(x, widths, constant_values=fill)
    source = np.pad(np.ones(x.shape[1:], dtype=np.int8), widths[1:], constant_values=PAD)
    for a, ((lo, hi), e) in enumerate(zip(pads, extra)):
        if e:
            tail = [slice(None)] * len(pads)
            tail[a] = slice(padded.shape[a + 1] - e, None)
            source[tuple(tail)] = OUTSIDE
            padded[(slice(None), *tail)] = np.nan
    return padded, source


def _conv(x, w, dims, stride, padding, dilation, flip, bias):
    x3, w4, several, b = _prepare_conv(x, w, dims, bias)
    ksize = w4.shape[2:]
    s, d = as_tuple(stride, dims, "stride", 1), as_tuple(dilation, dims, "dilation", 1)
    pads = resolve_padding(padding, ksize, d, dims, s)
    out = _check_fits(x3.shape[1:], ksize, s, pads, d)
    kernel = np.flip(w4, axis=tuple(range(2, 2 + dims))) if flip else w4
    padded, source = _pad(x3, pads)
    trace = _slide(padded, source, out, s, d, ksize, "conv", pads, kernel=np.ascontiguousarray(kernel), flip=flip,
                   bias=b, has_maps=several, input_shape=np.shape(x))
    if not several:
        trace.output = trace.output[0]
    return trace


def conv1d(x, w, stride=1, padding=0, dilation=1, flip=False, bias=None) -> Trace:
    """1-D convolution of a signal, as ``F.conv1d`` (or true convolution with ``flip=True``).

    Args:
        x: (L,) or (C, L) signal.
        w: (K,), (C, K) one kernel, or (O, C, K) several kernels.
        stride, dilation: ints ≥ 1; padding: int, a (before, after) pair, "valid", "same" or "full".
        flip: rotate the kernel (true convolution) instead of cross-correlating as deep-learning libraries do.
        bias: optional scalar, or one per kernel.

    Returns:
        A Trace whose output is (L_out,) for one kernel or (O, L_out) for several.
    """
    return _conv(x, w, 1, stride, padding, dilation, flip, bias)


def conv2d(x, w, stride=1, padding=0, dilation=1, flip=False, bias=None) -> Trace:
    """2-D convolution of an image, as ``F.conv2d`` (or true convolution with ``flip=True``).

    Args:
        x: (H, W) or (C, H, W) image, e.g. an RGB 5×5 input is (3, 5, 5).
        w: (K, K), (C, K, K) one kernel (e.g. 3×3×3 for RGB), or (O, C, K, K) several kernels.
        stride, dilation: int or (h, w); padding: int, (h, w), "valid", "same" or "full".
        flip: rotate the kernel 180° (true convolution); False cross-correlates, as PyTorch does.
        bias: optional scalar, or one per kernel.

    Returns:
        A Trace whose output is (H_out, W_out) for one kernel or (O, H_out, W_out) for several.
    """
    return _conv(x, w, 2, stride, padding, dilation, flip, bias)


def _conv_transpose(x, w, dims, stride, padding, output_padding, dilation):
    x = _array(x, "The input", (dims, dims + 1))
    w = _array(w, "The kernel", (dims, dims + 2))
    several = w.ndim == dims + 2
    x3 = x if x.ndim == dims + 1 else x[None]
    w4 = w if several else w[None, None]  # PyTorch layout (C_in, C_out, *K)
    if w4.shape[0] != x3.shape[0]:
        raise InputError(f"The input has {x3.shape[0]} channel(s) but the transposed kernel expects {w4.shape[0]} "
                         "(its first axis is the input channels).")
    s, d = as_tuple(stride, dims, "stride", 1), as_tuple(dilation, dims, "dilation", 1)
    p, op = as_tuple(padding, dims, "padding", 0), as_tuple(output_padding, dims, "output_padding", 0)
    ksize = w4.shape[2:]
    if any(o >= max(si, di) for o, si, di in zip(op, s, d)):
        raise InputError("output_padding must be smaller than the stride (or the dilation).")
    sizes = [(n - 1) * si - 2 * pi + di * (ki - 1) + oi + 1
             for n, si, pi, di, ki, oi in zip(x3.shape[1:], s, p, d, ksize, op)]
    if min(sizes) < 1:
        raise InputError(f"Padding {p} crops away the whole output (it would be {sizes}); use less padding.")
    # Zero insertion: S−1 zeros between neighbours, then D(K−1)−P zeros around (negative: crop).
    up_shape = [(n - 1) * si + 1 for n, si in zip(x3.shape[1:], s)]
    up = np.zeros((x3.shape[0], *up_shape))
    src = np.full(up_shape, INSERTED, dtype=np.int8)
    grid = tuple(slice(None, None, si) for si in s)
    up[(slice(None), *grid)] = x3
    src[grid] = INPUT
    pads = tuple((di * (ki - 1) - pi, di * (ki - 1) - pi + oi) for di, ki, pi, oi in zip(d, ksize, p, op))
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    padded = np.pad(up, [(0, 0)] + widths)
    source = np.pad(src, widths, constant_values=PAD)
    crop = tuple(slice(max(-lo, 0), source.shape[a] - max(-hi, 0)) for a, (lo, hi) in enumerate(pads))
    padded, source = padded[(slice(None), *crop)], source[crop]
    kernel = np.flip(w4, axis=tuple(range(2, 2 + dims))).swapaxes(0, 1)  # (C_out, C_in, *K)
    trace = _slide(padded, source, tuple(sizes), (1,) * dims, d, ksize, "conv_transpose", pads,
                   kernel=np.ascontiguousarray(kernel), flip=True, has_maps=several,
                   input_shape=x.shape, insert_stride=s)
    if not several:
        trace.output = trace.output[0]
    return trace


def conv_transpose1d(x, w, stride=1, padding=0, output_padding=0, dilation=1) -> Trace:
    """1-D transposed convolution, as ``F.conv_transpose1d``; see ``conv_transpose2d``."""
    return _conv_transpose(x, w, 1, stride, padding, output_padding, dilation)


def conv_transpose2d(x, w, stride=1, padding=0, output_padding=0, dilation=1) -> Trace:
    """Transposed (fractionally strided) convolution, as ``F.conv_transpose2d``.

    Traced as zero insertion (S−1 zeros between inputs), padding by D(K−1)−P, then a stride-1
    convolution with the kernel rotated 180°; output size (N−1)S − 2P + D(K−1) + output_padding + 1.

    Args:
        x: (H, W) or (C_in, H, W).
        w: (K, K) for one channel in and out, or (C_in, C_out, K, K) in PyTorch's layout.

    Returns:
        A Trace over the zero-inserted grid (INSERTED cells mark the zeros); output (H', W') or (C_out, H', W').
    """
    return _conv_transpose(x, w, 2, stride, padding, output_padding, dilation)


def _pool(x, dims, kernel_size, stride, padding, mode, ceil_mode, dilation, count_include_pad):
    if mode not in ("max", "avg"):
        raise InputError(f'Pooling mode must be "max" or "avg", got {mode!r}.')
    x = _array(x, "The input", (dims, dims + 1))
    x3 = x if x.ndim == dims + 1 else x[None]
    k = as_tuple(kernel_size, dims, "kernel_size", 1)
    s = k if stride is None else as_tuple(stride, dims, "stride", 1)
    d = as_tuple(dilation, dims, "dilation", 1)
    if mode == "avg" and any(di != 1 for di in d):
        raise InputError("Average pooling has no dilation in PyTorch; set the dilation to 1.")
    p = as_tuple(padding, dims, "padding", 0)
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise InputError("Pooling padding must be at most half the window (PyTorch's rule); lower the padding.")
    pads = tuple((pi, pi) for pi in p)
    out = _check_fits(x3.shape[1:], k, s, pads, d, ceil_mode)
    extra = tuple(max(0, (o - 1) * si + di * (ki - 1) + 1 - (n + 2 * pi))
                  for o, si, di, ki, n, pi in zip(out, s, d, k, x3.shape[1:], p))
    padded, source = _pad(x3, pads, -np.inf if mode == "max" else 0.0, extra)

    def reduce(windows, index, k_axes):
        if mode == "max":
            return np.nanmax(windows, axis=k_axes)  # padding is −∞ and OUTSIDE is NaN: neither can win
        kinds = source[tuple(index)]  # (*out, *K)
        counted = kinds != OUTSIDE if count_include_pad else kinds == INPUT
        return np.nansum(windows, axis=k_axes) / counted.sum(axis=k_axes)

    trace = _slide(padded, source, out, s, d, k, f"{mode}_pool", pads, reduce=reduce,
                   has_maps=x.ndim == dims + 1, input_shape=x.shape, count_include_pad=count_include_pad)
    if x.ndim == dims:
        trace.output = trace.output[0]
    return trace


def pool1d(x, kernel_size, stride=None, mode="max", ceil_mode=False, *, padding=0, dilation=1,
           count_include_pad=True) -> Trace:
    """1-D max or average pooling, as ``F.max_pool1d`` / ``F.avg_pool1d``; see ``pool2d``."""
    return _pool(x, 1, kernel_size, stride, padding, mode, ceil_mode, dilation, count_include_pad)


def pool2d(x, kernel_size, stride=None, mode="max", ceil_mode=False, *, padding=0, dilation=1,
           count_include_pad=True) -> Trace:
    """2-D max or average pooling, as ``F.max_pool2d`` / ``F.avg_pool2d``.

    Args:
        x: (H, W) or (C, H, W); each channel is pooled on its own (depth is preserved).
        kernel_size: window size; stride defaults to it.
        mode: "max" (padding counts as −∞) or "avg" (padding counts as 0 when count_include_pad).
        ceil_mode: round the output size up; windows may run past the edge (OUTSIDE cells are ignored).
        padding (keyword): cells on each side, at most half the window.
        dilation (keyword): gaps inside the window (max pooling only; PyTorch's avg_pool has none).
        count_include_pad (keyword): average pooling divides by the padding cells too.

    Returns:
        A Trace; each Step has the window's values and, for max pooling, the winner. No kernel, no parameters.
    """
    return _pool(x, 2, kernel_size, stride, padding, mode, ceil_mode, dilation, count_include_pad)
