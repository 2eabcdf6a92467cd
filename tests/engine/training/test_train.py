"""engine.training: one step against hand-written PyTorch, every option path, thread controls, weights, inference."""
import copy
import io
import pickle
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from run_helpers import long_config, toy_mlp, wait_for
from torch import nn

import engine
from engine import data
from engine.errors import InputError
from engine.training import (Loop, RunLimiter, TrainConfig, Trainer, evaluate, load_weights, predict_grid, sample,
                             save_weights)
from engine.training.augment import augment

TINY_CNN = engine.ModelSpec.from_dict({"name": "tiny-cnn", "input": [1, 8, 8], "layers": [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}, {"type": "Dropout", "p": 0.2},
    {"type": "Linear", "out_features": 10}]})
TINY_GRU = engine.ModelSpec.from_dict({"name": "tiny-gru", "input": [4], "vocab_size": 4, "layers": [
    {"type": "Embedding", "embedding_dim": 8}, {"type": "GRU", "hidden_size": 16},
    {"type": "Linear", "out_features": 4}]})


@pytest.fixture(scope="module")
def digits():
    full = data.load("digits", 0)
    small = copy.copy(full)  # a few hundred images keep each test fast
    small.x_train, small.y_train = full.x_train[:300], full.y_train[:300]
    small.x_val, small.y_val = full.x_val[:100], full.y_val[:100]
    return small


@pytest.fixture(scope="module")
def hello():
    return data.load("hello", 0)


# ------------------------------------------------------------------ one step against hand-written PyTorch
HAND_OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    "nesterov": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.01),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=0.001),
}


def hand_step(loop, optimizer, loss_fn, clip=0.0):
    """Two full-batch steps of a hand-written loop on a copy of the loop's initial model."""
    model = copy.deepcopy(loop.model)
    opt = optimizer(model.parameters())
    x, y = loop.x_train, loop.y_train
    for _ in range(2):
        opt.zero_grad()
        loss_fn(model, model(x), y).backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return model


@pytest.mark.parametrize("name", list(HAND_OPTIMIZERS))
def test_a_step_equals_a_hand_written_pytorch_step(name, circle):
    loop = Loop(toy_mlp(), TrainConfig(optimizer=name, batch_size=10_000, device="cpu"), circle)
    expected = hand_step(loop, HAND_OPTIMIZERS[name], lambda m, out, y: F.cross_entropy(out, y))
    loop.train_batch()
    loop.train_batch()
    for got, want in zip(loop.model.parameters(), expected.parameters()):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_weight_decay_is_l2_on_weights_only_and_l1_matches_autograd(circle):
    config = TrainConfig(optimizer="sgd", lr=0.5, weight_decay=0.01, l1=0.003, batch_size=10_000, device="cpu")
    loop = Loop(toy_mlp(), config, circle)

    def penalised_loss(model, out, y):
        weights = [p for p in model.parameters() if p.dim() > 1]
        l2 = 0.01 / 2 * sum((w ** 2).sum() for w in weights)  # decay λw is the gradient of λ/2‖w‖²
        l1 = 0.003 * sum(w.abs().sum() for w in weights)
        return F.cross_entropy(out, y) + l2 + l1
    expected = hand_step(loop, lambda p: torch.optim.SGD(p, lr=0.5), penalised_loss)
    loop.train_batch()
    loop.train_batch()
    for got, want in zip(loop.model.parameters(), expected.parameters()):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_clipping_matches_clip_grad_norm_and_caps_the_norm(circle):
    loop = Loop(toy_mlp(), TrainConfig(optimizer="sgd", lr=1.0, clip_norm=0.01, batch_size=10_000,
                                       device="cpu"), circle)
    before = [p.detach().clone() for p in loop.model.parameters()]
    expected = hand_step(loop, lambda p: torch.optim.SGD(p, lr=1.0),
                         lambda m, out, y: F.cross_entropy(out, y), clip=0.01)
    records = loop.train_batch(force_metrics=True)
    step = torch.cat([(b - p.detach()).reshape(-1) for b, p in zip(before, loop.model.parameters())])
    assert records[0]["grad_norm_total"] > 0.01  # the raw gradient is bigger than the threshold ...
    assert step.norm().item() == pytest.approx(0.01, rel=1e-4)  # ... so lr·clipped norm is the threshold
    loop.train_batch()
    for got, want in zip(loop.model.parameters(), expected.parameters()):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", ["cross-entropy", "mse", "hinge"])
@pytest.mark.parametrize("init", ["default", "normal-0.01", "xavier", "he"])
def test_every_loss_and_initialisation_trains(loss, init, circle):
    loop = Loop(toy_mlp(), TrainConfig(loss=loss, init=init, epochs=1, batch_size=16, device="cpu"), circle)
    while not loop.outcome:
        records = loop.train_batch()
    assert loop.outcome[0] == "finished"
    assert records[-1]["kind"] == "epoch" and np.isfinite(records[-1]["val_loss"])


def test_hinge_is_multimargin_and_mse_compares_probabilities():
    out, y = torch.tensor([[2.0, 1.5, -1.0]]), torch.tensor([0])
    hinge = (max(0, 1.5 - 2 + 1) + max(0, -1 - 2 + 1)) / 3  # Σ_{j≠y} max(0, s_j − s_y + 1) / C
    assert engine.training.compute_loss("hinge", out, y).item() == pytest.approx(hinge)
    mse = ((out.softmax(-1) - torch.tensor([[1.0, 0, 0]])) ** 2).mean()
    assert engine.training.compute_loss("mse", out, y).item() == pytest.approx(mse.item())


def test_regression_trains_with_mse_and_refuses_cross_entropy():
    sine = data.load("sine", 0, n=200)
    loop = Loop(toy_mlp(), TrainConfig(epochs=1, device="cpu"), sine)
    while not loop.outcome:
        records = loop.train_batch()
    assert records[-1]["train_acc"] is None and np.isfinite(records[-1]["train_loss"])
    with pytest.raises(InputError, match="mse"):
        Loop(toy_mlp(), TrainConfig(loss="cross-entropy", device="cpu"), sine)


def test_augmentation_paths_keep_shapes_and_are_seeded(digits):
    x = digits.x_train[:16]
    config = TrainConfig(flip=True, shift=2, rotate=15, erase=1.0, mixup=0.4)
    a, mix_a = augment(x, config, torch.Generator().manual_seed(1), np.random.default_rng(1))
    b, mix_b = augment(x, config, torch.Generator().manual_seed(1), np.random.default_rng(1))
    assert a.shape == x.shape and torch.equal(a, b) and mix_a[0] == mix_b[0] and not torch.equal(a, x)
    shifted, _ = augment(x, TrainConfig(shift=1), torch.Generator().manual_seed(0), None)
    # whole-pixel shifts move pixels without blurring them: every value is an original one or a zero
    assert torch.isin(shifted.round(decimals=4), torch.cat([x.round(decimals=4).flatten(), torch.zeros(1)])).all()
    loop = Loop(TINY_CNN, TrainConfig(flip=True, shift=1, rotate=10, erase=0.5, mixup=0.2, epochs=1,
                                      device="cpu"), digits)
    while not loop.outcome:
        loop.train_batch()
    assert loop.outcome[0] == "finished"


def test_truncated_bptt_runs_and_equals_full_bptt_when_chunks_cover_the_sequence(hello):
    full = Loop(TINY_GRU, TrainConfig(epochs=1, bptt=0, device="cpu"), hello)
    chunked = Loop(TINY_GRU, TrainConfig(epochs=1, bptt=4, device="cpu"), hello)
    assert chunked.bptt == 0  # chunks as long as the sequence are plain BPTT
    truncated = Loop(TINY_GRU, TrainConfig(epochs=40, bptt=2, optimizer="adam", lr=0.05, device="cpu"), hello)
    first = truncated.train_batch(force_metrics=True)[0]["train_loss"]
    while not truncated.outcome:
        last = truncated.train_batch()
    assert last[-1]["train_loss"] < first
    full.train_batch()
    chunked.train_batch()
    for a, b in zip(full.model.parameters(), chunked.model.parameters()):
        torch.testing.assert_close(a, b)


def test_same_seed_same_losses(digits):
    def losses():
        loop = Loop(TINY_CNN, TrainConfig(epochs=1, shift=1, mixup=0.2, seed=3, metrics_every=1,
                                          device="cpu"), digits)
        return [r["train_loss"] for _ in range(8) for r in loop.train_batch()]
    assert losses() == losses()


def test_early_stopping_restores_the_best_weights(circle):
    loop = Loop(toy_mlp(), TrainConfig(optimizer="sgd", lr=2.0, epochs=40, early_stopping=True, patience=2,
                                       device="cpu"), circle)
    while not loop.outcome:
        loop.train_batch()
    assert loop.outcome[0] == "finished"
    val = evaluate(loop.model, circle, "val")["loss"]
    assert val == pytest.approx(loop.best["val_loss"], rel=1e-5)


# ------------------------------------------------------------------ divergence
def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_weights(circle):
    poisoned = copy.copy(circle)
    poisoned.x_train = circle.x_train.clone()
    poisoned.x_train[7] = float("nan")
    loop = Loop(toy_mlp(), TrainConfig(batch_size=4, metrics_every=3, device="cpu", seed=1), poisoned)
    while not loop.outcome:
        loop.train_batch()
    state, message = loop.outcome
    assert state == "diverged" and "learning rate" in message and "clipping" in message
    assert all(torch.isfinite(p).all() for p in loop.model.parameters())
    assert np.isfinite(evaluate(loop.model, circle, "val")["loss"])


def test_a_huge_learning_rate_diverges():
    linear = engine.ModelSpec.from_dict({"input": [20, 1], "layers": [{"type": "Flatten"},
                                                                      {"type": "Linear", "out_features": 1}]})
    trainer = Trainer(linear, TrainConfig(optimizer="sgd", lr=1e6, epochs=50, device="cpu"),
                      data.load("sine", 0, n=200), limiter=RunLimiter(1))
    while trainer.state not in engine.training.TERMINAL:
        trainer.step()
    assert trainer.state == "diverged" and "Lower the learning rate" in trainer.status.message
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


# ------------------------------------------------------------------ the thread

def test_start_pause_resume_stop(circle):
    trainer = Trainer(toy_mlp(), long_config(), circle, limiter=RunLimiter(1))
    assert trainer.state == "idle" and trainer.start()
    assert wait_for(lambda: trainer.loop.step > 20)
    trainer.pause()
    assert wait_for(lambda: trainer.state == "paused")
    time.sleep(0.05)
    held = trainer.loop.step
    time.sleep(0.2)
    assert trainer.loop.step == held and trainer.thread.is_alive()
    assert trainer.resume()
    assert wait_for(lambda: trainer.loop.step > held + 5)
    records = trainer.records()
    assert records and trainer.records(since=trainer.record_count) == []
    t0 = time.monotonic()
    assert trainer.stop()
    assert time.monotonic() - t0 < 1.0
    assert trainer.state == "stopped" and not trainer.thread.is_alive()


def test_step_trains_exactly_one_batch_and_leaves_the_run_paused(circle):
    trainer = Trainer(toy_mlp(), long_config(), circle, limiter=RunLimiter(1))
    records = trainer.step()
    assert trainer.loop.step == 1 and trainer.state == "paused" and records[0]["step"] == 1
    trainer.step()
    assert trainer.loop.step == 2 and trainer.thread is None
    assert trainer.resume() and wait_for(lambda: trainer.loop.step > 5)
    trainer.step()  # pauses the worker, then one batch here
    held = trainer.loop.step
    time.sleep(0.1)
    assert trainer.state == "paused" and trainer.loop.step == held
    assert trainer.stop() and trainer.state == "stopped" and trainer.step() is None


def test_a_run_without_heartbeats_stops_itself(circle):
    trainer = Trainer(toy_mlp(), long_config(heartbeat_timeout=0.3), circle, limiter=RunLimiter(1))
    trainer.start()
    assert wait_for(lambda: trainer.state == "stopped", timeout=3)
    assert "heartbeat" in trainer.status.message
    assert wait_for(lambda: not trainer.thread.is_alive(), timeout=1)


def test_runs_stop_at_the_time_cap(circle):
    trainer = Trainer(toy_mlp(), long_config(max_seconds=0.2), circle, limiter=RunLimiter(1))
    trainer.start()
    assert wait_for(lambda: trainer.state == "stopped", timeout=3) and "time limit" in trainer.status.message


def test_the_limiter_queues_runs_beyond_its_slots(circle):
    limiter = RunLimiter(1)
    first = Trainer(toy_mlp(), long_config(), circle, limiter=limiter)
    second = Trainer(toy_mlp(), long_config(), circle, limiter=limiter)
    first.start()
    assert wait_for(lambda: first.state == "running")
    second.start()
    assert wait_for(lambda: second.status.queue_position == 1)
    time.sleep(0.1)
    assert second.state == "queued" and second.loop.step == 0
    first.stop()
    assert wait_for(lambda: second.state == "running" and second.loop.step > 0)
    second.stop()
    assert limiter.running == 0 and limiter.waiting == 0


def test_reset_starts_again_from_fresh_weights(circle):
    trainer = Trainer(toy_mlp(), long_config(), circle, limiter=RunLimiter(1))
    initial = save_weights(trainer.model)
    trainer.step()
    trainer.reset()
    assert trainer.state == "idle" and trainer.loop.step == 0 and trainer.records() == []
    assert save_weights(trainer.model) == initial and trainer.status.generation == 1


def test_a_failing_run_reports_failed(circle):
    trainer = Trainer(toy_mlp(), long_config(), circle, limiter=RunLimiter(1))
    trainer.loop.train_batch = lambda *a, **k: 1 / 0
    trainer.start()
    assert wait_for(lambda: trainer.state == "failed") and "ZeroDivisionError" in trainer.status.message


# ------------------------------------------------------------------ weights
def test_weights_round_trip_as_safetensors_and_state_dict(digits):
    trained = Loop(TINY_CNN, TrainConfig(seed=1, device="cpu"), digits).model
    fresh = Loop(TINY_CNN, TrainConfig(seed=2, device="cpu"), digits).model
    load_weights(fresh, save_weights(trained))
    for a, b in zip(trained.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    other = Loop(TINY_CNN, TrainConfig(seed=3, device="cpu"), digits).model
    buf = io.BytesIO()
    torch.save(trained.state_dict(), buf)
    load_weights(other, buf.getvalue())
    assert all(torch.equal(a, b) for a, b in zip(trained.parameters(), other.parameters()))


def test_foreign_and_corrupted_weights_are_refused(digits, circle):
    cnn = Loop(TINY_CNN, TrainConfig(device="cpu"), digits).model
    mlp = Loop(toy_mlp(), TrainConfig(device="cpu"), circle).model
    with pytest.raises(InputError, match="do not match.*(missing|unexpected)"):
        load_weights(cnn, save_weights(mlp))
    wider = Loop(engine.network.presets.get("toy-mlp"), TrainConfig(device="cpu"), data.load("circle", 0, n=200,
                                                                                         classes=3)).model
    with pytest.raises(InputError, match="3 in the file, 2 in the network"):
        load_weights(mlp, save_weights(wider))
    good = save_weights(mlp)
    for bad in (good[: len(good) // 2], good[:8] + b"{not json" + good[17:], b"hello", b""):
        with pytest.raises(InputError):
            load_weights(mlp, bad)


class _Payload:
    """Unpickling this would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_pickle_disguised_as_weights_is_refused_and_never_run(tmp_path, circle):
    mlp = Loop(toy_mlp(), TrainConfig(device="cpu"), circle).model
    target = tmp_path / "pwned"
    raw = pickle.dumps({"0.weight": _Payload(target)})
    buf = io.BytesIO()
    torch.save({"0.weight": _Payload(target)}, buf)  # a torch zip whose pickle holds the payload
    for blob in (raw, buf.getvalue()):
        with pytest.raises(InputError):
            load_weights(mlp, blob)
    assert not target.exists()


# ------------------------------------------------------------------ inference
def test_sample_gives_text_from_the_vocabulary(hello):
    model = Loop(TINY_GRU, TrainConfig(device="cpu"), hello).model
    text = sample(model, hello.vocab, "he", 30, temperature=1.0, seed=0)
    assert len(text) == 30 and set(text) <= set(hello.vocab)
    assert sample(model, hello.vocab, "he", 30, 0.0, seed=1) == sample(model, hello.vocab, "he", 30, 0.0, seed=2)
    assert sample(model, hello.vocab, "", 5, seed=0) == sample(model, hello.vocab, "", 5, seed=0)
    with pytest.raises(InputError, match="does not know"):
        sample(model, hello.vocab, "hex", 3)


def test_sample_with_hidden_state_matches_rereading_the_context(hello):
    model = Loop(TINY_GRU, TrainConfig(device="cpu"), hello).model
    greedy = sample(model, hello.vocab, "hel", 6, temperature=0)
    ids = [hello.vocab.index(c) for c in "hel"]
    with torch.no_grad():
        model.eval()
        for _ in range(6):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    assert greedy == "".join(hello.vocab[i] for i in ids[3:])


def test_evaluate_confusion_matrix_and_accuracy(digits):
    loop = Loop(TINY_CNN, TrainConfig(epochs=1, device="cpu"), digits)
    while not loop.outcome:
        loop.train_batch()
    result = evaluate(loop.model, digits, "test")
    loop.model.eval()
    with torch.no_grad():
        preds = loop.model(digits.x_test).argmax(-1)
    assert result["confusion"].sum() == len(digits.x_test)
    assert result["accuracy"] == pytest.approx((preds == digits.y_test).float().mean().item())
    assert np.trace(result["confusion"]) == len(digits.x_test) - len(result["misclassified"])
    assert set(result["misclassified"]) == set(np.flatnonzero((preds != digits.y_test).numpy()))


def test_predict_grid_gives_probabilities(circle):
    model = Loop(toy_mlp(), TrainConfig(device="cpu"), circle).model
    grid = predict_grid(model, (-1, 1), (-2, 2), n=25)
    assert grid["probs"].shape == (25, 25, 2) and grid["ys"][0] == -2
    np.testing.assert_allclose(grid["probs"].sum(-1), 1, rtol=1e-5)


def test_bad_settings_are_refused():
    for bad in ({"optimizer": "lbfgs"}, {"lr": -1}, {"batch_size": 0}, {"init": "zeros"}, {"erase": 2}):
        with pytest.raises(InputError):
            TrainConfig(**bad).check()
    config = TrainConfig(optimizer="momentum", mixup=0.2)
    assert TrainConfig.from_dict(config.to_dict()) == config and config.learning_rate == 0.01
