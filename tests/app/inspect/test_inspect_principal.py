"""Inspect's Loss landscape tab along the principal directions of a run's training: offered when the run kept a
trajectory, drawn with the path projected on the contour (start and end marked) and the variance explained; a run
without one says why and keeps random directions. Values are checked against PyTorch and the engine's trajectory."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import engine
from engine.training import SavedRun
from tests.app.inspect.test_inspect_inputs import _array
from tests.app.inspect.test_inspect_landscape import _computed, _loss, _page, _small, _train
from ui.inspect import landscape


@pytest.fixture(scope="module")
def classifier():
    return _train(engine.network.presets.get("toy-mlp"), "circle")


def _contour(at) -> dict:
    return _computed(at, "inspect_ls_plane", "inspect_ls_contour")


def test_both_directions_draw_and_the_principal_plane_shows_the_path(classifier):
    at = _small(_page(classifier), steps=3)
    radio = at.radio(key="inspect_ls_directions")
    assert not radio.disabled and radio.value == landscape.RANDOM
    random = _contour(at)
    assert not [t for t in random["data"] if t.get("name") == "trajectory"]
    at.radio(key="inspect_ls_directions").set_value(landscape.PRINCIPAL).run()
    assert any("settings changed" in c.value for c in at.caption)  # the random plane is not the one asked for
    contour = _contour(at)
    path = classifier.trajectory()
    traces = {t.get("name"): t for t in contour["data"]}
    drawn = np.column_stack([_array(traces["trajectory"]["x"]), _array(traces["trajectory"]["y"])])
    np.testing.assert_allclose(drawn, np.array(path.coords))  # the run's own path, the trained weights last
    assert (_array(traces["start"]["x"])[0], _array(traces["start"]["y"])[0]) == pytest.approx(path.coords[0])
    assert f"{path.explained[0]:.0%} of the variance" in contour["layout"]["xaxis"]["title"]["text"]
    z = _array(contour["data"][0]["z"])
    x, y = landscape._batch(classifier.dataset, "train", 32)
    assert np.isclose(z[1, 1], _loss(classifier.model, classifier.model.state_dict(), x, y, F.cross_entropy),
                      rtol=1e-5)  # the centre: the trained weights
    # the grid's first column: θ* − 1.2·extent₁·d₁ (β = 0 in the middle row), as PyTorch evaluates it
    a = -1.2 * max(abs(c[0]) for c in path.coords)
    moved = {k: v + a * path.directions[0][k] if k in path.directions[0] else v
             for k, v in classifier.model.state_dict().items()}
    assert np.isclose(z[1, 0], _loss(classifier.model, moved, x, y, F.cross_entropy), rtol=1e-4)
    assert any(f"{path.explained[0]:.1%}" in c.value and "start" in c.value for c in at.caption)


def test_a_run_without_a_trajectory_says_why_and_keeps_random_directions(classifier):
    """A run stored before runs kept their trajectory: its file holds the trained weights only."""
    saved = SavedRun(classifier.spec, classifier.config, "finished", classifier.records(), classifier.weights())
    at = _small(_page(saved, model=classifier.model), steps=3)
    radio = at.radio(key="inspect_ls_directions")
    assert radio.disabled and radio.value == landscape.RANDOM
    assert any("not offered" in c.value and "kept no trajectory" in c.value for c in at.caption)
    assert _array(_contour(at)["data"][0]["z"]).shape == (3, 3)
    assert torch.equal(saved.model.state_dict()["0.weight"], classifier.model.state_dict()["0.weight"].cpu())
