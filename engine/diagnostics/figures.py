"""Plotly figures of the diagnostics: histogram heat maps (log colour), one step's histograms side by side, mean and
spread per layer, update ratios, the learning-rate test, the loss line and the loss plane (contour and surface).

They take the series of ``diagnostics.series`` (or the results of ``lr_find``, ``loss_line``, ``loss_plane``);
layer names come from the user's network and are escaped (``engine.training.figures.text``)."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from engine import palette
from engine.diagnostics.series import QUANTITIES, RULE_OF_THUMB
from engine.training.figures import text as _text

_LAYOUT = dict(height=320, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white", font=dict(size=14),
               legend=dict(orientation="h", y=-0.25))


def _layout(title: str, height: int = _LAYOUT["height"], **axes) -> dict:
    axes = {"xaxis": {}, "yaxis": {}, **axes}
    return {"title": {"text": title}, **_LAYOUT, "height": height, **{k: palette.axis(**a) for k, a in axes.items()}}


def _fmt(v: float) -> str:
    return "0" if v == 0 else f"{v:.2g}"


def _bin_axis(edges: np.ndarray) -> tuple[np.ndarray, dict]:
    """Bin positions and axis ticks: the edges themselves when equal-width, else bin indices labelled with edges
    (symmetric log bins, drawn evenly so every decade shows)."""
    widths = np.diff(edges)
    if np.allclose(widths, widths[0]):
        return edges, {}
    ticks = list(range(0, len(edges), max(1, len(edges) // 8)))
    return np.arange(len(edges)) - 0.5, dict(tickvals=[t - 0.5 for t in ticks],
                                              ticktext=[_fmt(edges[t]) for t in ticks])


def _log_counts(counts: np.ndarray) -> tuple[np.ndarray, dict]:
    """log10(1 + count) and a colour bar labelled in counts (1, 10, 100, ...)."""
    z = np.log10(1 + np.asarray(counts, dtype=np.float64))
    top = max(1, math.ceil(z.max())) if z.size else 1
    ticks = list(range(0, top + 1))
    return z, dict(title=dict(text="count"), tickvals=[math.log10(1 + 10 ** t) if t else 0 for t in ticks],
                   ticktext=["0"] + [f"{10 ** t:,}" for t in ticks[1:]])


def heatmap_figure(series: dict | None, layer: str, quantity: str = "act") -> go.Figure:
    """One layer's histograms over training (``series.heatmap``): x = step, y = value, colour = log(count)."""
    fig = go.Figure(layout=_layout(f"{_text(layer)}: {QUANTITIES.get(quantity, quantity)} over training",
                                   xaxis={"title": {"text": "step"}}, yaxis={"title": {"text": "value"}}))
    if not series:
        return fig
    y, ticks = _bin_axis(series["edges"])
    z, bar = _log_counts(series["counts"].T)  # (bins, columns)
    fig.add_heatmap(x=series["steps"], y=y, z=z, colorscale=palette.SEQUENTIAL, colorbar=bar,
                    hovertemplate="step %{x}<br>log10(1+count) %{z:.2f}<extra></extra>")
    fig.update_yaxes(**ticks)
    return fig


def _panels(n: int, cols: int, gap: float = 0.04) -> tuple[list[tuple[str, str]], dict]:
    """Axis names and layout of an n-panel grid, built by hand: ``make_subplots`` took ~100 ms a redraw."""
    rows = max(1, math.ceil(n / cols))
    vgap = min(0.12, 0.3 / (rows - 1)) if rows > 1 else 0.0  # the gaps together never take more than 30%
    width, height = (1 - gap * (cols - 1)) / cols, (1 - vgap * (rows - 1)) / rows
    names, layout = [], {}
    for i in range(n):
        r, c = divmod(i, cols)
        k = "" if i == 0 else str(i + 1)
        x0, y1 = c * (width + gap), 1 - r * (height + vgap)
        layout[f"xaxis{k}"] = palette.axis(domain=[max(0.0, x0), min(1.0, x0 + width)], anchor=f"y{k}")
        layout[f"yaxis{k}"] = palette.axis(domain=[max(0.0, y1 - height), min(1.0, y1)], anchor=f"x{k}")
        names.append((f"x{k}", f"y{k}"))
    return names, layout


def step_figure(at: tuple[int, dict] | None, quantity: str = "act", columns: int = 5) -> go.Figure:
    """Every layer's histogram at one step side by side (``series.at_step``): the Glorot and Bengio figure."""
    if not at:
        return go.Figure(layout=_layout("No histograms recorded"))
    step, layers = at
    names = list(layers)
    cols = min(columns, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    axes, layout = _panels(len(names), cols)
    traces, titles = [], []
    for (xa, ya), name in zip(axes, names):
        h = layers[name]
        x, ticks = _bin_axis(h["edges"])
        traces.append(go.Bar(x=(x[:-1] + x[1:]) / 2, y=np.asarray(h["counts"]), width=np.diff(x), xaxis=xa, yaxis=ya,
                             marker_color=palette.colour(0), showlegend=False,
                             hovertemplate="%{y:,} values<extra></extra>"))
        if ticks:
            layout[f"xaxis{xa[1:]}"].update(ticks)
        domain_x, domain_y = layout[f"xaxis{xa[1:]}"]["domain"], layout[f"yaxis{ya[1:]}"]["domain"]
        titles.append(dict(text=_text(name), x=sum(domain_x) / 2, y=domain_y[1], xref="paper", yref="paper",
                           xanchor="center", yanchor="bottom", showarrow=False))
    layout.update(title={"text": f"{QUANTITIES.get(quantity, quantity).capitalize()} per layer at step {step}"},
                  height=220 * rows + 60, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white", bargap=0,
                  annotations=titles)
    return go.Figure(data=traces, layout=layout)


def moments_figure(moments: dict[str, dict], quantity: str = "act") -> go.Figure:
    """Mean (top) and standard deviation (bottom) per layer over training (``series.moments``)."""
    traces = []
    for i, (name, s) in enumerate(moments.items()):
        style = dict(color=palette.colour(i), width=1.5)
        steps = np.asarray(s["steps"], dtype=np.float64)
        traces.append(go.Scatter(x=steps, y=np.asarray(s["mean"], dtype=np.float64), mode="lines", name=_text(name),
                                 line=style, legendgroup=str(i)))
        traces.append(go.Scatter(x=steps, y=np.asarray(s["std"], dtype=np.float64), mode="lines", name=_text(name),
                                 line=style, legendgroup=str(i), showlegend=False, xaxis="x2", yaxis="y2"))
    title = f"{QUANTITIES.get(quantity, quantity).capitalize()}: mean (top) and standard deviation per layer"
    layout = dict(title={"text": title}, height=460, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white",
                  legend=dict(orientation="h", y=-0.15), font=dict(size=14),
                  xaxis=palette.axis(domain=[0, 1], anchor="y", matches="x2", showticklabels=False),
                  yaxis=palette.axis(domain=[0.55, 1], anchor="x", title={"text": "mean"}),
                  xaxis2=palette.axis(domain=[0, 1], anchor="y2", title={"text": "step"}),
                  yaxis2=palette.axis(domain=[0, 0.45], anchor="x2", title={"text": "std"}))
    return go.Figure(data=traces, layout=layout)


def update_ratio_figure(ratios: dict[str, dict]) -> go.Figure:
    """‖Δw‖/‖w‖ per layer over training on a log axis, with the rule of thumb (about 1e-3) as a dashed line."""
    values = [v for s in ratios.values() for v in s["ratio"] if v]
    fig = go.Figure(layout=_layout("Update-to-weight ratio ‖Δw‖/‖w‖ per layer (log scale)",
                                   xaxis={"title": {"text": "step"}},
                                   yaxis=palette.log_axis((values or [1e-4]) + [RULE_OF_THUMB])))
    for i, (name, s) in enumerate(ratios.items()):
        y = [v if v and v > 0 else None for v in s["ratio"]]
        fig.add_scatter(x=s["steps"], y=y, mode="lines", name=_text(name),
                        line=dict(color=palette.colour(i), width=1.5))
    fig.add_hline(y=RULE_OF_THUMB, line=dict(color="#666666", dash="dash", width=1.5),
                  annotation_text="≈ 1e-3: the usual rule of thumb", annotation_position="top left")
    return fig


def lr_find_figure(result) -> go.Figure:
    """The learning-rate test (``lr_find``): loss against η on a log axis, raw and smoothed, the suggestions marked."""
    x_axis = palette.log_axis(result.lrs, title={"text": "learning rate η"})
    # Up to 1.5× the smoothed curve's top: a raw spike near the end would otherwise flatten the curve that matters.
    low, high = min(result.losses + result.smoothed), max(result.smoothed)
    y_range = [min(0.0, low), high + 0.5 * max(high - min(0.0, low), 1e-12)]
    fig = go.Figure(layout=_layout("Learning-rate range test", xaxis=x_axis,
                                   yaxis={"title": {"text": "training loss"}, "range": y_range}))
    fig.add_scatter(x=result.lrs, y=result.losses, mode="lines", name="loss", line=dict(color="#bbbbbb", width=1))
    fig.add_scatter(x=result.lrs, y=result.smoothed, mode="lines", name="smoothed", line=palette.line("train"))
    picks = sorted(((result.suggestion, "steepest", palette.OKABE_ITO["vermillion"]),
                    (result.min_tenth, "minimum / 10", palette.OKABE_ITO["green"])))
    for (value, label, colour), side in zip(picks, ("right", "left")):
        fig.add_vline(x=value, line=dict(color=colour, dash="dot", width=1.5))
        # On a log axis an annotation's x is log10 of the value (add_vline's own label would land at 10^value);
        # the lower pick's label left of its line, the higher's right of it, so close picks stay readable.
        fig.add_annotation(x=math.log10(value), xref="x", y=1, yref="paper", yanchor="bottom", xanchor=side,
                           text=f"{label}: {value:.2g}", showarrow=False, font=dict(color=colour))
    return fig


def loss_line_figure(alphas, losses: dict[str, list[float]]) -> go.Figure:
    """The loss along the line from the initial (α = 0) to the trained weights (α = 1), one trace per batch
    ({"train": [...], "test": [...]})."""
    fig = go.Figure(layout=_layout("Loss along the line θ(α) = (1 − α)·θ₀ + α·θ₁",
                                   xaxis={"title": {"text": "α (0: initial weights, 1: trained)"}},
                                   yaxis={"title": {"text": "loss"}}))
    for role, values in losses.items():
        style = palette.line(role) if role in palette.SERIES else dict(width=2)
        fig.add_scatter(x=list(alphas), y=values, mode="lines", name=_text(role), line=style)
    for a, label in ((0.0, "initial"), (1.0, "trained")):
        fig.add_vline(x=a, line=dict(color="#888888", dash="dot", width=1), annotation_text=label)
    return fig


def _plane_z(plane) -> np.ndarray:
    return np.asarray(plane.losses, dtype=np.float64).T  # rows: β, columns: α


def loss_plane_figure(plane) -> go.Figure:
    """The loss plane as a contour map (``loss_plane``), the trained point (0, 0) marked, with the trajectory when
    the directions are principal ones (its start marked, each axis titled with the share of the variance it
    explains)."""
    z = _plane_z(plane)
    shares = [f", {e:.0%} of the variance" for e in plane.explained] if plane.explained else ["", ""]
    fig = go.Figure(layout=_layout("Loss around the trained weights",
                                   xaxis={"title": {"text": f"α (direction 1{shares[0]})"}},
                                   yaxis={"title": {"text": f"β (direction 2{shares[1]})"}}, height=460))
    fig.add_contour(x=plane.alphas, y=plane.betas, z=z, colorscale=palette.SEQUENTIAL, colorbar=dict(title="loss"),
                    contours=dict(showlabels=True),
                    hovertemplate="α %{x:.3g}, β %{y:.3g}<br>loss %{z:.4g}<extra></extra>")
    if plane.trajectory:
        fig.add_scatter(x=[p[0] for p in plane.trajectory], y=[p[1] for p in plane.trajectory], mode="lines+markers",
                        name="trajectory", line=dict(color="white", width=2),
                        marker=dict(size=6, color="white", line=dict(color="black", width=1)))  # seen in the legend
        fig.add_scatter(x=[plane.trajectory[0][0]], y=[plane.trajectory[0][1]], mode="markers", name="start",
                        marker=dict(symbol="circle", size=13, color="white", line=dict(color="black", width=2)))
    fig.add_scatter(x=[0], y=[0], mode="markers", name="trained", marker=dict(symbol="x", size=14,
                                                                              color=palette.OKABE_ITO["vermillion"]))
    return fig


def loss_surface_figure(plane) -> go.Figure:
    """The loss plane as a 3-D surface, the trained point marked."""
    z = _plane_z(plane)
    fig = go.Figure(layout=dict(title={"text": "Loss surface around the trained weights"}, height=520,
                                margin=dict(l=0, r=0, t=40, b=0),
                                scene=dict(xaxis_title="α", yaxis_title="β", zaxis_title="loss")))
    fig.add_surface(x=plane.alphas, y=plane.betas, z=z, colorscale=palette.SEQUENTIAL, showscale=False)
    fig.add_scatter3d(x=[0], y=[0], z=[plane.centre], mode="markers", name="trained",
                      marker=dict(size=6, color=palette.OKABE_ITO["vermillion"]))
    return fig
