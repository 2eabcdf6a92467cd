"""Plotly figures for the Inspect page: feature-map mosaics, filter grids, attribution overlays, top-k bars.

Many small maps are drawn as ONE heatmap with NaN gaps between tiles (one trace: about 3 ms for 64
maps), never as a grid of subplots. Heatmap values go out as float32 and a mosaic's "map k" hover
as one byte per cell: every rerun resends (and Streamlit hashes) each figure's whole JSON.
"""
from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go

from engine import palette

SIGNED = palette.DIVERGING  # blue negative, white zero, vermillion positive
MAX_MAPS = 64
VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥"}  # characters that would draw as nothing


def visible(ch: str) -> str:
    """A character as drawn in labels: space, newline and tab as ␣, ⏎ and ⇥."""
    return VISIBLE.get(ch, ch)


def tile(maps: np.ndarray, cols: int | None = None, gap: int = 1) -> np.ndarray:
    """Lay ``(N, h, w)`` maps out in a grid, NaN between tiles and in empty cells.

    Returns:
        ``(rows·(h+gap)−gap, cols·(w+gap)−gap)`` float array.
    """
    maps = np.asarray(maps, dtype=np.float64)
    n, h, w = maps.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = maps[k]
    return out


def _image_layout(fig: go.Figure, title: str | None, height: int | None, width_px: int | None = None) -> go.Figure:
    fig.update_layout(title=title, height=height, width=width_px, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      plot_bgcolor="white")
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")  # row 0 at the top, square pixels
    return fig


def _symmetric(z: np.ndarray) -> float:
    finite = np.abs(z[np.isfinite(z)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def mosaic(maps: np.ndarray, title: str | None = None, max_maps: int = MAX_MAPS, cols: int | None = None,
           signed: bool | None = None, height: int | None = None) -> go.Figure:
    """Feature maps ``(N, h, w)`` as one heatmap with gaps; at most ``max_maps`` are drawn.

    Signed values get a diverging scale centred on 0; non-negative ones (after ReLU) a sequential scale.
    """
    maps = np.asarray(maps)[:max_maps]
    z = tile(maps, cols)
    signed = bool(np.nanmin(z) < 0) if signed is None else signed
    scale = dict(colorscale=SIGNED, zmid=0) if signed else dict(colorscale=palette.SEQUENTIAL)
    n = len(maps)
    index = np.nan_to_num(tile(np.broadcast_to(np.arange(n)[:, None, None], maps.shape), cols))  # each cell's map
    index = index.astype(np.uint8 if n <= 256 else np.uint16)  # a typed array, not a string per cell
    fig = go.Figure(go.Heatmap(z=z.astype(np.float32), customdata=index,
                               hovertemplate="map %{customdata}: %{z:.3g}<extra></extra>", hoverongaps=False, **scale))
    return _image_layout(fig, title, height or min(700, 120 + 18 * z.shape[0]))


def activation_figure(array: np.ndarray, title: str | None = None, max_maps: int = MAX_MAPS) -> go.Figure:
    """One layer's output for one sample: a mosaic for ``(C, H, W)``, a heatmap for ``(T, F)``, a strip for ``(F,)``."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 3:
        return mosaic(a, title, max_maps)
    if a.ndim == 2:
        return time_heatmap(a, title, y_label="feature")
    side = max(1, math.ceil(math.sqrt(a.size)))  # a vector folded into a near-square for a compact view
    padded = np.full(side * side, np.nan)
    padded[:a.size] = a
    return mosaic(padded.reshape(1, side, side), title, 1)


FILTER_PX = 64  # a filter's drawn side when there is room; never under MIN_FILTER_PX, which reads from a lecture hall
MIN_FILTER_PX = 48
MAX_FIGURE_PX = 630  # the figure's widest: a 1400 px window at 200 % zoom leaves about 636 px for content
GAP = 0.15  # the gap between two filters, as a share of a filter's side
_BAR_PX = 100  # right margin holding the colour bar and its labels


def _grid_plan(n: int, kh: int, kw: int, overhead: int) -> tuple[int, int, float]:
    """(columns, sub-cells per kernel cell, px per sub-cell) for ``n`` filters of ``kh×kw`` in ``MAX_FIGURE_PX``.

    Each kernel cell is drawn as ``s×s`` sub-cells and filters are one sub-cell apart, so that the gap is about
    ``GAP`` of a filter whatever the kernel (one whole cell of a 1×1 kernel would be as wide as the filter).
    Columns drop below the near-square count until each filter keeps ``MIN_FILTER_PX``: more rows, never wider.
    """
    side = max(kh, kw)
    s = max(1, round(1 / (GAP * side)))
    budget = MAX_FIGURE_PX - overhead
    cols = max(1, math.ceil(math.sqrt(n)))
    while True:
        unit = min(FILTER_PX / (side * s), budget / (cols * kw * s + cols - 1))
        if unit * side * s >= MIN_FILTER_PX or cols == 1:
            return cols, s, unit
        cols -= 1


def _upsample(maps: np.ndarray, s: int) -> np.ndarray:
    """Each cell of ``(..., h, w)`` maps repeated ``s×s`` times."""
    return maps.repeat(s, axis=-2).repeat(s, axis=-1) if s > 1 else maps


def filter_grid(weights: np.ndarray, title: str | None = None, rgb: bool = False, channel: int = 0,
                max_filters: int = MAX_MAPS) -> go.Figure:
    """Conv kernels ``(out, in, kh, kw)`` as a grid of filters, each at least ``MIN_FILTER_PX`` wide, that fits
    ``MAX_FIGURE_PX`` (near-square when it fits, else more rows), with thin gaps between filters.

    Args:
        weights: the kernels.
        rgb: draw each 3-channel filter as one colour tile (for a first layer on RGB images), scaled from the
            smallest weight (black) to the largest (white).
        channel: the input channel drawn for multi-channel filters (one kernel slice per filter).
        max_filters: filters drawn at most.

    Returns:
        One heatmap on a colour scale shared by every filter and channel, symmetric about 0 (white), with the
        figure's width and height set so that each filter is drawn at a known size.
    """
    w = np.asarray(weights, dtype=np.float64)[:max_filters]
    out, inp, kh, kw = w.shape
    top = 40
    if rgb and inp == 3:
        cols, s, unit = _grid_plan(out, kh, kw, 20)
        rows = math.ceil(out / cols)
        grid_w, grid_h = cols * (kw * s + 1) - 1, rows * (kh * s + 1) - 1  # in sub-cells, one-sub-cell gaps
        lo, hi = w.min(), w.max()
        norm = _upsample((w - lo) / (hi - lo or 1.0), s)  # (O, 3, kh·s, kw·s) in [0, 1]
        channels = np.stack([tile(norm[:, c], cols) for c in range(3)], axis=-1)  # (H, W, 3), NaN gaps
        image = np.where(np.isnan(channels), 1.0, channels)
        fig = go.Figure(go.Image(z=(image * 255).astype(np.uint8), hoverinfo="skip"))
        fig = _image_layout(fig, title or f"{out} filters, as RGB", round(grid_h * unit) + top + 10)
        fig.update_layout(width=round(grid_w * unit) + 20, margin=dict(l=10, r=10, t=top, b=10))
        return fig
    cols, s, unit = _grid_plan(out, kh, kw, 10 + _BAR_PX)
    rows = math.ceil(out / cols)
    grid_w, grid_h = cols * (kw * s + 1) - 1, rows * (kh * s + 1) - 1
    channel = min(max(int(channel), 0), inp - 1)
    m = _symmetric(w)  # over every filter and channel: one scale whichever channel is shown
    z = tile(_upsample(w[:, channel], s), cols)
    index = np.nan_to_num(tile(np.broadcast_to(np.arange(out)[:, None, None], (out, kh * s, kw * s)), cols))
    index = index.astype(np.uint8 if out <= 256 else np.uint16)
    fig = go.Figure(go.Heatmap(z=z.astype(np.float32), customdata=index, zmin=-m, zmax=m, zmid=0,
                               colorscale=palette.DIVERGING, colorbar=dict(title="weight", thickness=18),
                               hovertemplate="filter %{customdata}: %{z:.3g}<extra></extra>", hoverongaps=False))
    if title is None:
        title = f"{out} filters" + (f", input channel {channel} (of {inp})" if inp > 1 else "")
    fig = _image_layout(fig, title, round(grid_h * unit) + top + 10)
    fig.update_layout(width=round(grid_w * unit) + 10 + _BAR_PX, margin=dict(l=10, r=_BAR_PX, t=top, b=10),
                      font=dict(size=14), plot_bgcolor="#c8c8c8")  # grey gaps: a near-0 (white) filter keeps its edge
    return fig


def histogram(values: np.ndarray, title: str | None = None, bins: int = 50) -> go.Figure:
    """A histogram of weights (or any values)."""
    fig = go.Figure(go.Histogram(x=np.asarray(values).ravel(), nbinsx=bins, marker_color="#6fa8dc"))
    fig.update_layout(title=title, height=260, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis_title="value", yaxis_title="count", bargap=0.02)
    return fig


_UNDER = [[0.0, "#ffffff"], [1.0, "#5a5a5a"]]  # an input under an overlay: grey ink on white, so colour reads on it


def _base_image(x: np.ndarray, under: bool = False):
    """The input as a trace: grey heatmap for 1 channel, an RGB image for 3, the channel mean otherwise;
    ``under`` an overlay: light (high values grey on white), so that the attribution's colours stay legible."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[0] == 3:
        lo, hi = x.min(), x.max()
        rgb = ((x - lo) / (hi - lo or 1.0)).transpose(1, 2, 0)  # (3, H, W) -> (H, W, 3)
        return go.Image(z=(rgb * 255).astype(np.uint8), hoverinfo="skip")
    grey = x.mean(axis=0) if x.ndim == 3 else x
    if under:
        return go.Heatmap(z=grey, colorscale=_UNDER, showscale=False, hoverinfo="skip")
    return go.Heatmap(z=grey, colorscale="Greys", reversescale=True, showscale=False, hoverinfo="skip")


def input_figure(x: np.ndarray, title: str | None = None) -> go.Figure:
    """The input on its own: an image for ``(C, H, W)``, one line per feature for ``(T, F)``, bars for ``(F,)``."""
    x = np.asarray(x, dtype=np.float64)
    title = html.escape(title) if title else title  # it may hold an upload's file name: Plotly renders HTML
    if x.ndim == 3:
        fig = go.Figure(_base_image(x))
        if x.shape[0] != 3:
            fig.data[0].hovertemplate, fig.data[0].hoverinfo = "row %{y}, col %{x}: %{z:.3g}<extra></extra>", None
        return _image_layout(fig, title, 300, 300)
    if x.ndim == 2:
        fig = go.Figure([go.Scatter(y=x[:, f], mode="lines+markers", name=f"feature {f}") for f in range(x.shape[1])])
        fig.update_layout(xaxis_title="time step", yaxis_title="value")
    else:
        fig = go.Figure(go.Bar(x=[f"x{i + 1}" for i in range(x.size)], y=x.ravel()))
        fig.update_layout(xaxis_title="input", yaxis_title="value")
    fig.update_layout(title=title, height=260, margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    return fig


OVERLAY_OPACITY = 0.8  # the attribution's opacity over the input, unless the student sets another


def overlay(x: np.ndarray, attribution: np.ndarray, title: str | None = None, opacity: float = OVERLAY_OPACITY,
            signed: bool | None = None) -> go.Figure:
    """An attribution heatmap over the input image, with its colour scale; 0 is transparent (the input shows).

    Args:
        x: the input ``(C, H, W)`` (or ``(H, W)``).
        attribution: same shape as ``x`` (summed over channels) or ``(H, W)``.
        opacity: of the heatmap over the image, 0 to 1.
        signed: a diverging scale symmetric about 0 (blue negative, vermillion positive); else a sequential
            one from 0 (magnitudes, e.g. Saliency's |gradient|). By default signed when any value is negative.
    """
    a = np.asarray(attribution, dtype=np.float64)
    a = a.sum(axis=0) if a.ndim == 3 else a
    signed = bool(a.min() < 0) if signed is None else signed
    m = _symmetric(a)
    scale = dict(colorscale=palette.DIVERGING_CLEAR, zmid=0, zmin=-m, zmax=m) if signed else \
        dict(colorscale=palette.SEQUENTIAL_CLEAR, zmin=0, zmax=m)
    heat = go.Heatmap(z=a, opacity=float(np.clip(opacity, 0.0, 1.0)),
                      hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>",
                      colorbar=dict(title="attribution"), **scale)
    fig = go.Figure([_base_image(x, under=True), heat])
    return _image_layout(fig, title, 420)


def topk_bars(predictions: list[tuple[str, float]], true_label: str | None = None,
              title: str | None = None) -> go.Figure:
    """The top-k probabilities as horizontal bars, most probable on top; the true class in green.

    Space, newline and tab class names (character models) are drawn as ␣, ⏎ and ⇥.
    """
    names = [visible(str(n)) for n, _ in predictions]
    true_label = None if true_label is None else visible(str(true_label))
    probs = [p for _, p in predictions]
    colours = ["#2ca02c" if true_label is not None and n == str(true_label) else "#6fa8dc" for n in names]
    fig = go.Figure(go.Bar(x=probs, y=names, orientation="h", marker_color=colours,
                           text=[f"{p:.1%}" for p in probs], textposition="auto"))
    fig.update_layout(title=title, height=80 + 28 * len(names), margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis=dict(range=[0, 1], title="probability"), yaxis=dict(autorange="reversed", type="category"))
    return fig


def time_heatmap(states: np.ndarray, title: str | None = None, y_label: str = "unit", zmin=None, zmax=None,
                 colorscale: str | None = None, x_labels: list[str] | None = None) -> go.Figure:
    """States over time ``(T, H)`` as units × steps; ``x_labels`` (e.g. the input characters) name the steps."""
    z = np.asarray(states, dtype=np.float32).T  # (T, H) -> (H, T): time runs left to right
    scale = dict(colorscale=colorscale or SIGNED, zmin=zmin, zmax=zmax)
    if colorscale is None and zmin is None:
        scale.update(zmid=0)
    fig = go.Figure(go.Heatmap(z=z, hovertemplate=f"step %{{x}}, {y_label} %{{y}}: %{{z:.3g}}<extra></extra>",
                               **scale))
    fig.update_layout(title=title, height=min(600, 140 + 6 * z.shape[0]),
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis_title="time step", yaxis_title=y_label)
    if x_labels is not None:
        fig.update_xaxes(tickmode="array", tickvals=list(range(len(x_labels))),
                         ticktext=[visible(c) for c in x_labels], title="input character")
    return fig


def gates_figures(gates: dict[str, np.ndarray], where: str = "",
                  x_labels: list[str] | None = None) -> dict[str, go.Figure]:
    """One units × steps heatmap per LSTM gate (input, forget, output), on the gates' own [0, 1] scale.

    ``where`` (e.g. "layer 2 of 2, forward") is added to each title.
    """
    return {name: time_heatmap(gates[name], f"{name} gate" + (f" ({where})" if where else ""), zmin=0, zmax=1,
                               colorscale=palette.SEQUENTIAL, x_labels=x_labels)
            for name in ("input", "forget", "output") if name in gates}


def coloured_text(chars: list[str], scores: np.ndarray, title: str | None = None, per_line: int = 40) -> go.Figure:
    """Characters on cells coloured by their score (diverging, centred on 0), wrapped every ``per_line``."""
    s = np.asarray(scores, dtype=np.float64)
    n = len(chars)
    rows = max(1, math.ceil(n / per_line))
    z = np.full((rows, min(n, per_line) or 1), np.nan)
    text = np.full(z.shape, "", dtype=object)
    for k, ch in enumerate(chars):
        r, c = divmod(k, per_line)
        z[r, c] = s[k]
        text[r, c] = visible(ch)
    m = _symmetric(z)
    fig = go.Figure(go.Heatmap(z=z, text=text, texttemplate="%{text}", textfont=dict(size=16), colorscale=SIGNED,
                               zmid=0, zmin=-m, zmax=m, xgap=2, ygap=2, hoverongaps=False,
                               hovertemplate="%{text}: %{z:.3g}<extra></extra>", colorbar=dict(title="share")))
    fig.update_layout(title=title, height=90 + 36 * rows, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      plot_bgcolor="white")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    return fig


def grey_grid(images: np.ndarray, cols: int, title: str | None = None, row_labels: list[str] | None = None) -> go.Figure:
    """Grey images ``(N, 1, H, W)`` or ``(N, H, W)`` in one heatmap, ``cols`` a row, ink dark on white; each row
    named on the left (e.g. "original", "reconstruction")."""
    images = np.asarray(images, dtype=np.float32)
    images = images.reshape(len(images), *images.shape[-2:])  # (N, H, W): one channel
    z = tile(images, cols)
    fig = go.Figure(go.Heatmap(z=z.astype(np.float32), colorscale="Greys", zmin=0, zmax=1, showscale=False,
                               hovertemplate="%{z:.2f}<extra></extra>", hoverongaps=False))
    h = images.shape[1]
    for r, label in enumerate(row_labels or []):
        fig.add_annotation(x=-0.5, y=r * (h + 1) + h / 2 - 0.5, text=label, showarrow=False, xanchor="right",
                           font=dict(size=11))
    rows = math.ceil(len(images) / cols)
    fig = _image_layout(fig, title, 60 + rows * 90)
    fig.update_layout(margin=dict(l=110 if row_labels else 10, r=10, t=40 if title else 10, b=10))
    return fig


def code_scatter(xy: np.ndarray, labels: np.ndarray | None, classes: list[str], explained: np.ndarray | None = None,
                 title: str = "Codes at the bottleneck (PCA)") -> go.Figure:
    """The 2-D PCA of the codes, one colour (and legend entry) per class."""
    xy = np.asarray(xy, dtype=np.float32)
    fig = go.Figure()
    groups = [(None, np.ones(len(xy), bool))] if labels is None else [
        (c, np.asarray(labels) == c) for c in range(len(classes))]
    for c, mask in groups:
        name = "samples" if c is None else classes[c]
        fig.add_trace(go.Scattergl(x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=name,
                                   marker=dict(size=5, opacity=0.75),
                                   hovertemplate=f"{name}<br>PC1 %{{x:.3g}}, PC2 %{{y:.3g}}<extra></extra>"))
    share = [f" ({100 * e:.0f}% of the variance)" for e in explained] if explained is not None else ["", ""]
    fig.update_layout(title=title, height=460, margin=dict(l=10, r=10, t=40, b=10), legend=dict(itemsizing="constant"))
    fig.update_xaxes(title=f"PC1{share[0]}")
    fig.update_yaxes(title=f"PC2{share[1]}", scaleanchor="x")
    return fig


def interpolation_figure(images: np.ndarray, title: str = "Decoded along the line between two codes") -> go.Figure:
    """The decoded images of ``autoencoder.interpolate`` in one row, from the first sample to the second."""
    return grey_grid(images, len(images), title)


__all__ = ["tile", "mosaic", "activation_figure", "filter_grid", "histogram", "input_figure", "overlay", "topk_bars",
           "visible", "grey_grid", "code_scatter", "interpolation_figure",
           "time_heatmap", "gates_figures", "coloured_text", "MAX_MAPS"]


def drawing_canvas(grid: np.ndarray, side_px: int = 360, revision: int = 0, dragmode: str = "pan") -> go.Figure:
    """A drawing grid (ink 0..1, ``(h, w)``) as one square marker per cell, so cells can be clicked, boxed or lassoed.

    Heatmaps take no box or lasso selection in Plotly; scatter points do. Selected and unselected
    cells keep full opacity (Plotly dims unselected points by default, which would hide the drawing).
    ``revision`` is written into the figure so that every new drawing is a new chart for Streamlit,
    whose selection then starts empty again (and the chart is redrawn with ``dragmode``).
    ``dragmode``: "pan" (axes are fixed, so dragging does nothing and a click selects one cell),
    "lasso" or "select" (a box); in those two Plotly ignores single clicks.
    """
    grid = np.asarray(grid, dtype=np.float64)
    height, width = grid.shape
    rows, cols = np.indices(grid.shape)
    margin = 6
    cell_px = (side_px - 2 * margin) / max(height, width)
    fig = go.Figure(go.Scatter(
        x=cols.ravel(), y=rows.ravel(), mode="markers", customdata=grid.ravel(),
        marker=dict(symbol="square", size=cell_px * 0.94, color=grid.ravel(), colorscale="Greys", cmin=0, cmax=1,
                    line=dict(width=1, color="#d0d0d0")),
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1)),
        hovertemplate="row %{y}, col %{x}: ink %{customdata:.2f}<extra></extra>"))
    fig.update_layout(width=round(cell_px * width + 2 * margin), height=round(cell_px * height + 2 * margin),
                      margin=dict(l=margin, r=margin, t=margin, b=margin), plot_bgcolor="white", dragmode=dragmode,
                      showlegend=False, meta=dict(revision=revision))
    fig.update_xaxes(visible=False, range=[-0.5, width - 0.5], fixedrange=True)
    fig.update_yaxes(visible=False, range=[height - 0.5, -0.5], fixedrange=True)  # row 0 at the top
    return fig
