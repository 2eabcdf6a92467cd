"""The Gradients page's figures read on a projector (issue 18): powers-of-ten log axes, the palette's colours,
one layer naming for charts and tables."""
import numpy as np
import pytest

from engine import palette
from engine.gradients import activation_stats, figures, lab
from engine.training import figures as train_figures

STEPS = [0, 10, 20]
MATRIX = np.array([[1e-3, 2e-2], [5e-4, 3e-2], [2e-4, 4e-2]])


def _log_figures():
    yield figures.layer_norms_figure({"net": (["1 Linear", "3 Linear"], np.array([1e-4, 0.3]))})
    yield figures.layers_over_steps_figure(STEPS, ["1 Linear", "3 Linear"], MATRIX)
    yield figures.timestep_figure({"h": np.geomspace(1e-6, 1, 20)})
    yield figures.snapshots_figure(STEPS, np.geomspace(1e-3, 1, 6).reshape(3, 2))
    yield figures.clipping_figure(STEPS, [0.5, 2.0, 8.0], [0.5, 1.0, 1.0], 1.0)
    yield train_figures.grad_norms_figure([{"kind": "step", "epoch": i / 4, "grad_norm": {"0 Linear": 10.0 ** -i}}
                                           for i in range(4)])


@pytest.mark.parametrize("fig", list(_log_figures()), ids=lambda f: f.layout.yaxis.title.text or "grad norms")
def test_every_log_axis_labels_powers_of_ten_only(fig):
    axis = fig.layout.yaxis
    assert axis.type == "log"
    assert axis.dtick in (1, 2, 5, 10) and axis.exponentformat in ("power", "e")  # 1e-3, 1e-2, … not "5, 2, 1, 0.1"
    assert axis.minor.dtick in ("D1", 1)  # unlabelled minor ticks between the labelled decades
    lo, hi = axis.range
    assert hi - lo >= 1 and lo == int(lo) and hi == int(hi)  # whole decades: at least two labels


def test_curves_take_the_palette_colours():
    fig = figures.layer_norms_figure({"a": (["1 Linear"], np.array([0.1])), "b": (["1 Linear"], np.array([0.2]))})
    assert [t.line.color for t in fig.data] == palette.CYCLE[:2]
    clip = figures.clipping_figure(STEPS, [0.5, 2.0, 8.0], [0.5, 1.0, 1.0], 1.0)
    assert len({(t.line.color, t.line.dash) for t in clip.data}) == 2


def test_layers_are_numbered_alike_in_the_norms_chart_and_the_activation_table():
    model = lab.depth_model(3, 16, "Sigmoid", "default")
    x, y = lab.depth_batch(32)
    labels, norms = lab.layer_norms(model, x, y)  # "1 Linear", "3 Linear", … module positions
    stats = activation_stats(model, x)  # "2 Sigmoid", "4 Sigmoid", …
    assert lab.layer_names(labels) == ["layer 1", "layer 2", "layer 3", "layer 4"]
    assert lab.activation_names(labels, stats) == ["layer 1 · Sigmoid", "layer 2 · Sigmoid", "layer 3 · Sigmoid"]
    chart = figures.layer_norms_figure({"net": (labels, norms)})
    assert list(chart.data[0].x) == [1, 2, 3, 4] and chart.layout.xaxis.title.text == "layer (input → output)"
    assert chart.data[0].text[0].startswith("layer 1")
    heat = figures.activations_figure(stats, lab.activation_names(labels, stats))
    assert list(heat.data[0].y) == ["layer 1 · Sigmoid", "layer 2 · Sigmoid", "layer 3 · Sigmoid"]


def test_nested_activations_follow_the_weight_before_them():
    model = lab.depth_model(3, 16, "ReLU", "he", batch_norm=True, residual=True)
    x, y = lab.depth_batch(32)
    labels, _ = lab.layer_norms(model, x, y)  # 1 Linear, 4.0 Linear, 5.0 Linear, 6 Linear
    stats = activation_stats(model, x)  # 3 ReLU, 4.2 ReLU, 5.2 ReLU
    assert lab.activation_names(labels, stats) == ["layer 1 · ReLU", "layer 2 · ReLU", "layer 3 · ReLU"]
    assert lab.activation_names(["3 Linear"], [{"name": "1 Tanh"}]) == ["before layer 1 · Tanh"]
