"""Filter grids fit a 200 %-zoomed 1400 px window (about 636 px for content), with thin gaps (issue 18 review)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from engine.inspect import figures as figs

CONTENT_PX = 636  # 1400 px at 200 % zoom: 700 CSS px, less the page's padding


def _runs(mask: np.ndarray) -> list[tuple[bool, int]]:
    """(value, length) of each run of equal values."""
    out = []
    for v in mask:
        if out and out[-1][0] == v:
            out[-1] = (v, out[-1][1] + 1)
        else:
            out.append((bool(v), 1))
    return out


def _drawn(fig: go.Figure) -> np.ndarray:
    """Which cells of the picture belong to a filter (True) or a gap (False)."""
    z = np.asarray(fig.data[0].z, dtype=float)
    if isinstance(fig.data[0], go.Image):
        return np.ones(z.shape[:2], bool)  # see _gaps_of_rgb: gaps are white there
    return np.isfinite(z)


def _sizes_px(fig: go.Figure, drawn: np.ndarray) -> tuple[float, float, int]:
    """(a filter's side in px, the gap between two filters in px, columns of filters) along the top row."""
    m = fig.layout.margin
    unit = (fig.layout.width - m.l - m.r) / drawn.shape[1]
    runs = _runs(drawn[0])
    filters = [n for on, n in runs if on]
    gaps = [n for on, n in runs if not on]
    return filters[0] * unit, (gaps[0] * unit if gaps else 0.0), len(filters)


@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
@pytest.mark.parametrize("n", [6, 32, 64, 128])
def test_filter_grid_fits_a_zoomed_window_with_thin_gaps(kernel, n):
    w = np.random.default_rng(0).normal(size=(n, 2, kernel, kernel))
    fig = figs.filter_grid(w, max_filters=n)
    assert fig.layout.width <= CONTENT_PX
    side, gap, cols = _sizes_px(fig, _drawn(fig))
    assert side >= figs.MIN_FILTER_PX
    assert 1 <= gap <= 0.25 * side  # a thin line between filters, not a whole kernel cell
    rows = len([on for on, _ in _runs(_drawn(fig)[:, 0]) if on])
    assert rows * cols >= n


@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
@pytest.mark.parametrize("n", [6, 64, 128])
def test_rgb_filter_grid_fits_a_zoomed_window(kernel, n):
    w = np.random.default_rng(1).normal(size=(n, 3, kernel, kernel))
    fig = figs.filter_grid(w, rgb=True, max_filters=n)
    assert fig.layout.width <= CONTENT_PX
    image = np.asarray(fig.data[0].z)
    gaps = (image == 255).all(axis=-1)  # gaps are white; a random filter is never all white across a row
    side, gap, _ = _sizes_px(fig, ~gaps)
    assert side >= figs.MIN_FILTER_PX and 1 <= gap <= 0.25 * side


def test_resnet_mini_shortcut_fits():
    """resnet-mini's ``5.shortcut``: 1×1 kernels, drawn 814 px wide with 64 px gaps before the fix."""
    fig = figs.filter_grid(np.random.default_rng(2).normal(size=(64, 32, 1, 1)))
    assert fig.layout.width <= CONTENT_PX
