"""Inspect figures that must read on a projector: the filter grid, the attribution overlay (issue 18)."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from engine import palette
from engine.inspect import figures as figs

PAGE_PX = 1400  # the teacher's window


def _run(z: np.ndarray) -> int:
    """Cells across the first filter (a kernel cell may be drawn as several, so that gaps stay thin)."""
    finite = np.isfinite(z[0])
    return int(np.argmin(finite)) if not finite.all() else len(finite)


def _cell_px(fig: go.Figure, kernel: int) -> float:
    """One filter's drawn side in px, from the size the figure asks for (square pixels: the tighter axis wins)."""
    z = np.asarray(fig.data[0].z, dtype=float)
    m = fig.layout.margin
    width = (fig.layout.width or PAGE_PX) - m.l - m.r
    height = fig.layout.height - m.t - m.b
    unit = min(width / z.shape[1], height / z.shape[0])
    assert _run(z) % kernel == 0  # whole kernel cells
    return unit * _run(z)


def _tiles(fig: go.Figure) -> tuple[int, int]:
    """(rows, cols) of filter tiles: runs of finite cells separated by all-NaN lines."""
    z = np.asarray(fig.data[0].z, dtype=float)
    def runs(mask):
        return sum(1 for i, on in enumerate(mask) if on and (i == 0 or not mask[i - 1]))
    return runs(np.isfinite(z).any(axis=1)), runs(np.isfinite(z).any(axis=0))


def test_mnist_cnn_filters_are_a_near_square_grid_of_large_cells():
    w = np.random.default_rng(0).normal(size=(32, 1, 5, 5))
    fig = figs.filter_grid(w)
    rows, cols = _tiles(fig)
    assert rows * cols >= 32 and abs(rows - cols) <= 4  # 6×6 or 4×8, not one column of 32
    assert fig.layout.width and fig.layout.width <= PAGE_PX - 300  # fits beside the sidebar at 1400 px
    assert _cell_px(fig, 5) >= 48


@pytest.mark.parametrize("shape", [(64, 1, 3, 3), (16, 1, 11, 11), (3, 1, 5, 5), (64, 16, 3, 3)])
def test_every_filter_grid_keeps_cells_of_48_px(shape):
    fig = figs.filter_grid(np.random.default_rng(1).normal(size=shape))
    assert fig.layout.width <= PAGE_PX - 300
    assert _cell_px(fig, shape[-1]) >= 48


def test_filter_colour_scale_is_shared_symmetric_and_centred_on_zero():
    w = np.random.default_rng(2).normal(size=(8, 4, 3, 3))
    w[5, 3, 0, 0] = 7.0  # the largest weight sits in another channel: the scale is still shared with it
    for channel in range(4):
        heat = figs.filter_grid(w, channel=channel).data[0]
        assert heat.zmid == 0 and heat.zmin == -heat.zmax == pytest.approx(-7.0)
        assert heat.colorscale[len(heat.colorscale) // 2][1].lower() in ("#ffffff", "rgb(255, 255, 255)")


def test_multi_channel_filters_show_the_chosen_input_channel():
    w = np.random.default_rng(3).normal(size=(9, 4, 3, 3))
    fig = figs.filter_grid(w, channel=2)
    assert "input channel 2" in fig.layout.title.text
    drawn = np.asarray(fig.data[0].z, dtype=float)
    step = _run(drawn) // 3  # sub-cells per kernel cell
    np.testing.assert_allclose(drawn[:3 * step:step, :3 * step:step], w[0, 2], rtol=1e-6)  # filter 0's kernel on channel 2, values kept
    assert _tiles(fig) == (3, 3)


def test_signed_attribution_is_diverging_and_clear_at_zero():
    x = np.random.rand(1, 8, 8)
    heat = figs.overlay(x, np.linspace(-1, 2, 64).reshape(8, 8)).data[1]
    scale = heat.colorscale
    assert heat.zmid == 0 and heat.zmin == -heat.zmax
    middle = dict((round(p, 3), c) for p, c in scale)[0.5]
    assert middle.replace(" ", "") in ("rgba(255,255,255,0)", "#ffffff", "rgb(255,255,255)")
    assert scale[0][1] != scale[-1][1]


def test_magnitude_attribution_is_sequential_from_clear_at_zero():
    x = np.random.rand(1, 8, 8)
    heat = figs.overlay(x, np.linspace(0, 2, 64).reshape(8, 8)).data[1]
    assert heat.zmin == 0 and heat.zmid is None
    assert heat.colorscale[0][1].replace(" ", "").endswith(",0)")  # transparent at 0: the digit shows through
    alphas = [_alpha(c) for _, c in heat.colorscale]
    assert alphas == sorted(alphas)  # one way only: more attribution, more colour


def _alpha(colour: str) -> float:
    return float(colour.rstrip(")").split(",")[-1]) if colour.startswith("rgba") else 1.0


def test_overlay_opacity_is_honoured():
    x, a = np.random.rand(1, 8, 8), np.random.rand(8, 8)
    assert figs.overlay(x, a, opacity=0.3).data[1].opacity == 0.3
    assert figs.overlay(x, a, opacity=1.0).data[1].opacity == 1.0
    assert math.isclose(figs.overlay(x, a).data[1].opacity, figs.OVERLAY_OPACITY)


def test_filter_grid_uses_the_palette_scale():
    heat = figs.filter_grid(np.random.default_rng(4).normal(size=(4, 1, 3, 3))).data[0]
    assert [c for _, c in heat.colorscale][0].upper() == palette.DIVERGING[0][1].upper()


def test_the_input_under_an_overlay_is_light_so_the_colours_read():
    base = figs.overlay(np.random.rand(1, 8, 8), np.random.rand(8, 8)).data[0]
    assert base.colorscale[0][1].lower() == "#ffffff" and not base.reversescale  # background white, ink grey
