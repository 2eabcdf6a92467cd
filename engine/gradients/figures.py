"""Plotly figures for the Gradients page: norms per layer or per time step on log scales, over training steps."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from engine import palette
from engine.gradients import lab

HEIGHT = 340


def _positive(values) -> np.ndarray:
    """The values a log axis can show; a 0 (below float64's range) or a non-finite value becomes a gap."""
    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def gaps_text(values) -> str:
    """What a chart leaves out, e.g. "3 values are exactly 0 (below float64's range) · 2 overflowed: not drawn"."""
    values = np.asarray(values, dtype=float)
    zeros, bad = int((values == 0).sum()), int((~np.isfinite(values)).sum())
    parts = [f"{zeros} {'value is' if zeros == 1 else 'values are'} exactly 0 (below float64's range)"] if zeros else []
    parts += [f"{bad} {'is' if bad == 1 else 'are'} not finite (overflowed float64)"] if bad else []
    return " · ".join(parts) + ": not drawn" if parts else ""


def _note_gaps(fig: go.Figure, arrays) -> go.Figure:
    text = gaps_text(np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays])) if arrays else ""
    if text:
        fig.add_annotation(text=text, xref="paper", yref="paper", x=0, y=0, xanchor="left", yanchor="bottom",
                           showarrow=False, font=dict(color="firebrick", size=11))
    return fig


def _layout(fig: go.Figure, x_title: str, y_title: str, log_y: bool = True, height: int = HEIGHT,
            also=()) -> go.Figure:
    """Titles, a white background with light grids, and a log y axis over whole decades of the traces (and ``also``)."""
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), xaxis_title=x_title,
                      yaxis_title=y_title, legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
                      plot_bgcolor="white", font=dict(size=14))
    fig.update_xaxes(showgrid=True, gridcolor="#e5e5e5", linecolor="#888", **palette.axis())
    fig.update_yaxes(showgrid=True, gridcolor="#e5e5e5", linecolor="#888", **palette.axis())
    if log_y:  # labels at powers of ten only, over whole decades of what is drawn
        drawn = [t.y for t in fig.data if t.type == "scatter" and t.y is not None]
        fig.update_yaxes(**palette.log_axis(drawn + [list(also)]))
    return fig


def layer_norms_figure(curves: dict[str, tuple[list[str], np.ndarray]], word: str = "layer") -> go.Figure:
    """‖∂L/∂W‖ against layer index (input → output) on a log scale, one line per named network; ``word="weight"``
    numbers weights instead, where some are not layers (``lab.layer_names``)."""
    fig = go.Figure()
    for i, (name, (labels, norms)) in enumerate(curves.items()):
        # x is the layer number every chart and table of the page uses ("layer 3"); the hover adds the module
        text = [f"{n} · {label}" for n, label in zip(lab.layer_names(labels, word), labels)]
        fig.add_scatter(x=list(range(1, len(norms) + 1)), y=_positive(norms), mode="lines+markers", name=name,
                        line=dict(color=palette.colour(i), width=2.5), marker=dict(size=7),
                        text=text, hovertemplate="%{text}<br>‖∂L/∂W‖ = %{y:.3g}<extra>" + name + "</extra>")
    _note_gaps(fig, [norms for _, norms in curves.values()])
    fig = _layout(fig, f"{word} (input → output)", "‖∂L/∂W‖")
    layers = max((len(norms) for _, norms in curves.values()), default=0)
    return fig.update_xaxes(dtick=1 if layers <= 20 else 5)  # whole layer numbers only


def layers_over_steps_figure(steps: list[int], labels: list[str], matrix: np.ndarray,
                             y_title: str = "‖∂L/∂(W, b)‖ per layer") -> go.Figure:
    """Each layer's gradient norm over training steps, coloured from the first layer (dark) to the last (light).

    The training loop records each layer's weight and bias together, hence the default axis title.
    """
    fig = go.Figure()
    colours = sample_colorscale("Viridis", np.linspace(0, 1, max(len(labels), 2)).tolist())
    for j, (label, name) in enumerate(zip(labels, lab.layer_names(labels))):
        fig.add_scatter(x=steps, y=_positive(matrix[:, j]), mode="lines", name=name,
                        line=dict(color=colours[j]),
                        hovertemplate=f"{name} · {label}<br>step %{{x}}<br>%{{y:.3g}}<extra></extra>")
    _note_gaps(fig, [matrix])
    return _layout(fig, "training step", y_title)


def activations_figure(stats: list[dict], names: list[str] | None = None) -> go.Figure:
    """Every activation layer's histogram as one heatmap row (share of outputs per bin), first layer at the top;
    rows named by ``names`` (``lab.activation_names``: "layer 3 · Sigmoid") or by module ("6 Sigmoid")."""
    rows, labels = [], []
    lo = min(s["edges"][0] for s in stats)
    hi = max(s["edges"][-1] for s in stats)
    grid = np.linspace(lo, hi, 41)
    centres = (grid[:-1] + grid[1:]) / 2
    for s in stats:
        counts = np.asarray(s["counts"], dtype=float)
        edges = np.asarray(s["edges"])
        # Spread each layer's histogram onto a common grid, so rows line up.
        own = (edges[:-1] + edges[1:]) / 2
        row = np.histogram(own, bins=grid, weights=counts)[0]
        rows.append(row / max(row.sum(), 1))
        labels.append(s["name"])
    fig = go.Figure(go.Heatmap(z=np.array(rows), x=centres, y=names or labels, colorscale="Blues",
                               colorbar=dict(title="share"),
                               hovertemplate="%{y}<br>value ≈ %{x:.2f}<br>share %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "activation value", "", log_y=False, height=max(220, 24 * len(stats) + 90))


def timestep_figure(curves: dict[str, np.ndarray], dashed: tuple[str, ...] = ()) -> go.Figure:
    """‖∂L/∂h_t‖ for t = 1..T on a log scale, one line per curve (those named in ``dashed`` dashed, e.g. c_t)."""
    fig = go.Figure()
    for i, (name, norms) in enumerate(curves.items()):
        fig.add_scatter(x=list(range(1, len(norms) + 1)), y=_positive(norms), mode="lines", name=name,
                        line=dict(color=palette.colour(i), dash="dash" if name in dashed else "solid"),
                        hovertemplate="t = %{x}<br>%{y:.3g}<extra>" + name + "</extra>")
    _note_gaps(fig, list(curves.values()))
    return _layout(fig, "time step t", "‖∂L/∂h_t‖, ‖∂L/∂c_t‖" if dashed else "‖∂L/∂h_t‖")


def compare_figure(at_init: dict[str, np.ndarray], after: dict[str, np.ndarray] | None = None) -> go.Figure:
    """‖∂L/∂h_t‖ of each cell at initialisation (solid) and, once they have trained, after training (dashed).

    A cell keeps its colour in both, so the eye can follow what training did to each one.
    """
    fig = go.Figure()
    colours = {cell: palette.colour(i) for i, cell in enumerate(at_init)}
    phases = [("at initialisation", at_init, "solid")] + ([("after training", after, "dash")] if after else [])
    for phase, curves, dash in phases:
        for cell, norms in curves.items():
            name = f"{cell}, {phase}"
            fig.add_scatter(x=list(range(1, len(norms) + 1)), y=_positive(norms), mode="lines", name=name,
                            legendgroup=cell, line=dict(color=colours.get(cell), dash=dash),
                            hovertemplate="t = %{x}<br>%{y:.3g}<extra>" + name + "</extra>")
    _note_gaps(fig, [norms for _, curves, _ in phases for norms in curves.values()])
    title = "‖∂L/∂h_t‖ at initialisation" + (" (solid) and after training (dashed)" if after else "")
    _layout(fig, "time step t", "‖∂L/∂h_t‖", height=HEIGHT + 60)
    # The title above the legend, which wraps to two rows of three cells at half the page's width.
    return fig.update_layout(title=dict(text=title + ", same probe batch", font=dict(size=14), y=0.98,
                                        yanchor="top", yref="container"), margin=dict(t=100))


def snapshots_figure(steps: list[int], matrix: np.ndarray) -> go.Figure:
    """One ‖∂L/∂h_t‖ curve per training snapshot, dark (early) to light (late)."""
    fig = go.Figure()
    colours = sample_colorscale("Viridis", np.linspace(0, 1, max(len(steps), 2)).tolist())
    for i, step in enumerate(steps):
        fig.add_scatter(x=list(range(1, matrix.shape[1] + 1)), y=_positive(matrix[i]), mode="lines",
                        name=f"step {step}", line=dict(color=colours[i]),
                        hovertemplate=f"step {step}<br>t = %{{x}}<br>%{{y:.3g}}<extra></extra>")
    _note_gaps(fig, [matrix])
    return _layout(fig, "time step t", "‖∂L/∂h_t‖")


def steps_heatmap(steps: list[int], matrix: np.ndarray) -> go.Figure:
    """log₁₀ ‖∂L/∂h_t‖ as a heatmap: training steps down, time steps across."""
    z = np.log10(_positive(matrix))
    fig = go.Figure(go.Heatmap(z=z, x=list(range(1, matrix.shape[1] + 1)), y=[str(s) for s in steps],
                               colorscale="Magma", colorbar=dict(title="log₁₀"),
                               hovertemplate="step %{y}<br>t = %{x}<br>"
                                             "log₁₀‖∂L/∂h_t‖ = %{z:.2f}<extra></extra>"))
    fig.update_yaxes(type="category", autorange="reversed")
    _note_gaps(fig, [matrix])
    return _layout(fig, "time step t", "training step", log_y=False)


def clipping_figure(steps: list[int], raw: list[float], clipped: list[float], threshold: float | None) -> go.Figure:
    """The total gradient norm before and after clipping, over training steps."""
    fig = go.Figure()
    fig.add_scatter(x=steps, y=_positive(raw), mode="lines", name="raw ‖g‖", line=dict(color=palette.colour(0)))
    fig.add_scatter(x=steps, y=_positive(clipped), mode="lines", name="clipped ‖g‖",
                    line=dict(color=palette.colour(1), dash="dash", width=2.5))
    if threshold:
        fig.add_hline(y=threshold, line=dict(color="grey", dash="dot"), annotation_text="threshold")
    return _layout(fig, "training step", "total gradient norm", also=[threshold] if threshold else [])


def loss_figure(curves: dict[str, tuple[list[int], list[float]]], baseline: float | None = None) -> go.Figure:
    """Training loss over steps, one line per run; an optional dotted baseline (e.g. always answering the mean)."""
    fig = go.Figure()
    for i, (name, (steps, loss)) in enumerate(curves.items()):
        fig.add_scatter(x=steps, y=loss, mode="lines", name=name, line=dict(color=palette.colour(i)))
    if baseline is not None:
        fig.add_hline(y=baseline, line=dict(color="grey", dash="dot"), annotation_text="baseline")
    return _layout(fig, "training step", "training loss", log_y=False)
