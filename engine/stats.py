"""One layer's values as numbers: histograms on given edges, mean and spread, dead and saturated shares.

Shared by whoever asks for a layer's activation statistics: the depth lab (``engine.gradients.activation_stats``),
the training loop's records (``engine.training``) and unit health (``engine.diagnostics``). It imports only torch,
numpy and the layer registry, so every concept package may use it without an import cycle.

Edges are described compactly (``EdgeSpec`` dicts, a few numbers) and expanded by ``edges``:
- ``{"scale": "linear", "lo": a, "hi": b, "bins": n}``: n equal bins over [a, b];
- ``{"scale": "symlog", "low": p, "high": q, "per_decade": k}``: bins of equal width in log10|v| for magnitudes
  10^p to 10^q on both sides, plus one central bin (−10^p, 10^p) holding zero: 2·k·(q − p) + 1 bins. Gradients
  span many decades; these bins show them from the first step on.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from engine.network.build import display_path
from engine.network.layers import layer_names

# The elementwise activation modules (their outputs' statistics are meaningful unit by unit)
ACTIVATIONS = tuple(getattr(nn, name) for name in layer_names("Activation", elementwise=True))
# Also measured where a model holds them (built from PyTorch code): the hard variants
HARD = (nn.Hardtanh, nn.Hardsigmoid)
SATURATION = 0.99  # tanh |y| ≥ 0.99 and sigmoid y ≥ 0.99 (or ≤ 0.01) pass almost no gradient
SATURATED_SHARE = 0.95  # a unit is saturated when it sits near a bound for at least this share of the samples
BINS = 32  # linear histogram bins
GRAD_DECADES, PER_DECADE = 8, 2  # symmetric log bins: 8 decades below the largest gradient, 2 bins a decade


def bounds(module: nn.Module) -> tuple[float, float] | None:
    """The output range of a bounded activation (sigmoid, tanh and their hard variants), else None."""
    if isinstance(module, nn.Sigmoid | nn.Hardsigmoid):
        return 0.0, 1.0
    if isinstance(module, nn.Tanh):
        return -1.0, 1.0
    if isinstance(module, nn.Hardtanh) and not isinstance(module, nn.ReLU6):
        return float(module.min_val), float(module.max_val)
    return None


def is_activation(module: nn.Module) -> bool:
    """Whether unit statistics apply to the module: an elementwise activation (or a hard variant)."""
    return isinstance(module, ACTIVATIONS + HARD)


# ------------------------------------------------------------------------------------------- edges
def linear_spec(lo: float, hi: float, bins: int = BINS) -> dict:
    """Equal bins over [lo, hi] (widened by ±0.5 when lo = hi)."""
    lo, hi = float(lo), float(hi)
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    return {"scale": "linear", "lo": lo, "hi": hi, "bins": int(bins)}


def symlog_spec(largest: float, decades: int = GRAD_DECADES, per_decade: int = PER_DECADE) -> dict:
    """Symmetric log bins whose top edge is the decade above ``largest`` (|v| ≤ largest), ``decades`` deep."""
    high = math.ceil(math.log10(largest)) if largest > 0 and math.isfinite(largest) else 0
    return {"scale": "symlog", "low": high - int(decades), "high": high, "per_decade": int(per_decade)}


def edges(spec: dict) -> np.ndarray:
    """The bin edges (increasing, float64) an ``EdgeSpec`` describes."""
    if spec["scale"] == "linear":
        return np.linspace(spec["lo"], spec["hi"], spec["bins"] + 1)
    if spec["scale"] == "symlog":
        mags = np.logspace(spec["low"], spec["high"], (spec["high"] - spec["low"]) * spec["per_decade"] + 1)
        return np.concatenate([-mags[::-1], mags])
    raise ValueError(f"unknown bin scale {spec['scale']!r}; linear or symlog")


def first_spec(kind: str, values: torch.Tensor, module: nn.Module | None = None) -> dict:
    """Edges fixed from a layer's first record, with room to grow, so later records stay comparable.

    ``kind``: "act" (a bounded activation's own range; else the first values' range, doubled around its
    centre), "weight" (symmetric, twice the largest |w|) or "grad" (symmetric log bins).
    """
    if kind == "act" and module is not None and bounds(module):
        return linear_spec(*bounds(module))
    flat = values.detach().reshape(-1)
    lo, hi = torch.stack(torch.aminmax(flat)).tolist() if flat.numel() else (math.nan, math.nan)
    if not (math.isfinite(lo) and math.isfinite(hi)):  # NaN or ±inf among them (rare): the finite ones decide
        flat = flat[torch.isfinite(flat)]
        lo, hi = torch.stack(torch.aminmax(flat)).tolist() if flat.numel() else (None, None)
    if kind == "grad":
        return symlog_spec(max(abs(lo), abs(hi)) if lo is not None else 1.0)
    if lo is None:
        return linear_spec(0.0, 0.0)
    if kind == "weight" or lo < 0 < hi:
        top = 2 * max(abs(lo), abs(hi))
        return linear_spec(-top, top)
    if lo >= 0:  # ReLU outputs and other non-negative values: from 0
        return linear_spec(0.0, 2 * hi)
    return linear_spec(2 * lo, 0.0)


# ------------------------------------------------------------------------------------------- counting
def histogram(values: torch.Tensor, bin_edges) -> torch.Tensor:
    """Counts of ``values`` in the bins of ``bin_edges``, as ``numpy.histogram`` counts them, on the values' device.

    Bins are [e_i, e_i+1), the last one closed; NaN and ±inf are left out. Values below the first edge count
    in the first bin and those above the last in the last one, so the counts always sum to the number of
    finite values (with edges covering the values, they equal ``numpy.histogram``'s exactly).

    Args:
        values: any tensor (flattened; compared with the float64 edges exactly, in its own dtype).
        bin_edges: increasing edges (a sequence or numpy array, at least two), or a tensor of the values' dtype and
            device whose inner edges were made by ``inner_edges`` (``edges_tensor``), to save redoing it.

    Returns:
        An int64 tensor of ``len(bin_edges) - 1`` counts.
    """
    flat = values.detach().reshape(-1)
    if not flat.is_floating_point():
        flat = flat.double()
    inner = inner_edges(bin_edges, flat.dtype, flat.device)
    bins = len(inner) + 1
    index = torch.bucketize(flat, inner, right=True)
    index = torch.where(torch.isfinite(flat), index, bins)  # NaN and ±inf to a bin of their own, dropped below
    return torch.bincount(index, minlength=bins + 1)[:bins]


def inner_edges(bin_edges, dtype: torch.dtype, device) -> torch.Tensor:
    """The inner edges as ``dtype`` values that compare with ``dtype`` values exactly as the float64 edges do.

    A float32 value v is ≥ a float64 edge e exactly when v ≥ the least float32 not below e, so each edge is
    rounded up (for float64 values nothing changes). Precompute it once per set of edges (``histogram`` accepts
    its result plus the outer edges, or any edges).
    """
    if isinstance(bin_edges, torch.Tensor) and bin_edges.dtype == dtype and bin_edges.device == torch.device(device):
        return bin_edges[1:-1]
    e64 = torch.as_tensor(np.asarray(bin_edges, dtype=np.float64)[1:-1])
    e = e64.to(dtype)
    if dtype != torch.float64:
        below = e.double() < e64
        e = torch.where(below, torch.nextafter(e, torch.full_like(e, float("inf"))), e)
    return e.to(device)


class Bins:
    """An ``EdgeSpec``'s bins, ready to count many tensors of one dtype on one device (a run's histogram records).

    Each value's bin is computed from the scale (arithmetic on the linear or the log10 scale) and then corrected
    by one bin against the exact edges (rounded as ``inner_edges`` rounds them), so a finite value lands in the
    bin ``histogram`` (and ``numpy.histogram``) puts it in, for a fraction of ``torch.bucketize``'s cost on the CPU.
    A non-finite value gets some bin: count a tensor that has any with ``histogram``.
    """

    def __init__(self, spec: dict, dtype: torch.dtype, device):
        self.spec, self.edges = spec, edges(spec)
        self.count = len(self.edges) - 1
        inner = inner_edges(self.edges, dtype, device)
        inf = torch.full((1,), float("inf"), dtype=dtype, device=inner.device)
        self.lower, self.upper = torch.cat([-inf, inner]), torch.cat([inner, inf])  # bin i: [lower[i], upper[i])
        # Edges the dtype cannot tell apart well would put the estimate more than one bin off: those bins are
        # counted exactly (torch.bucketize), as ``histogram`` counts them. Linear bins: narrower than the dtype's
        # smallest normal number or than its precision at their size, or edges near its largest. Log bins are
        # placed on the log10 scale, where the dtype's relative precision is what counts: edges below its smallest
        # normal number or near its largest (a gradient's usual 8 decades are placed by arithmetic).
        info, top = torch.finfo(dtype), float(np.abs(self.edges).max())
        if spec["scale"] == "linear":
            width = float(np.diff(self.edges).min())
            fits = width >= max(info.tiny, 8 * info.eps * top) and self.count / width <= info.max / 8
        else:
            fits = 10.0 ** spec["low"] >= info.tiny and \
                spec["per_decade"] * max(abs(spec["low"]), abs(spec["high"])) * 64 * info.eps < 1
        self.exact = not (fits and top <= info.max / 8)
        self.exact_edges = edges_tensor(self.edges, dtype, device) if self.exact else None

    def scale(self) -> tuple[float, float]:
        """(offset, factor) of the position estimate: (v − offset)·factor on the linear scale,
        (log10|v| − offset)·factor on the log one."""
        spec = self.spec
        if spec["scale"] == "linear":
            return spec["lo"], self.count / (spec["hi"] - spec["lo"])
        return spec["low"], spec["per_decade"]

    def counts(self, flat: torch.Tensor) -> torch.Tensor:
        """The counts of ``flat``'s values (1-D; finite ones: see the class docstring), int64, on its device."""
        return counts_many([(flat, self)])[0]


class _Layout:
    """What counting one group of (values, bins) pairs needs beyond the values, as device tensors: each value's
    scale (offset and factor), the first bin of its histogram among the group's, its bins' exact edges. The same
    layers and batch size give the same layout at every record (``counts_many``'s ``layouts`` keeps them)."""

    def __init__(self, sizes: list[int], bins: list[Bins], dtype: torch.dtype, device):
        n = bins[0].count
        repeats = torch.tensor(sizes, device=device)
        offset, factor = zip(*(b.scale() for b in bins))
        self.offset = torch.tensor(offset, dtype=dtype, device=device).repeat_interleave(repeats)
        self.factor = torch.tensor(factor, dtype=dtype, device=device).repeat_interleave(repeats)
        self.first = torch.arange(0, n * len(bins), n, device=device, dtype=torch.int32).repeat_interleave(repeats)
        self.lower, self.upper = torch.cat([b.lower for b in bins]), torch.cat([b.upper for b in bins])
        self.log, self.count = bins[0].spec["scale"] != "linear", n

    def index(self, values: torch.Tensor) -> torch.Tensor:
        """Each value's bin among the group's bins (its histogram's first bin plus its bin there)."""
        n = self.count
        if not self.log:
            at = (values - self.offset).mul_(self.factor)  # floored below: truncating a value clamped to ≥ 0
        else:  # a central bin (|v| < 10^low) with n // 2 bins per side: per_decade a decade
            middle = n // 2
            steps = (values.abs().log10_() - self.offset).mul_(self.factor).floor_()
            at = torch.where(steps < 0, middle, torch.where(values > 0, middle + 1 + steps, middle - 1 - steps))
        # int32 indices: each pass over a record's values moves half the bytes of int64 (the record is cold in cache)
        i = at.nan_to_num_(nan=0.0).clamp_(0, n - 1).int().add_(self.first)
        # the estimate is right or one off (rounding near an edge); index_select: 4× faster than lower[i]
        i -= (values < self.lower.index_select(0, i)).int()
        i += (values >= self.upper.index_select(0, i)).int()
        return i


def counts_many(items: list[tuple[torch.Tensor, Bins]], layouts: dict | None = None) -> list[torch.Tensor]:
    """``bins.counts(flat)`` for each (flat, bins) pair. Pairs whose bins have the same scale and number, of one dtype
    on one device, are counted together (a record of a small model is bound by the number of operations, not of
    values); ``layouts``, a dict the caller keeps, saves rebuilding a group's layout when the same bins and sizes
    come again (a run's records)."""
    out: list[torch.Tensor | None] = [None] * len(items)
    groups: dict[tuple, list[int]] = {}
    for k, (flat, bins) in enumerate(items):
        if bins.exact:
            out[k] = histogram(flat, bins.exact_edges)
            continue
        groups.setdefault((bins.spec["scale"], bins.count, flat.dtype, flat.device), []).append(k)
    for (_, n, dtype, device), members in groups.items():
        flats = [items[k][0] for k in members]
        key = tuple((id(items[k][1]), f.numel()) for k, f in zip(members, flats))
        layout = layouts.get(key) if layouts is not None else None
        if layout is None:
            layout = _Layout([f.numel() for f in flats], [items[k][1] for k in members], dtype, device)
            if layouts is not None:
                if len(layouts) >= 8:  # sizes change at an epoch's short last batch: keep a few
                    layouts.clear()
                layouts[key] = layout
        values = flats[0] if len(flats) == 1 else torch.cat(flats)
        for k, counts in zip(members, torch.bincount(layout.index(values), minlength=n * len(members)).split(n)):
            out[k] = counts
    return out


def _units(y: torch.Tensor) -> torch.Tensor:
    """(samples, units): a unit is one feature, or one channel at one position."""
    return y.reshape(y.shape[0], -1) if y.dim() > 1 else y.reshape(-1, 1)


def unit_shares(module: nn.Module, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dead, saturated) fractions of the layer's units over the samples of ``y``, as 0-dim device tensors.

    dead: units whose output is exactly 0 for every sample. saturated: units within 1% of a bound (|tanh| ≥ 0.99;
    sigmoid ≤ 0.01 or ≥ 0.99) for at least 95% of the samples; 0 for an activation without bounds.
    """
    u = _units(y.detach())
    dead = (u == 0).all(dim=0).double().mean()
    b = bounds(module)
    if b is None:
        return dead, torch.zeros((), dtype=torch.float64, device=u.device)
    margin = (1 - SATURATION) * max(abs(b[0]), abs(b[1]))
    near = (u <= b[0] + margin) | (u >= b[1] - margin)
    saturated = (near.double().mean(dim=0) >= SATURATED_SHARE).double().mean()
    return dead, saturated


def layer_stats(name: str, module: nn.Module, y: torch.Tensor, bins: int = 30) -> dict:
    """One activation layer's output on a batch: mean, std, saturated and dead shares, a histogram.

    Returns:
        {"name", "type", "mean", "std", "saturated" (share of values near a bound of a sigmoid/tanh, else None),
        "dead" (ReLU: share of values equal to 0, else None), "dead_units" (ReLU: share of units 0 for every
        sample, else None), "counts", "edges" (over [0, 1] for sigmoid, [-1, 1] for tanh, else the observed
        range)}.
    """
    kind = type(module).__name__
    flat = y.detach().float().reshape(-1)
    stats = {"name": name, "type": kind, "mean": flat.mean().item(),
             "std": flat.std(unbiased=False).item() if flat.numel() > 1 else 0.0,
             "saturated": None, "dead": None, "dead_units": None}
    if isinstance(module, nn.Tanh):
        stats["saturated"] = (flat.abs() > SATURATION).float().mean().item()
    elif isinstance(module, nn.Sigmoid):
        stats["saturated"] = ((flat < 1 - SATURATION) | (flat > SATURATION)).float().mean().item()
    elif isinstance(module, nn.ReLU):
        stats["dead"] = (flat == 0).float().mean().item()
        stats["dead_units"] = unit_shares(module, y)[0].item()
    finite = flat[torch.isfinite(flat)]
    spec = linear_spec(*(bounds(module) or ((finite.min().item(), finite.max().item()) if finite.numel()
                                            else (0.0, 1.0))), bins)
    stats["edges"] = edges(spec).tolist()
    stats["counts"] = histogram(finite, stats["edges"]).tolist()
    return stats


def edges_tensor(bin_edges, dtype: torch.dtype, device) -> torch.Tensor:
    """All the edges as a tensor for ``histogram`` on values of ``dtype`` on ``device`` (inner ones rounded up)."""
    e64 = np.asarray(bin_edges, dtype=np.float64)
    inner = inner_edges(e64, dtype, device)
    ends = torch.tensor([e64[0], e64[-1]], dtype=dtype, device=inner.device)
    return torch.cat([ends[:1], inner, ends[1:]])


@contextmanager
def captured(model: nn.Module, names: list[str]):
    """Record the outputs of the named submodules during the forward passes inside the block.

    Yields a dict name → the module's last output (detached; a recurrent layer's output sequence). Hooks are
    removed on leaving, also after an error.
    """
    outputs: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(_module, _inputs, output):
            outputs[name] = (output[0] if isinstance(output, tuple) else output).detach()
        return hook

    handles = [model.get_submodule(n).register_forward_hook(hook_for(n)) for n in names]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def label(model: nn.Module, name: str) -> str:
    """A module's label as the summary writes it: "3.1 ReLU"."""
    return " ".join(filter(None, [display_path(name), type(model.get_submodule(name)).__name__]))


__all__ = ["ACTIVATIONS", "HARD", "SATURATION", "SATURATED_SHARE", "BINS", "bounds", "is_activation", "linear_spec",
           "symlog_spec", "edges", "first_spec", "histogram", "inner_edges", "edges_tensor", "unit_shares",
           "layer_stats", "captured", "label"]
