"""Plotly figures for training: curves from metric records, gradient norms, decision boundaries, confusion matrices,
an autoencoder's reconstructions."""
from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go

from engine import palette
from engine.inspect.figures import grey_grid

MAX_POINTS = 250  # per trace: the figure is rebuilt and resent twice a second, so it must stay small


def thin(records: list[dict], max_points: int = MAX_POINTS) -> list[dict]:
    """Evenly spaced records, at most ``max_points``, always ending with the latest one."""
    if len(records) <= max_points:
        return records
    stride = len(records) / max_points
    picked = [records[int(i * stride)] for i in range(max_points - 1)]
    return picked + [records[-1]]


# Per-step traces are numpy arrays: they travel as base64 binary in the figure JSON, where a list costs about twice
# the bytes and more time to validate and to hash on every redraw.
def _epochs(records: list[dict]) -> np.ndarray:
    """The x of a per-step trace, as float32 (ample for a position on the epoch axis)."""
    return np.array([r["epoch"] for r in records], dtype=np.float32)


_LAYOUT = dict(height=300, margin=dict(l=10, r=10, t=36, b=10), legend=dict(orientation="h", y=-0.25),
               plot_bgcolor="white", font=dict(size=14))


# Nested dicts rather than update_layout's "xaxis_title" shorthand, which plotly parses for about 3 ms a figure (six
# times the nested form's cost), on every tick.
def _text(label: str) -> str:
    """A user's string (a name, a run label) as Plotly text: legends and hovers render a little HTML, and
    hover templates fill in %{…}."""
    return html.escape(str(label)).replace("%{", "%&#123;")


text = _text  # public: other packages' figures escape user strings the same way


def _live_layout(title: str, **axes) -> dict:
    """The common layout of a figure redrawn on every tick, with its title and axes."""
    axes = {"xaxis": {}, "yaxis": {}, **axes}
    return {"title": {"text": title}, **_LAYOUT, **{name: palette.axis(**a) for name, a in axes.items()}}


def curves_figure(runs: dict[str, list[dict]], metric: str = "loss", epoch_mean: bool = False) -> go.Figure:
    """Train (per step) and validation (per epoch) curves of one or several runs on one chart.

    Each role keeps its dash (and marker) from ``palette.SERIES``; one run takes the roles' colours, several
    runs a colour each, so that runs and roles both stay apart.

    Args:
        runs: run label → its metric records (``Trainer.records()``).
        metric: "loss" or "acc".
        epoch_mean: also draw the training value averaged over each epoch (from the epoch records).

    Returns:
        A figure with x = epoch (fractional for steps).
    """
    title = "Loss" if metric == "loss" else "Accuracy"
    yaxis = {"yaxis": {"range": [0, 1.02]}} if metric == "acc" else {}
    fig = go.Figure(layout=_live_layout(title, xaxis={"title": {"text": "epoch"}}, **yaxis))
    several = len(runs) > 1
    for i, (label, records) in enumerate(runs.items()):
        colour = palette.colour(i) if several else None
        steps = thin([r for r in records if r.get("kind") == "step" and r.get(f"train_{metric}") is not None])
        epochs = [r for r in records if r.get("kind") == "epoch" and r.get(f"val_{metric}") is not None]
        prefix = f"{_text(label)} · " if several else ""
        fig.add_scatter(x=_epochs(steps), y=np.array([r[f"train_{metric}"] for r in steps], dtype=float),
                        mode="lines", name=f"{prefix}train", line=palette.line("train", 1.5, colour))
        fig.add_scatter(x=[r["epoch"] for r in epochs], y=[r[f"val_{metric}"] for r in epochs], mode="lines+markers",
                        name=f"{prefix}validation", line=palette.line("validation", 2.5, colour),
                        marker=dict(symbol="circle", size=8))
        means = [r for r in records if r.get("kind") == "epoch" and r.get(f"train_{metric}") is not None]
        if epoch_mean and means:
            fig.add_scatter(x=[r["epoch"] for r in means], y=[r[f"train_{metric}"] for r in means],
                            mode="lines+markers", name=f"{prefix}train (epoch mean)",
                            line=palette.line("train epoch mean", 2.5, colour), marker=dict(symbol="square", size=8))
    return fig


def grad_norms_figure(records: list[dict]) -> go.Figure:
    """Per-layer gradient norms over training, log scale (labels at powers of ten), a colour per layer."""
    steps = thin([r for r in records if r.get("kind") == "step" and r.get("grad_norm")])
    names = list(steps[-1]["grad_norm"]) if steps else []
    raw = [np.array([r["grad_norm"].get(name, 0) for r in steps], dtype=np.float64) for name in names]
    ys = [np.maximum(y, 1e-12).astype(np.float32) for y in raw]  # a zero drawn at 1e-12: a log axis has no 0
    # the range from the real (positive) norms only: the raised zeros would stretch it down to 1e-12
    fig = go.Figure(layout=_live_layout("Gradient norm per layer (log scale)", xaxis={"title": {"text": "epoch"}},
                                        yaxis=palette.log_axis([y[y > 0] for y in raw] or None)))
    for i, (name, y) in enumerate(zip(names, ys)):
        fig.add_scatter(x=_epochs(steps), y=y, mode="lines", name=name, line=dict(color=_colour(i), width=1.5))
    return fig


def boundary_figure(grid: dict, x: np.ndarray, y: np.ndarray, classes: list[str]) -> go.Figure:
    """Decision regions of a 2-D classifier (predicted class, shaded by confidence) with the data points."""
    probs = grid["probs"]  # (n, n, C)
    winner = probs.argmax(-1)
    confidence = probs.max(-1)
    n_classes = probs.shape[-1]
    # One heatmap: class index + confidence in [0, 1) so each class gets its own colour band.
    z = (winner + 0.999 * (confidence - 1 / n_classes) / (1 - 1 / n_classes + 1e-9)).astype(np.float32)
    scale = []
    for c in range(n_classes):
        lo, hi = c / n_classes, (c + 1) / n_classes
        scale += [[lo, _tint(_colour(c), 0.9)], [hi, _tint(_colour(c), 0.35)]]
    layout = {**_live_layout("Decision boundary (test points)", yaxis={"scaleanchor": "x", "scaleratio": 1}),
              "height": 360}
    fig = go.Figure(go.Heatmap(x=grid["xs"], y=grid["ys"], z=z, zmin=0, zmax=n_classes, colorscale=scale,
                               showscale=False, hoverinfo="skip"), layout=layout)
    for c in range(n_classes):
        pts = x[y == c]
        fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=classes[c] if c < len(classes) else str(c),
                        marker=dict(color=_colour(c), size=5, line=dict(color="white", width=0.5)))
    return fig


def confusion_figure(confusion: np.ndarray, classes: list[str]) -> go.Figure:
    """Rows: true class; columns: predicted class; counts written in the cells."""
    labels = classes if len(classes) == len(confusion) else [str(i) for i in range(len(confusion))]
    fig = go.Figure(go.Heatmap(z=confusion, x=labels, y=labels, colorscale="Blues", showscale=False,
                               text=confusion, texttemplate="%{text}" if len(labels) <= 20 else None))
    fig.update_layout(title="Confusion matrix (test)", xaxis_title="predicted", yaxis_title="true",
                      **{**_LAYOUT, "height": 380})
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig


SAMPLES_PX = 460  # the width a misclassified-samples grid is drawn at (half the main area beside the sidebar, 1400 px)


def samples_figure(images: np.ndarray, titles: list[str], columns: int | None = None) -> go.Figure:
    """A grid of grey images (N, H, W) in one heatmap with NaN gaps, each titled above it in dark 15 px text
    (e.g. "7 → 1"); fewer columns when titles are long, so that neighbours' titles do not run together."""
    n, h, w = images.shape
    columns = columns or (8 if max((len(t) for t in titles), default=0) <= 7 else 4)
    rows = (n + columns - 1) // columns
    px = SAMPLES_PX / (columns * (w + 1))  # screen px per image pixel at the usual width
    band = max(2, math.ceil(32 / px))  # an empty band above each image, about 32 px high, holds its title
    mosaic = np.full((rows * (band + h), columns * (w + 1)), np.nan)
    for i in range(n):
        r, c = divmod(i, columns)
        top = r * (band + h) + band
        mosaic[top:top + h, c * (w + 1):c * (w + 1) + w] = images[i]
    fig = go.Figure(go.Heatmap(z=mosaic, colorscale="Greys", reversescale=True, showscale=False, hoverinfo="skip"))
    for i, title in enumerate(titles):
        r, c = divmod(i, columns)
        fig.add_annotation(x=c * (w + 1) + w / 2 - 0.5, y=r * (band + h) + band / 2, text=title, showarrow=False,
                           font=dict(size=15, color="#222222"), yanchor="middle")
    fig.update_yaxes(autorange="reversed", visible=False, scaleanchor="x")
    fig.update_xaxes(visible=False)
    fig.update_layout(title="Misclassified test samples (true → predicted)",
                      height=round(60 + rows * (band + h) * px), margin=dict(l=10, r=10, t=50, b=10),
                      plot_bgcolor="white")
    return fig


def _colour(i: int) -> str:
    return palette.colour(i)


def _tint(hex_colour: str, amount: float) -> str:
    """Mix a colour with white: amount 1 is white."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    mix = [round(v + (255 - v) * amount) for v in (r, g, b)]
    return f"rgb({mix[0]},{mix[1]},{mix[2]})"


def class_curves_figure(students: dict[str, tuple[str, list[tuple[str, dict]]]], metric: str = "loss") -> go.Figure:
    """Several students' runs on one chart: a colour per student, the hover naming student and run.

    Args:
        students: member key → (the name shown, [(run label, per-epoch curves {"epoch": [...], "val_loss": [...],
            ...})]): keyed by member, so two students of the same name stay two entries.
        metric: "loss" or "acc": each run's validation curve (its training curve where it has none).

    Returns:
        A figure with x = epoch.
    """
    title = "Validation loss" if metric == "loss" else "Validation accuracy"
    students = {key: (_text(name), [(_text(label), epochs) for label, epochs in runs])
                for key, (name, runs) in students.items()}  # names and labels come from users: shown as text
    yaxis = {"yaxis": {"range": [0, 1.02]}} if metric == "acc" else {}
    fig = go.Figure(layout=_live_layout(title, xaxis={"title": {"text": "epoch"}}, **yaxis))
    for i, (key, (student, runs)) in enumerate(students.items()):
        for j, (label, epochs) in enumerate(runs):
            y = epochs.get(f"val_{metric}") or epochs.get(f"train_{metric}")
            if not y or not any(v is not None for v in y):
                continue
            x, y = _thin_pair(epochs["epoch"], y)
            fig.add_scatter(x=x, y=y, mode="lines+markers" if len(x) <= 60 else "lines", name=student, legendgroup=key,
                            showlegend=j == 0, line=dict(color=_colour(i), width=2),
                            hovertemplate=f"{student} · {label}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>")
    return fig


def _thin_pair(x: list, y: list, max_points: int = MAX_POINTS) -> tuple[list, list]:
    """A curve's x and y at most ``max_points`` long, evenly spaced, its last point kept (as ``thin``)."""
    n = min(len(x), len(y))
    kept = thin(list(range(n)), max_points)
    return [x[i] for i in kept], [y[i] for i in kept]


def reconstruction_figure(originals: np.ndarray, reconstructions: np.ndarray) -> go.Figure:
    """Test images (top row) over the autoencoder's reconstructions of them (bottom row), from
    ``engine.inspect.autoencoder.reconstructions``."""
    n = len(originals)
    return grey_grid(np.concatenate([originals, reconstructions]), n, "Test images and their reconstructions",
                     row_labels=["original", "reconstruction"])
