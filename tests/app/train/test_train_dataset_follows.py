"""A network chosen on Build brings the dataset that fits it to Train, unless the student's own choice still fits."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine.training import TrainConfig
from tests.app.train.test_train_autoencoder import stop_all
from ui.core import database, workspace
from ui.core.session import KEY

APP = str(Path(__file__).resolve().parents[3] / "app.py")


def _load_preset(at: AppTest, name: str) -> None:
    at.switch_page("views/1_Build.py").run()
    at.selectbox(key="preset").set_value(name)
    at.button(key="load-preset").click().run()
    assert not at.exception and not at.error


@pytest.fixture
def at():
    app = AppTest.from_file(APP, default_timeout=90).run()
    yield app
    stop_all(app)


def _train_with(at: AppTest, preset: str, dataset: str) -> None:
    """Train page of ``preset`` with ``dataset`` chosen by the student."""
    _load_preset(at, preset)
    at.switch_page("views/3_Train.py").run()
    at.selectbox(key="tr-dataset").set_value(dataset).run()
    assert not at.exception and at.selectbox(key="tr-dataset").value == dataset


def test_a_preset_that_needs_other_data_brings_its_dataset(at):
    _train_with(at, "toy-mlp", "spiral")
    _load_preset(at, "autoencoder")
    at.switch_page("views/3_Train.py").run()
    assert at.selectbox(key="tr-dataset").value == "mnist"  # data.fit(autoencoder)
    at.number_input(key="tr-epochs").set_value(1).run()
    at.button(key="tr-start").click().run()
    assert not at.exception and not any("Cannot start" in e.value for e in at.error)
    assert at.session_state[KEY].book.of("train")


def test_a_chosen_dataset_that_still_fits_is_kept(at):
    _train_with(at, "toy-mlp", "spiral")
    _load_preset(at, "toy-mlp")  # the same kind of network (two features in): spiral still fits
    at.switch_page("views/3_Train.py").run()
    assert at.selectbox(key="tr-dataset").value == "spiral"
    _train_with(at, "mnist-cnn", "digits")
    _load_preset(at, "lenet5")  # any image network is fitted to digits' 8×8 images... if it can be: LeNet-5 cannot
    at.switch_page("views/3_Train.py").run()
    assert at.selectbox(key="tr-dataset").value == "mnist32"


def test_a_reopened_workspace_whose_network_changes_on_build_gets_a_fitting_dataset(at):
    """A reload on Build restores the saved Train settings (spiral) before the Train page is drawn again."""
    _train_with(at, "toy-mlp", "spiral")
    at.run()  # the settings are queued for saving at the start of a run
    assert database.services()[1].flush(30)
    again = AppTest.from_file(APP, default_timeout=90)
    again.query_params[workspace.PARAM] = at.session_state[KEY].token
    again.run()
    try:
        _load_preset(again, "autoencoder")
        again.switch_page("views/3_Train.py").run()
        assert not again.exception and again.selectbox(key="tr-dataset").value == "mnist"
    finally:
        stop_all(again)


def test_a_dataset_picked_for_the_network_not_by_the_student_follows_the_next_network(at):
    """circle came with toy-mlp (data.fit): deep-mlp, a network for digits, brings digits, though circle would fit."""
    _load_preset(at, "toy-mlp")
    at.switch_page("views/3_Train.py").run()
    assert at.selectbox(key="tr-dataset").value == "circle"
    at.switch_page("views/1_Build.py").run()
    at.switch_page("views/3_Train.py").run()  # and back, the network unchanged: its saved settings
    _load_preset(at, "deep-mlp")
    at.switch_page("views/3_Train.py").run()
    assert at.selectbox(key="tr-dataset").value == "digits"


def _reopen(at: AppTest) -> AppTest:
    """A reload: a new session with the same workspace in its address, once everything is written."""
    at.run()  # the settings are queued for saving at the start of a run
    assert database.services()[1].flush(30)
    again = AppTest.from_file(APP, default_timeout=90)
    again.query_params[workspace.PARAM] = at.session_state[KEY].token
    again.run()
    assert not again.exception
    return again


def test_after_a_reload_the_dataset_the_network_brought_still_follows_the_next_network(at):
    """circle came with toy-mlp (data.fit), not from the student: after a reload deep-mlp still brings digits."""
    _load_preset(at, "toy-mlp")
    at.switch_page("views/3_Train.py").run()
    assert at.selectbox(key="tr-dataset").value == "circle"
    again = _reopen(at)
    try:
        _load_preset(again, "deep-mlp")
        again.switch_page("views/3_Train.py").run()
        assert again.selectbox(key="tr-dataset").value == "digits"
    finally:
        stop_all(again)


def test_after_a_reload_the_students_dataset_stays_for_a_network_it_fits(at):
    _train_with(at, "toy-mlp", "spiral")
    assert at.session_state[KEY].settings.get("train_chosen") is True
    again = _reopen(at)
    try:
        _load_preset(again, "deep-mlp")  # data.fit gives digits, but the student's spiral fits it too
        again.switch_page("views/3_Train.py").run()
        assert again.selectbox(key="tr-dataset").value == "spiral"
    finally:
        stop_all(again)


@pytest.mark.parametrize("saved, expected", [("circle", "digits"), ("spiral", "spiral")])
def test_settings_saved_before_the_flag_count_as_chosen_only_when_the_network_would_not_bring_them(saved, expected):
    """Old saved settings say nothing about who chose the dataset: one other than data.fit(saved network) cannot
    have come with the network, so the student chose it; data.fit's own is taken as the network's."""
    spec = engine.network.presets.get("toy-mlp")
    settings = {"train": TrainConfig(dataset=saved).to_dict()}  # no "train_chosen": saved before it existed
    token = database.services()[0].create(None, spec=spec.to_dict(), settings=settings)
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params[workspace.PARAM] = token
    at.run()
    try:
        _load_preset(at, "deep-mlp")
        at.switch_page("views/3_Train.py").run()
        assert at.selectbox(key="tr-dataset").value == expected
    finally:
        stop_all(at)
