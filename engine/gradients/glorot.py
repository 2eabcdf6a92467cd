"""The Glorot and Bengio (2010) figure: each hidden layer's activation histogram side by side, for sigmoid, tanh and
ReLU under a small Gaussian, Xavier and He initialisation, at initialisation and as the depth lab's run trains.

Histograms come from ``engine.stats`` (the same code as the training records and unit health); within one
network every layer is binned on the same edges (sigmoid [0, 1], tanh [−1, 1], ReLU from 0 to the largest output
of any layer) so the panels compare at a glance.
"""
from __future__ import annotations

import torch
from torch import nn

from engine import stats
from engine.diagnostics import series
from engine.gradients.lab import depth_batch, depth_model
from engine.gradients.norms import _on_model, _untouched

ACTIVATIONS = ("Sigmoid", "Tanh", "ReLU")
SCHEMES = ("normal-0.01", "xavier", "he")  # ``engine.network.init.SCHEMES`` names
BINS = 40


def layer_histograms(model: nn.Module, x: torch.Tensor, bins: int = BINS) -> list[dict]:
    """Every activation layer's output on one batch, binned on edges shared by the network's layers.

    Args:
        model: the network (its modes, weights and buffers are left as they were).
        x: an input batch.
        bins: bins per histogram.

    Returns:
        [{"name" ("2 Sigmoid"), "type", "counts", "edges", "mean", "std", "saturated" (share of values within 1% of
        a bound, else None), "dead" (share of values equal to 0, ReLU family, else None)}] in module order.
    """
    found = [(n, m) for n, m in model.named_modules() if n and stats.is_activation(m)]
    with stats.captured(model, [n for n, _ in found]) as outputs, _untouched(model), torch.no_grad():
        model(*_on_model(model, x))
    found = [(n, m) for n, m in found if n in outputs]
    bounded = [stats.bounds(m) for _, m in found]
    lo = min((b[0] if b else outputs[n].min().item()) for (n, _), b in zip(found, bounded)) if found else 0.0
    hi = max((b[1] if b else outputs[n].max().item()) for (n, _), b in zip(found, bounded)) if found else 1.0
    shared = stats.linear_spec(lo, hi, bins)
    out = []
    for (name, module), b in zip(found, bounded):
        y = outputs[name].double()
        spec = stats.linear_spec(*b, bins) if b else shared
        e = stats.edges(spec)
        near = None
        if b:
            margin = (1 - stats.SATURATION) * max(abs(b[0]), abs(b[1]))
            near = ((y <= b[0] + margin) | (y >= b[1] - margin)).double().mean().item()
        out.append({"name": stats.label(model, name), "type": type(module).__name__,
                    "counts": stats.histogram(y, e).tolist(), "edges": e.tolist(), "mean": y.mean().item(),
                    "std": y.std(unbiased=False).item() if y.numel() > 1 else 0.0, "saturated": near,
                    "dead": (y == 0).double().mean().item() if isinstance(module, nn.ReLU | nn.ReLU6) else None})
    return out


def glorot_grid(depth: int = 5, width: int = 64, activations=ACTIVATIONS, schemes=SCHEMES, n: int = 256,
                seed: int = 0) -> dict[tuple[str, str], list[dict]]:
    """The figure at initialisation: ``layer_histograms`` of the depth lab's MLP for each activation and scheme.

    Args:
        depth, width: the MLP's hidden layers and their width (as ``lab.depth_model``).
        activations: activation names (``ACTIVATIONS``); schemes: initialisations (``SCHEMES``).
        n: digits in the batch (``lab.depth_batch``).
        seed: the networks' and the batch's seed.

    Returns:
        {(activation, scheme): per-layer histograms, input to output}.
    """
    x, _ = depth_batch(n, seed)
    return {(a, s): layer_histograms(depth_model(depth, width, a, s, seed=seed), x)
            for a in activations for s in schemes}


def run_histograms(records: list[dict], step: int) -> tuple[int, dict] | None:
    """The figure during a lab run: its activation layers' histograms at the last record at or before ``step``
    (``diagnostics.series.at_step``, the training records' fixed edges); None before any."""
    at = series.at_step(records, step, "act")
    if at is None:
        return None
    kinds = tuple(a for a in ACTIVATIONS) + ("LeakyReLU", "ELU")
    return at[0], {name: h for name, h in at[1].items() if name.rsplit(" ", 1)[-1] in kinds}
