"""Train page on real data in AppTest: the dataset list is the registry's, mnist-cnn trains on MNIST at its own
size, an autoencoder's run shows its reconstructions (not accuracy), and the denoising noise is a saved setting."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

import engine
from engine import data
from tests.app.inspect.test_inspect_inputs import _array, _chart
from tests.app.train.test_train import runs, wait_for
from ui.train import settings as train_settings
from ui.core import database, workspace
from ui.core.session import KEY

ROOT = Path(__file__).resolve().parents[3]
PAGE = str(ROOT / "views" / "3_Train.py")


def open_train(preset: str) -> AppTest:
    """The Train page of a new session (with its saved workspace) whose network is then set to ``preset``."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    at.session_state[KEY].set_spec(engine.network.presets.get(preset))
    at.run()
    assert not at.exception
    return at


def stop_all(at: AppTest) -> None:
    """Stop every run and let the page give each its test results: the workspace's flusher saves a Train run until
    it has them, and a flusher killed mid-write when the tests end aborts the process."""
    for run in at.session_state[KEY].book.runs:
        run.trainer.stop()
        assert run.trainer.thread is None or not run.trainer.thread.is_alive()
    at.run()
    assert database.services()[1].flush(30)


@pytest.fixture
def autoencoder():
    at = open_train("autoencoder")
    yield at
    stop_all(at)


def _chart_keys(at) -> list[str]:
    return [c.proto.id.split("-", 2)[-1] for c in at.get("plotly_chart")]  # "$$ID-<hash>-<key>"


def test_the_dataset_list_is_the_registry_and_mnist_cnn_trains_at_its_own_size():
    at = open_train("mnist-cnn")
    try:
        box = at.selectbox(key="tr-dataset")
        assert list(box.options) == [f"{n} ({data.category(n)})" for n in data.names()]  # each name once
        assert box.value == "mnist"  # data.fit: the 1×28×28 network reads MNIST as it is
        at.number_input(key="tr-epochs").set_value(1).run()
        at.button(key="tr-start").click().run()
        trainer = runs(at)[-1].trainer
        assert trainer.config.dataset == "mnist" and trainer.dataset.input_shape == (1, 28, 28)
        assert trainer.notes == []  # nothing adapted
        assert engine.summarize(trainer.spec).total_params == 3_274_634
        assert sum(p.numel() for p in trainer.model.parameters()) == 3_274_634
    finally:
        stop_all(at)


def test_an_autoencoder_run_shows_reconstructions_and_no_accuracy(autoencoder):
    at = autoencoder
    assert at.selectbox(key="tr-dataset").value == "mnist"
    assert "bce" in at.selectbox(key="tr-loss").options  # the loss registry's, reconstruction losses included
    at.number_input(key="tr-epochs").set_value(1)
    at.selectbox(key="tr-loss").set_value("bce").run()
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("finished",))
    assert not at.exception and not at.error
    assert trainer.dataset.task == "reconstruction" and trainer.config.loss == "bce"
    keys = _chart_keys(at)
    assert "tr-recon-chart" in keys and "tr-loss-chart" in keys
    assert "tr-acc-chart" not in keys and "tr-cmp-acc" not in keys
    metrics = {m.label: m.value for m in at.metric}
    assert "Test accuracy" not in metrics
    # The results' reconstruction error is torch's MSE between the test images and the trained model's outputs.
    model = trainer.model.eval()
    x = trainer.dataset.x_test
    with torch.no_grad():
        out = model(x)
    assert float(metrics["Test reconstruction error (MSE)"]) == pytest.approx(F.mse_loss(out, x).item(), abs=1e-4)
    # The chart: test image 0 (top row) over the trained model's reconstruction of it (bottom row).
    z = _array(_chart(at, "tr-recon-chart")["data"][0]["z"])
    assert torch.allclose(torch.from_numpy(z[:28, :28].copy()), x[0, 0], atol=1e-6)
    assert torch.allclose(torch.from_numpy(z[29:57, :28].copy()), out[0, 0], atol=1e-5)


def test_the_reconstructions_are_drawn_from_a_private_copy_while_training(autoencoder):
    at = autoencoder
    at.number_input(key="tr-epochs").set_value(50).run()
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("running",))
    at.button(key="tr-pause").click().run()
    wait_for(at, ("paused",))
    run = runs(at)[-1]
    assert "tr-recon-chart" in _chart_keys(at) and "tr-acc-chart" not in _chart_keys(at)
    assert run.model is not None and run.model is not trainer.model
    assert all(p.data_ptr() != q.data_ptr() for p, q in zip(run.model.parameters(), trainer.model.parameters()))
    assert not at.exception


def test_the_noise_setting_reaches_the_run_and_comes_back_with_the_workspace(autoencoder):
    at = autoencoder
    at.number_input(key="tr-noise").set_value(0.3)
    at.number_input(key="tr-epochs").set_value(1).run()
    session = at.session_state[KEY]
    assert session.settings["train"]["noise"] == pytest.approx(0.3)
    assert train_settings.widget_state(session.settings["train"])["tr-noise"] == pytest.approx(0.3)
    at.button(key="tr-start").click().run()
    assert runs(at)[-1].trainer.config.noise == pytest.approx(0.3)
    assert database.services()[1].flush(30)
    again = AppTest.from_file(PAGE, default_timeout=60)
    again.query_params[workspace.PARAM] = session.token
    again.run()
    assert not again.exception
    assert again.session_state[KEY].spec.name == "autoencoder"
    assert again.number_input(key="tr-noise").value == pytest.approx(0.3)
    stop_all(again)


def test_no_noise_setting_for_a_classifier():
    at = open_train("tiny-vgg")
    assert not [n for n in at.number_input if n.key == "tr-noise"]
    assert at.session_state[KEY].settings["train"]["noise"] == 0.0
