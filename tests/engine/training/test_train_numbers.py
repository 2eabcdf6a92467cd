"""engine.training numbers against PyTorch: penalties and clipping, live changes, per-run dropout, seeding, formulas."""
import copy
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import engine
from engine import data
from engine.errors import InputError
from engine.rng import RunDropout
from engine.training import LOSSES, OPTIMIZERS, Loop, RunLimiter, TrainConfig, Trainer, sample
from engine.training.guard import Guard

DROPOUT_CNN = engine.ModelSpec.from_dict({"name": "dropout-cnn", "input": [1, 8, 8], "layers": [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}, {"type": "Dropout", "p": 0.5},
    {"type": "Linear", "out_features": 10}]})


@pytest.fixture(scope="module")
def digits():
    full = data.load("digits", 0)
    small = copy.copy(full)
    small.x_train, small.y_train = full.x_train[:256], full.y_train[:256]
    small.x_val, small.y_val = full.x_val[:64], full.y_val[:64]
    return small


def weights_of(model):
    return [p for p in model.parameters() if p.dim() > 1]


def penalised_loss(model, out, y, l2, l1):
    loss = F.cross_entropy(out, y)
    return loss + l2 / 2 * sum((w ** 2).sum() for w in weights_of(model)) + l1 * sum(w.abs().sum()
                                                                                     for w in weights_of(model))


def assert_same(model_a, model_b):
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ one rule: penalised loss → clip → step
@pytest.mark.parametrize("name, make", [("sgd", lambda p: torch.optim.SGD(p, lr=1.0)),
                                        ("adam", lambda p: torch.optim.Adam(p, lr=0.01))])
def test_weight_decay_and_l1_are_clipped_with_the_loss_gradient(name, make, circle):
    config = TrainConfig(optimizer=name, lr=1.0 if name == "sgd" else 0.01, weight_decay=0.5, l1=0.003,
                         clip_norm=0.01, batch_size=10_000, device="cpu")
    loop = Loop(engine.network.presets.get("toy-mlp"), config, circle)
    model = copy.deepcopy(loop.model)
    opt = make(model.parameters())
    norms = []
    for _ in range(3):
        opt.zero_grad()
        penalised_loss(model, model(loop.x_train), loop.y_train, 0.5, 0.003).backward()
        norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), 0.01)))
        opt.step()
    got = [loop.train_batch(force_metrics=True)[0]["grad_norm_total"] for _ in range(3)]
    assert_same(loop.model, model)
    assert got == pytest.approx(norms, rel=1e-5)  # the reported norm is the penalised gradient's


def test_adam_weight_decay_without_clipping_equals_torchs_own(circle):
    loop = Loop(engine.network.presets.get("toy-mlp"), TrainConfig(optimizer="adam", lr=0.01, weight_decay=0.1,
                                                           batch_size=10_000, device="cpu"), circle)
    model = copy.deepcopy(loop.model)
    decay = weights_of(model)
    rest = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.Adam([{"params": decay, "weight_decay": 0.1}, {"params": rest}], lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(loop.x_train), loop.y_train).backward()
        opt.step()
        loop.train_batch()
    assert_same(loop.model, model)


# ------------------------------------------------------------------ live changes
def test_update_changes_the_next_batch_like_a_hand_written_loop(circle):
    config = TrainConfig(optimizer="momentum", lr=0.1, momentum=0.9, batch_size=10_000, device="cpu")
    trainer = Trainer(engine.network.presets.get("toy-mlp"), config, circle, limiter=RunLimiter(1))
    model = copy.deepcopy(trainer.model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = trainer.loop.x_train, trainer.loop.y_train
    l2 = l1 = clip = 0.0
    for step in range(4):
        if step == 2:
            trainer.update(lr=0.03, momentum=0.5, weight_decay=0.01, l1=0.002, clip_norm=0.05)
            for group in opt.param_groups:
                group.update(lr=0.03, momentum=0.5)
            l2, l1, clip = 0.01, 0.002, 0.05
        opt.zero_grad()
        penalised_loss(model, model(x), y, l2, l1).backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        records = trainer.step()
    assert_same(trainer.model, model)
    status = trainer.status
    assert records[0]["lr"] == 0.03 and status.lr == 0.03 and trainer.config.lr == 0.03
    assert {c["setting"]: (c["old"], c["new"]) for c in status.changes}["lr"] == (0.1, 0.03)
    assert all(c["step"] == 2 for c in status.changes) and len(status.changes) == 5


def test_update_refuses_bad_values_and_fixed_settings_and_keeps_the_run(circle):
    trainer = Trainer(engine.network.presets.get("toy-mlp"), TrainConfig(optimizer="adam", device="cpu"), circle,
                      limiter=RunLimiter(1))
    before = trainer.config
    for bad, match in (({"lr": -1.0}, "learning rate"), ({"lr": "abc"}, "learning rate"),
                       ({"clip_norm": float("nan")}, "clip_norm"), ({"epochs": 3}, "cannot change"),
                       ({"momentum": 0.5}, "momentum"), ({"alpha": 0.5}, "rmsprop"), ({"betas": (0.9, 2.0)}, "beta")):
        with pytest.raises(InputError, match=match):
            trainer.update(**bad)
    assert trainer.config == before
    trainer.update(betas=[0.8, 0.99], momentum=before.momentum)  # an unchanged momentum is no change
    trainer.step()
    assert trainer.loop.optimizer.param_groups[0]["betas"] == (0.8, 0.99)
    trainer.stop()
    with pytest.raises(InputError, match="ended"):
        trainer.update(lr=0.1)


def test_nesterov_gets_its_look_ahead_when_momentum_is_turned_up(circle):
    trainer = Trainer(engine.network.presets.get("toy-mlp"), TrainConfig(optimizer="nesterov", momentum=0.0, lr=0.1,
                                                                 batch_size=10_000, device="cpu"), circle,
                      limiter=RunLimiter(1))
    trainer.update(momentum=0.9)
    trainer.step()
    group = trainer.loop.optimizer.param_groups[0]
    assert group["momentum"] == 0.9 and group["nesterov"] is True


# ------------------------------------------------------------------ random numbers per run
def test_run_dropout_draws_what_torch_dropout_draws_from_the_same_seed():
    x = torch.randn(64, 32)
    torch.manual_seed(5)
    want = F.dropout(x, 0.3, training=True)
    module = RunDropout(0.3)
    module.generator = torch.Generator().manual_seed(5)
    assert torch.equal(module(x), want)
    assert torch.equal(module.eval()(x), x)


def test_a_loops_dropout_uses_its_own_generator_and_build_leaves_the_global_rng_alone(digits):
    state = torch.random.get_rng_state()
    loop = Loop(DROPOUT_CNN, TrainConfig(device="cpu", seed=3), digits)
    assert torch.equal(torch.random.get_rng_state(), state)
    dropout = [m for m in loop.model.modules() if isinstance(m, nn.Dropout)]
    assert len(dropout) == 1 and type(dropout[0]) is RunDropout
    assert type(dropout[0]).__name__ == "Dropout" and repr(dropout[0]) == repr(nn.Dropout(0.5))
    linear = engine.ModelSpec.from_dict({"input": [2], "layers": [{"type": "Linear", "out_features": 3}]})
    torch.manual_seed(0)
    reference = nn.Linear(2, 3)  # torch's own initialisation after manual_seed(0)
    built = engine.build(linear, seed=0)
    assert torch.equal(built[0].weight, reference.weight) and torch.equal(built[0].bias, reference.bias)


def _losses(trainer):
    return [r["train_loss"] for r in trainer.records() if r["kind"] == "step"]


def test_concurrent_seeded_runs_repeat_the_solo_run(digits):
    config = TrainConfig(epochs=2, seed=7, metrics_every=1, batch_size=16, shift=1, device="cpu")
    limiter = RunLimiter(3)
    solo = Trainer(DROPOUT_CNN, config, digits, limiter=limiter)
    solo.start()
    solo.thread.join(60)
    pair = [Trainer(DROPOUT_CNN, config, digits, limiter=limiter) for _ in range(2)]
    done = threading.Event()

    def churn():  # another session building seeded and unseeded models and drawing from the global RNG
        while not done.is_set():
            engine.build(engine.network.presets.get("toy-mlp"), seed=0)
            engine.build(engine.network.presets.get("toy-mlp"))
            torch.rand(100)
            F.dropout(torch.ones(100), 0.5)
    other = threading.Thread(target=churn)
    other.start()
    try:
        for t in pair:
            t.start()
        for t in pair:
            t.thread.join(60)
    finally:
        done.set()
        other.join()
    assert solo.state == "finished" and all(t.state == "finished" for t in pair)
    assert len(_losses(solo)) == 32 and _losses(pair[0]) == _losses(solo) and _losses(pair[1]) == _losses(solo)


# ------------------------------------------------------------------ divergence bookkeeping
def test_the_guard_keeps_the_lowest_loss_weights_and_needs_growth_above_chance():
    state = [torch.zeros(3)]
    guard = Guard(state, chance=0.69)
    for loss, value in ((2.0, 1.0), (1.0, 2.0), (3.0, 3.0)):
        state[0].fill_(value)
        guard.offer(loss, int(value))
    guard.restore()
    assert torch.equal(state[0], torch.full((3,), 2.0)) and guard.good_step == 2
    assert guard.grown("the training loss", 1e-4) is None  # the first loss sets the bar
    assert guard.grown("the training loss", 0.5) is None  # 5000× the first, but still better than guessing
    assert "grew to" in guard.grown("the training loss", 0.8)


# ------------------------------------------------------------------ formulas and small things
def test_every_optimiser_and_loss_has_its_torch_formula():
    assert all(o.formula.startswith("torch.optim.") for o in OPTIMIZERS.values())
    assert all(l.formula for l in LOSSES.values())
    assert "1/C" in LOSSES["hinge"].formula and "look-ahead" in OPTIMIZERS["nesterov"].formula


def test_torch_nesterov_stores_the_look_ahead_of_the_course_form():
    w = torch.tensor([1.0], requires_grad=True)  # f(w) = w²/2, so ∇f(w) = w
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9, nesterov=True)
    course_w, v, torch_ws, course_ws = 1.0, 0.0, [], []
    for _ in range(2):
        opt.zero_grad()
        (w ** 2 / 2).sum().backward()
        opt.step()
        v = 0.9 * v - 0.1 * (course_w + 0.9 * v)  # v ← μv − η∇f(w + μv)
        course_w += v
        torch_ws.append(w.item())
        course_ws.append(course_w + 0.9 * v)  # the look-ahead point w + μv
    assert torch_ws == pytest.approx(course_ws) and torch_ws == pytest.approx([0.81, 0.5751])


@pytest.mark.parametrize("epochs, message", [(1, "finished 1 epoch"), (2, "finished 2 epochs")])
def test_the_finish_message_counts_epochs(epochs, message, circle):
    loop = Loop(engine.network.presets.get("toy-mlp"), TrainConfig(epochs=epochs, batch_size=64, device="cpu"), circle)
    while not loop.outcome:
        loop.train_batch()
    assert loop.outcome == ("finished", message)


def test_a_tiny_temperature_samples_greedily():
    hello = data.load("hello", 0)
    model = Loop(engine.network.presets.get("char-gru"), TrainConfig(device="cpu"), hello).model
    greedy = sample(model, hello.vocab, "he", 20, temperature=0.0)
    assert sample(model, hello.vocab, "he", 20, temperature=1e-30) == greedy


def test_truncated_bptt_on_a_many_to_one_dataset_is_noted():
    adding = data.load("adding", 0, n=200)
    spec = engine.ModelSpec.from_dict({"name": "gru", "input": [50, 2], "layers": [
        {"type": "GRU", "hidden_size": 8, "output": "last"}, {"type": "Linear", "out_features": 1}]})
    trainer = Trainer(spec, TrainConfig(dataset="adding", bptt=5, device="cpu"), adding, limiter=RunLimiter(1))
    assert any("truncated BPTT (bptt=5) is not used" in n for n in trainer.status.notes)
    assert not Trainer(spec, TrainConfig(dataset="adding", device="cpu"), adding,
                       limiter=RunLimiter(1)).status.notes
