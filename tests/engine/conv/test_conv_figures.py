"""engine.conv.figures' static fallback: why a trace is not animated, and channels drawn as heatmaps, not photos."""
import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F

from engine import conv
from engine.conv import examples as conv_examples
from engine.conv import figures as conv_figures


def test_too_large_names_the_real_reason():
    x, w = conv_examples.random_grid((12, 12)), np.ones((3, 1, 3, 3))
    trace = conv.conv2d(x, w, padding="same")
    steps = F.conv2d(torch.tensor(x)[None, None], torch.tensor(w), padding="same").numel()
    assert conv_figures.too_large(trace) == [f"it needs {steps} steps, more than 400"]
    assert not conv_figures.can_animate(trace)
    small = conv.conv2d(conv_examples.random_grid((7, 7)), np.ones((3, 3)))
    assert conv_figures.too_large(small) == [] and conv_figures.can_animate(small)
    wide = conv.conv1d(np.ones(20), np.ones(7), padding="full", dilation=4)
    assert conv_figures.too_large(wide) == ["the padded grid is 68 cells, larger than 48"]


def test_grids_draw_channels_as_labelled_heatmaps_and_rgb_only_when_asked():
    maps = np.stack([np.full((4, 4), v) for v in (-3.0, 2.0, 7.0)])  # outside [0, 1]: must not be clipped
    fig = conv_figures.grids([("Output", maps, "map")])
    go.Figure(fig.to_dict())
    assert [d.type for d in fig.data] == ["heatmap"]
    z = np.array(fig.data[0].z, dtype=float)
    assert z.shape == (3 * 5 - 1, 4) and np.isnan(z[4]).all()
    np.testing.assert_array_equal(z[10:], maps[2])
    assert [a.text for a in fig.layout.annotations] == ["map 2", "map 3", "<b>Output</b> · map 1"]
    photo = conv_figures.grids([("Input", np.random.default_rng(0).random((3, 4, 4)), "rgb"), ("Grey", maps[0])])
    assert [d.type for d in photo.data] == ["image", "heatmap"]


def test_several_maps_name_whose_kernel_is_shown():
    trace = conv.conv2d(conv_examples.random_grid((4, 4)), np.ones((2, 1, 3, 3)))
    labels = [a["text"] for a in conv_figures.animation(trace).to_dict()["layout"]["annotations"]]
    assert "<b>Kernel of the map being filled</b>" in labels


def test_conv_figures_draw_with_the_colour_blind_safe_palette():
    from engine import palette
    from engine.conv import receptive

    fig = conv_figures.receptive(receptive.fields(receptive.stack(2, 3), 16), 16)
    assert fig.layout.shapes[0].line.color in palette.OKABE_ITO.values()  # the field's outline
    assert fig.data[0].colorscale[-1][1] in palette.OKABE_ITO.values()
