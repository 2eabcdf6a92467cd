"""Inspect's Loss landscape tab in AppTest: the line from a run's initial weights and a small plane, for a classifier,
a regression model, an autoencoder and a character RNN; the plain reasons when the line or the plane cannot be
drawn; a grid over the cap refused with the cap named. Values are checked against PyTorch itself."""
import copy
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

import engine
from engine import limits
from engine.training import TERMINAL, SavedRun, TrainConfig, Trainer
from tests.app.inspect.test_inspect_inputs import PAGE, _array, _chart
from ui.core.session import KEY, SessionState
from ui.inspect import landscape

TAB = "Loss landscape"
SINE = {"name": "sine-lstm", "input": [20, 1], "layers": [
    {"type": "LSTM", "hidden_size": 8, "output": "last"}, {"type": "Linear", "out_features": 1}]}


def _train(spec, dataset: str, **options) -> Trainer:
    config = TrainConfig(dataset=dataset, epochs=1, batch_size=32, device="cpu", seed=0, dataset_options=options)
    trainer = Trainer(spec, config)
    trainer.start()
    deadline = time.monotonic() + 90
    while trainer.state not in TERMINAL and time.monotonic() < deadline:
        time.sleep(0.05)
    assert trainer.state == "finished"
    return trainer


def _page(trainer: Trainer | None = None, spec=None, adopt: bool = True, model=None) -> AppTest:
    """The Inspect page on the Loss landscape tab, its model the run's trained network (adopted as Train does)."""
    at = AppTest.from_file(PAGE, default_timeout=90)
    s = SessionState(spec=trainer.spec if trainer else spec)
    if trainer is not None:
        config = trainer.config
        run = s.book.add("train", trainer, trainer.spec, config)
        s.set_model(copy.deepcopy(model or trainer.model).cpu(), dataset={"name": config.dataset, "seed": config.seed,
                                                                   "options": dict(config.dataset_options)})
        if adopt:
            s.adopted.append(run.number)
    at.session_state[KEY] = s
    at.session_state["inspect_tab"] = at.query_params["inspect_tab"] = TAB
    at.run()
    assert not at.exception
    return at


def _small(at, samples=32, steps=5) -> AppTest:
    at.number_input(key="inspect_ls_samples").set_value(samples)
    at.number_input(key="inspect_ls_steps").set_value(steps)
    return at.run()


def _computed(at, button: str, chart: str) -> dict:
    """Click ``button`` and poll (AppTest never ticks ``run_every``: each ``run`` is a poll) until ``chart`` shows."""
    at.button(key=button).click().run()
    deadline = time.monotonic() + 90
    while _chart(at, chart) is None and time.monotonic() < deadline:
        assert not at.exception and not at.error, [e.value for e in at.error]
        time.sleep(0.1)
        at.run()
    assert not at.exception and _chart(at, chart) is not None
    return _chart(at, chart)


def _line(at) -> dict:
    return _computed(at, "inspect_ls_line", "inspect_ls_line_chart")


def _plane(at) -> dict:
    contour = _computed(at, "inspect_ls_plane", "inspect_ls_contour")
    assert _chart(at, "inspect_ls_surface") is not None
    return contour


def _loss(model, state, x, y, fn) -> float:
    model = copy.deepcopy(model).cpu().eval()
    model.load_state_dict(state)
    with torch.no_grad():
        return float(fn(model(x), y))


@pytest.fixture(scope="module")
def classifier():
    return _train(engine.network.presets.get("toy-mlp"), "circle")


def test_a_classifiers_line_and_plane_match_pytorch(classifier):
    at = _small(_page(classifier))
    line = _line(at)
    alphas = _array(line["data"][0]["x"])
    train = _array(line["data"][0]["y"])
    x, y = landscape._batch(classifier.dataset, "train", 32)
    start, end = classifier.initial_state(), classifier.model.state_dict()
    assert np.isclose(train[list(alphas).index(0.0)], _loss(classifier.model, start, x, y, F.cross_entropy), rtol=1e-5)
    assert np.isclose(train[list(alphas).index(1.0)], _loss(classifier.model, end, x, y, F.cross_entropy), rtol=1e-5)
    assert alphas.min() == -0.5 and alphas.max() == 1.5 and len(alphas) == 41
    contour = _plane(at)
    z = _array(contour["data"][0]["z"])
    assert z.shape == (5, 5)
    assert np.isclose(z[2, 2], _loss(classifier.model, end, x, y, F.cross_entropy), rtol=1e-5)  # the trained point


@pytest.mark.parametrize("which", ["regression", "autoencoder", "char-rnn"])
def test_other_kinds_of_network_draw_both(which):
    if which == "regression":
        trainer = _train(engine.ModelSpec.from_dict(SINE), "sine")
    elif which == "autoencoder":
        trainer = _train(engine.network.presets.get("autoencoder"), "digits")
    else:
        trainer = _train(engine.network.presets.get("char-rnn"), "hello")
    at = _small(_page(trainer), samples=16, steps=3)
    if which == "char-rnn":
        at.text_area(key="inspect_text").set_value("hello there").run()
    assert len(_array(_line(at)["data"][0]["y"])) == 41
    assert _array(_plane(at)["data"][0]["z"]).shape == (3, 3)


def test_an_untrained_model_says_what_is_missing():
    at = _page(spec=engine.network.presets.get("toy-mlp"))
    assert any("untrained" in i.value and "Train page" in i.value for i in at.info)
    assert not [b for b in at.button if b.key in ("inspect_ls_line", "inspect_ls_plane")]


def test_weights_without_their_initial_ones_get_the_plane_and_say_why_not_the_line(classifier):
    at = _small(_page(classifier, adopt=False), steps=3)  # uploaded weights: no run of this workspace made them
    assert any("started from" in i.value and "uploaded weights" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "inspect_ls_line"]
    assert _array(_plane(at)["data"][0]["z"]).shape == (3, 3)


def test_a_run_restored_without_its_initial_weights_says_so(classifier):
    """A run stored before runs kept their initial weights: its file holds the trained weights only."""
    saved = SavedRun(classifier.spec, classifier.config, "finished", classifier.records(), classifier.weights())
    at = _small(_page(saved, model=classifier.model), steps=3)
    assert any("did not keep them" in i.value and "Train it again" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "inspect_ls_line"]
    assert _array(_plane(at)["data"][0]["z"]).shape == (3, 3)  # the plane needs only the trained weights


def test_a_grid_over_the_cap_is_refused_naming_it(classifier):
    steps = int(limits.MAX_LANDSCAPE_POINTS ** 0.5) + 1
    at = _small(_page(classifier), steps=steps)
    assert any("PLAYGROUND_MAX_LANDSCAPE_POINTS" in e.value and f"{limits.MAX_LANDSCAPE_POINTS:,}" in e.value
               for e in at.error)
    assert not [b for b in at.button if b.key == "inspect_ls_plane"]


def test_leaving_the_tab_cancels_a_plane_being_computed(classifier):
    at = _small(_page(classifier), samples=512, steps=41)
    at.button(key="inspect_ls_plane").click().run()
    job = at.session_state[KEY].extras["inspect_landscape"]["plane"]
    at.session_state["inspect_tab"] = at.query_params["inspect_tab"] = "Filters"
    at.run()
    job["thread"].join(30)
    assert job["done"] and job["stop"].is_set()
    assert job["result"] is None or job["progress"] == 1.0  # stopped at a row, unless it had already ended
