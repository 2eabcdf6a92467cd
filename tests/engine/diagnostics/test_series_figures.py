"""The records' diagnostics as series and figures: thinning at 5,000 steps, warnings, escaped names."""
import dataclasses
import math

import numpy as np
import pytest

import engine
from engine import diagnostics, stats
from engine.diagnostics import figures, series
from engine.network import presets
from engine.training import TrainConfig

NAME = "2 <b>Sigmoid</b>"


def _records(n: int) -> list[dict]:
    spec = stats.linear_spec(0.0, 1.0, 8)
    rng = np.random.default_rng(0)
    out = []
    for step in range(1, n + 1):
        counts = rng.integers(0, 50, 8).tolist()
        sat = 0.1 if step < n // 2 else 0.8
        out.append({"kind": "step", "step": step, "epoch": step / 10, "train_loss": 1.0,
                    "hist": {NAME: {"act": {"counts": counts, "mean": 0.5, "std": 0.1, "edges": spec}}},
                    "update_ratio": {NAME: 10.0 ** -rng.uniform(2, 4)},
                    "health": [{"layer": "2", "kind": "Sigmoid", "name": NAME, "dead": 0.0, "saturated": sat}]})
        if step % 100 == 0:
            out.append({"kind": "epoch", "step": step, "epoch": step / 100, "train_loss": 1.0})
    return out


def test_a_heat_map_of_5000_steps_is_thinned_keeping_the_latest_column():
    records = _records(5000)
    hm = series.heatmap(records, NAME)
    assert len(hm["steps"]) == series.MAX_COLUMNS and hm["steps"][-1] == 5000 and hm["steps"][0] == 1
    assert hm["counts"].shape == (series.MAX_COLUMNS, 8) and np.array_equal(hm["edges"], np.linspace(0, 1, 9))
    last = records[-2]["hist"][NAME]["act"]["counts"]  # the last step record (an epoch record follows it)
    assert hm["counts"][-1].tolist() == last
    fig = figures.heatmap_figure(hm, NAME)
    assert fig.data[0].z.shape == (8, series.MAX_COLUMNS)
    assert np.allclose(fig.data[0].z, np.log10(1 + hm["counts"].T))  # colour: log(count)


def test_one_steps_histograms_and_the_moments():
    records = _records(30)
    step, layers = series.at_step(records, 17)
    assert step == 17 and layers[NAME]["counts"].tolist() == records[16]["hist"][NAME]["act"]["counts"]
    assert series.at_step(records, 0)[0] == 1
    m = series.moments(records)
    assert m[NAME]["steps"] == list(range(1, 31)) and m[NAME]["mean"] == [0.5] * 30
    for fig in (figures.step_figure((step, layers)), figures.moments_figure(m),
                figures.update_ratio_figure(series.update_ratios(records))):
        assert fig.to_json()


def test_the_update_ratio_chart_draws_the_rule_of_thumb():
    fig = figures.update_ratio_figure(series.update_ratios(_records(20)))
    assert fig.layout.yaxis.type == "log"
    assert any(s.y0 == s.y1 == 1e-3 for s in fig.layout.shapes)


def test_a_saturation_warning_names_the_layer_and_since_when():
    records = _records(400)
    (warning,) = series.warnings(records)
    first = min(r["step"] for r in records if r.get("health") and r["health"][0]["saturated"] > 0.5)
    assert (warning["layer"], warning["what"], warning["since"], warning["share"]) == (NAME, "saturated", first, 0.8)
    assert "Xavier" in warning["text"] and "95%" in warning["formula"]


def test_user_names_are_escaped_in_the_figures():
    records = _records(10)
    fig = figures.heatmap_figure(series.heatmap(records, NAME), NAME)
    assert "<b>" not in fig.layout.title.text and "&lt;b&gt;" in fig.layout.title.text
    fig = figures.moments_figure(series.moments(records))
    assert all("<b>" not in t.name for t in fig.data)


def test_the_lr_line_and_plane_figures(circle):
    r = diagnostics.lr_find(presets.get("toy-mlp"), circle, TrainConfig(dataset="circle", device="cpu"), steps=20)
    fig = figures.lr_find_figure(r)
    assert fig.layout.xaxis.type == "log" and len(fig.data) == 2
    model = engine.build(presets.get("toy-mlp"), seed=0)
    x, y = circle.split("val")
    plane = diagnostics.loss_plane(model, x, y, "auto", steps=5)
    contour, surface = figures.loss_plane_figure(plane), figures.loss_surface_figure(plane)
    assert contour.data[0].z.shape == (5, 5) and contour.data[-1].name == "trained"
    assert surface.data[1].z[0] == plane.centre
    alphas = diagnostics.line_alphas()
    assert len(alphas) == 41 and 0.0 in alphas and 1.0 in alphas
    line = diagnostics.loss_line(model, model.state_dict(), model.state_dict(), x, y, "auto", alphas)
    assert figures.loss_line_figure(alphas, {"train": line}).data[0].y == tuple(line)


def test_the_lr_figure_labels_sit_on_their_lines(circle):
    """Plotly places an annotation on a log axis at log10 of its x (add_vline's own label lands elsewhere)."""
    r = diagnostics.lr_find(presets.get("toy-mlp"), circle, TrainConfig(dataset="circle", device="cpu"), steps=20)
    fig = figures.lr_find_figure(r)
    lines = sorted(shape.x0 for shape in fig.layout.shapes)
    labels = sorted((a.x, a.text) for a in fig.layout.annotations)
    assert lines == sorted([r.suggestion, r.min_tenth])
    assert [x for x, _ in labels] == pytest.approx(sorted(math.log10(v) for v in (r.suggestion, r.min_tenth)))
    assert {t.split(":")[0] for _, t in labels} == {"steepest", "minimum / 10"}


def test_the_lr_figure_scales_to_the_smoothed_curve(circle):
    """A raw spike near the end (loss 25 where the smoothed curve is 2) would flatten the curve that matters."""
    r = diagnostics.lr_find(presets.get("toy-mlp"), circle, TrainConfig(dataset="circle", device="cpu"))
    assert max(r.losses) > 2 * max(r.smoothed)  # this run spikes (seeded)
    low, high = figures.lr_find_figure(r).layout.yaxis.range
    assert low <= min(r.losses) and max(r.smoothed) < high < max(r.losses)


@pytest.mark.parametrize("layers", [1, 7, 50, 120])
def test_the_step_figure_fits_any_number_of_layers_in_its_grid(layers):
    """A 50-layer depth lab drew 10 rows whose gaps alone passed the figure's height (a domain above 1 raised)."""
    edges = np.array([-1.0, 0.0, 1.0])
    at = (3, {f"{i} Sigmoid": {"edges": edges, "counts": [1, 2]} for i in range(layers)})
    fig = figures.step_figure(at)
    domains = [fig.layout[name].domain for name in fig.layout if name.startswith(("xaxis", "yaxis"))]
    assert len(domains) == 2 * layers
    assert all(0 <= lo < hi <= 1 for lo, hi in domains)


def test_close_lr_picks_get_labels_on_either_side_of_their_lines(circle):
    """mnist-cnn's picks on MNIST were 0.0028 and 0.0031: labels one above the other overlapped; now the lower
    pick's label ends at its line and the higher's starts at its own."""
    r = diagnostics.lr_find(presets.get("toy-mlp"), circle, TrainConfig(dataset="circle", device="cpu"), steps=20)
    r = dataclasses.replace(r, suggestion=0.0028, min_tenth=0.0031)
    anchors = {a.text.split(":")[0]: (a.x, a.xanchor) for a in figures.lr_find_figure(r).layout.annotations}
    assert anchors == {"steepest": (pytest.approx(math.log10(0.0028)), "right"),
                       "minimum / 10": (pytest.approx(math.log10(0.0031)), "left")}
