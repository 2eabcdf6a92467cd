"""Inspect page for a trained autoencoder in AppTest: the input beside its reconstruction, the codes' PCA coloured
by digit, and the walk between two test digits' codes, each checked against the model run by torch itself."""
import copy
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import engine
from engine import data
from engine.training import TrainConfig, Trainer
from tests.app.inspect.test_inspect_inputs import _array, _chart
from ui.core.session import KEY, SessionState

PAGE = str(Path(__file__).resolve().parents[3] / "views" / "4_Inspect.py")
CODE = 4  # the autoencoder preset's bottleneck: Flatten, Linear(300), ReLU, Linear(150), ReLU ← its codes


@pytest.fixture(scope="module")
def trained():
    """The autoencoder preset after one epoch on the bundled MNIST (a few seconds)."""
    trainer = Trainer(engine.network.presets.get("autoencoder"), TrainConfig(dataset="mnist", epochs=1, lr=0.001))
    trainer.start()
    deadline = time.monotonic() + 60
    while trainer.state != "finished" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert trainer.state == "finished"
    return trainer


@pytest.fixture
def at(trained):
    app = AppTest.from_file(PAGE, default_timeout=60)
    session = SessionState(spec=trained.spec)
    session.set_model(copy.deepcopy(trained.model).cpu(), dataset={"name": "mnist", "seed": 0, "options": {}})
    app.session_state[KEY] = session
    return app.run()


def _open(at, tab: str) -> AppTest:
    at.session_state["inspect_tab"] = at.query_params["inspect_tab"] = tab  # the address holds it too
    return at.run()


def _model(at) -> torch.nn.Module:
    return at.session_state[KEY].model.eval()


def test_the_prediction_tab_shows_the_input_and_its_reconstruction(at, trained):
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Prediction", "Filters", "Activations", "Codes", "Loss landscape"]
    x = trained.dataset.x_test[0]
    shown = _array(_chart(at, "inspect_input")["data"][0]["z"])
    assert np.allclose(shown, x[0].numpy(), atol=1e-6)
    with torch.no_grad():
        out = _model(at)(x[None])[0]
    assert np.allclose(_array(_chart(at, "inspect_reconstruction")["data"][0]["z"]), out[0].numpy(), atol=1e-5)
    assert "misclassified" not in at.selectbox(key="inspect_filter").options  # it predicts no class
    assert not any("784 outputs" in c.value for c in at.sidebar.caption)


def test_the_codes_tab_draws_the_pca_of_the_bottleneck_by_digit(at, trained):
    _open(at, "Codes")
    assert not at.exception
    fig = _chart(at, "inspect_codes")
    ds = data.load("mnist")
    x, labels = ds.x_test, ds.y_test.numpy()
    with torch.no_grad():
        z = _model(at)[:CODE + 1](x).double()  # (N, 150)
    centred = z - z.mean(dim=0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    xy = (centred @ vh[:2].T).numpy()
    digits = fig["data"][:10]
    assert [d["name"] for d in digits] == ds.classes
    for c, trace in enumerate(digits):
        mine = np.stack([_array(trace["x"]), _array(trace["y"])], axis=1)
        ref = xy[labels == c]
        signs = np.sign((mine * ref).sum(axis=0))  # each component is defined up to its sign
        assert np.allclose(mine, ref * signs, atol=1e-3)
    share = (s[:2] ** 2 / (s ** 2).sum()).numpy()
    assert f"PC1 ({100 * share[0]:.0f}% of the variance)" == fig["layout"]["xaxis"]["title"]["text"]


def test_the_walk_decodes_the_line_between_two_codes(at):
    _open(at, "Codes")
    at.number_input(key="inspect_walk_a").set_value(3)
    at.number_input(key="inspect_walk_b").set_value(10)
    at.slider(key="inspect_walk_step").set_value(6).run()
    assert not at.exception
    ds, model = data.load("mnist"), _model(at)
    with torch.no_grad():
        z_a, z_b = model[:CODE + 1](ds.x_test[[3]]), model[:CODE + 1](ds.x_test[[10]])
        line = model[CODE + 1:](z_a + torch.linspace(0, 1, 9)[:, None] * (z_b - z_a))  # (9, 1, 28, 28)
    step = _chart(at, "inspect_walk_step_image")
    assert step["layout"]["title"]["text"] == "Step 6: 25% A + 75% B"
    assert np.allclose(_array(step["data"][0]["z"]), line[6, 0].numpy(), atol=1e-5)
    sequence = _array(_chart(at, "inspect_walk")["data"][0]["z"])  # nine 28×28 images in a row, 1 px apart
    assert np.allclose(sequence[:, :28], line[0, 0].numpy(), atol=1e-5)
    assert np.allclose(sequence[:, 8 * 29:8 * 29 + 28], line[8, 0].numpy(), atol=1e-5)


def test_a_classifier_keeps_its_attribution_tab_and_the_tab_survives_the_switch(at):
    _open(at, "Codes")
    at.session_state[KEY].set_spec(engine.network.presets.get("tiny-vgg"))
    at.run()
    assert not at.exception
    _open(at, "Attribution")
    assert _chart(at, "inspect_overlay") is not None and not at.exception
