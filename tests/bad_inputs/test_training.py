"""Bad training settings: a diverging learning rate, a batch larger than the data, empty splits, wild values.

Each is answered by the engine (engine.training.TrainConfig.check, Trainer) with a message a student can act
on, and on the Train page (ui/train/widgets.py) without a traceback, the session's network untouched.
"""
import copy
import math
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import engine
from engine import data
from engine.training import TERMINAL, RunLimiter, TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[2]
TRAIN = str(ROOT / "views" / "3_Train.py")


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", 0)


def _run_to_end(trainer: Trainer, max_steps: int = 2_000) -> Trainer:
    """Train synchronously, one batch per call, until the run ends (no thread: deterministic)."""
    for _ in range(max_steps):
        if trainer.state in TERMINAL:
            break
        trainer.step()
    return trainer


@pytest.mark.parametrize("preset, dataset, optimizer", [
    ("tiny-vgg", "digits", "sgd"), ("tiny-vgg", "digits", "adam"), ("toy-mlp", "circle", "sgd"),
    ("toy-mlp", "circle", "adam"), ("toy-mlp", "spiral", "momentum"), ("deep-mlp", "digits", "adam"),
    ("xo-cnn", "xo", "adam"), ("char-lstm", "zen", "adam"),
])
def test_learning_rate_1e6_diverges_and_keeps_the_best_weights(preset, dataset, optimizer, digits):
    ds = digits if dataset == "digits" else data.load(dataset, 0)
    config = TrainConfig(dataset=dataset, optimizer=optimizer, lr=1e6, epochs=3, device="cpu")
    trainer = Trainer(engine.network.presets.get(preset), config, ds, limiter=RunLimiter(1))
    initial = engine.training.save_weights(trainer.model)
    _run_to_end(trainer)
    status = trainer.status
    assert status.state == "diverged", status.message  # not "finished" at a loss of 1e6 or more
    assert "Lower the learning rate" in status.message and "clipping" in status.message
    assert "the lowest training loss seen" in status.message
    # the first step already explodes, so the lowest loss seen is that of the initial weights (step 0)
    assert "those of step 0" in status.message and engine.training.save_weights(trainer.model) == initial
    result = engine.training.evaluate(trainer.model, ds, "test")
    assert math.isfinite(result["loss"])  # the kept weights still work


def test_a_run_that_learns_is_not_called_diverged(digits):
    trainer = Trainer(engine.network.presets.get("tiny-vgg"), TrainConfig(dataset="digits", optimizer="adam", lr=0.003,
                                                                  epochs=2, device="cpu"), digits,
                      limiter=RunLimiter(1))
    assert _run_to_end(trainer).state == "finished"


def test_a_batch_too_big_for_memory_is_refused_before_training(digits, monkeypatch):
    monkeypatch.setattr(engine.limits, "MAX_BATCH_BYTES", 4 * 2**20)
    with pytest.raises(engine.InputError, match="this server allows 4 MiB per batch. Use a batch size of at most"):
        Trainer(engine.network.presets.get("tiny-vgg"), TrainConfig(dataset="digits", batch_size=4096, device="cpu"), digits,
                limiter=RunLimiter(1))


def test_batch_larger_than_the_dataset_trains_one_batch_per_epoch(digits):
    trainer = Trainer(engine.network.presets.get("tiny-vgg"), TrainConfig(dataset="digits", batch_size=4096, epochs=2,
                                                                  device="cpu"), digits, limiter=RunLimiter(1))
    _run_to_end(trainer)
    assert trainer.state == "finished" and trainer.loop.total_steps == 2


def test_a_tiny_dataset_with_a_big_batch_finishes():
    hello = data.load("hello", 0)  # one sample per split
    trainer = Trainer(engine.network.presets.get("char-rnn"), TrainConfig(dataset="hello", batch_size=64, epochs=2,
                                                                  device="cpu"), hello, limiter=RunLimiter(1))
    assert _run_to_end(trainer).state == "finished"


def test_an_empty_validation_split_is_refused_with_a_clear_message(digits):
    empty = copy.copy(digits)
    empty.x_val, empty.y_val = digits.x_val[:0], digits.y_val[:0]
    with pytest.raises(engine.InputError, match="validation"):
        trainer = Trainer(engine.network.presets.get("tiny-vgg"), TrainConfig(dataset="digits", epochs=1, device="cpu"),
                          empty, limiter=RunLimiter(1))
        _run_to_end(trainer)


def test_an_empty_training_split_is_refused_with_a_clear_message(digits):
    empty = copy.copy(digits)
    empty.x_train, empty.y_train = digits.x_train[:0], digits.y_train[:0]
    with pytest.raises(engine.InputError, match="train"):
        trainer = Trainer(engine.network.presets.get("tiny-vgg"), TrainConfig(dataset="digits", epochs=1, device="cpu"),
                          empty, limiter=RunLimiter(1))
        _run_to_end(trainer, 10)


@pytest.mark.parametrize("changes, setting", [
    ({"lr": float("nan")}, "learning rate"), ({"lr": float("inf")}, "learning rate"), ({"lr": -1.0}, "learning rate"),
    ({"lr": 0.0}, "learning rate"), ({"batch_size": 0}, "batch_size"), ({"batch_size": 10**9}, "batch_size"),
    ({"batch_size": 3.5}, "batch_size"), ({"batch_size": True}, "batch_size"), ({"epochs": -1}, "epochs"),
    ({"momentum": 1.5}, "momentum"), ({"weight_decay": float("nan")}, "weight_decay"), ({"seed": -4}, "seed"),
    ({"optimizer": "lbfgs"}, "optimizer"), ({"loss": "bogus"}, "loss"), ({"betas": (0.9,)}, "betas"),
    ({"clip_norm": float("-inf")}, "clip_norm"), ({"max_seconds": 0}, "max_seconds"),
])
def test_wild_settings_are_refused_naming_the_setting(changes, setting):
    with pytest.raises(engine.InputError, match=setting):
        TrainConfig(**changes).check()


@pytest.mark.parametrize("data_dict, message", [
    ({"batch_size": 32, "frobnicate": 1}, "unknown training setting"),
    ({"epochs": "ten"}, "epochs"), ({"betas": 5}, "betas"), ({"betas": None}, "betas"), ({"betas": [0.9]}, "betas"),
    ({"lr": "abc"}, "learning rate"), ({"lr": "0.1"}, "learning rate"), ({"lr": [1]}, "learning rate"),
    ({"optimizer": []}, "optimizer"), ({"dataset": []}, "dataset"), ({"dataset_options": [1]}, "dataset_options"),
    ({"flip": "yes"}, "flip"),
])
def test_a_tampered_config_dict_is_refused(data_dict, message):
    with pytest.raises(engine.InputError, match=message):
        TrainConfig.from_dict(data_dict)
    with pytest.raises(engine.InputError, match="JSON object"):
        TrainConfig.from_dict([data_dict])


@pytest.mark.parametrize("name, options, message", [
    ("digits", {"n": 10}, "n"), ("circle", {"n": 10**9}, "n"), ("circle", {"noise": float("nan")}, "noise"),
    ("nope", {}, "nope"), ("mnist", {"folder": "/definitely/not/here"}, ""),
])
def test_bad_dataset_options_are_refused(name, options, message):
    with pytest.raises(engine.InputError, match=message):
        data.load(name, 0, **options)


# ------------------------------------------------------------------ the Train page
def _train_page(preset: str = "tiny-vgg") -> AppTest:
    from ui.core.session import KEY, SessionState

    at = AppTest.from_file(TRAIN, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=engine.network.presets.get(preset))
    at.run()
    assert not at.exception
    return at


def _stop_runs(at: AppTest) -> None:
    for run in at.session_state["playground"].book.runs:
        run.trainer.stop()


def _one_epoch_to_its_end(at: AppTest):
    """Start a one-epoch run on the page, wait for its thread (generously: CI is a loaded 2-core machine), redraw."""
    at.number_input(key="tr-epochs").set_value(1).run()
    at.button(key="tr-start").click().run()
    trainer = at.session_state["playground"].book.of("train")[-1].trainer
    if trainer.thread:
        trainer.thread.join(300)
    at.run()
    return trainer


def test_train_page_learning_rate_1e6_ends_as_diverged_and_the_network_is_kept():
    at = _train_page()
    spec = at.session_state["playground"].spec
    try:
        at.selectbox(key="tr-opt").set_value("sgd").run()
        at.number_input(key="tr-lr-sgd").set_value(1e6).run()
        trainer = _one_epoch_to_its_end(at)
        assert not at.exception
        assert trainer.state == "diverged"
        assert any("Lower the learning rate" in e.value for e in at.error)
        s = at.session_state["playground"]
        assert s.spec.layers == spec.layers  # the network is still the student's
        assert all(torch.isfinite(p).all() for p in s.get_model().parameters())
    finally:
        _stop_runs(at)


def test_train_page_batch_size_above_the_dataset_finishes():
    at = _train_page()
    try:
        at.number_input(key="tr-batch").set_value(4096).run()
        trainer = _one_epoch_to_its_end(at)
        assert not at.exception and trainer.state == "finished"
    finally:
        _stop_runs(at)


def test_train_page_with_an_invalid_network_says_so_and_keeps_it():
    from ui.core.session import KEY, SessionState

    broken = engine.ModelSpec.from_dict({"name": "broken", "input": [1, 8, 8], "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 30}]})  # kernel larger than the input
    at = AppTest.from_file(TRAIN, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=broken)
    at.run()
    assert not at.exception
    assert any("invalid" in e.value for e in at.error)
    at.button(key="tr-start").click().run()
    assert not at.exception
    assert any("Cannot start" in e.value for e in at.error)
    assert at.session_state[KEY].spec == broken
    _stop_runs(at)
