"""The engine's registries, each checked against PyTorch: optimisers (made and tuned live as torch.optim would be),
losses (torch.nn.functional, the loss of guessing) and the activation lists derived from the layer registry."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import InputError
from engine.gradients import ACTIVATIONS
from engine.network import RECURRENT, TYPES, layer_names
from engine.network.torch_args import make_module
from engine.training import LOSSES, OPTIMIZERS, TrainConfig, compute_loss, make_optimizer, owners, resolve_loss
from engine.training.config import apply_settings, live_config

FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}
HYPER = ("momentum", "nesterov", "betas", "alpha")  # what the registry sets in a parameter group besides lr


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


# ------------------------------------------------------------------ optimisers
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimiser_is_the_torch_optimiser_its_formula_names(name):
    opt = OPTIMIZERS[name]
    assert opt.name == name and set(opt.settings) <= FIELDS and opt.description and opt.default_lr > 0
    config = TrainConfig(optimizer=name, momentum=0.8, betas=(0.7, 0.99), alpha=0.95)
    made = make_optimizer(_model(), config, config.learning_rate)
    assert type(made) is opt.torch_class and opt.formula.startswith(f"torch.optim.{opt.torch_class.__name__}")
    assert TrainConfig(optimizer=name).learning_rate == opt.default_lr
    torch_own = {"sgd": dict(momentum=0.0), "momentum": dict(momentum=0.8), "nesterov": dict(momentum=0.8, nesterov=True),
                 "adagrad": {}, "rmsprop": dict(alpha=0.95), "adam": dict(betas=(0.7, 0.99))}[name]
    reference = opt.torch_class(_model().parameters(), lr=opt.default_lr, **torch_own)
    for group in made.param_groups:
        for key in HYPER:
            assert group.get(key) == reference.param_groups[0].get(key), key
        assert group["lr"] == reference.param_groups[0]["lr"]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_live_change_reaches_the_param_groups_as_a_fresh_optimiser_would_have_it(name):
    old = TrainConfig(optimizer=name, lr=0.1)
    changes = {"lr": 0.02, **{s: {"momentum": 0.5, "betas": (0.8, 0.9), "alpha": 0.7}[s]
                              for s in OPTIMIZERS[name].settings}}
    new = live_config(old, changes)
    optimizer = make_optimizer(_model(), old, old.learning_rate)
    reported = apply_settings(optimizer, old, new)
    fresh = make_optimizer(_model(), new, new.learning_rate)
    for mine, theirs in zip(optimizer.param_groups, fresh.param_groups):
        assert {k: mine.get(k) for k in ("lr", *HYPER)} == {k: theirs.get(k) for k in ("lr", *HYPER)}
    assert [c["setting"] for c in reported] == [k for k in ("lr", "momentum", "betas", "alpha") if k in changes]


def test_owners_come_from_the_registry_and_guard_live_changes():
    assert owners("momentum") == ("momentum", "nesterov") and owners("betas") == ("adam",)
    assert owners("alpha") == ("rmsprop",) and owners("lr") == () and owners("weight_decay") == ()
    assert OPTIMIZERS["adam"].uses("lr") and OPTIMIZERS["adam"].uses("betas") and not OPTIMIZERS["adam"].uses("alpha")
    with pytest.raises(InputError, match="momentum belongs to the momentum and nesterov optimiser; this run uses adam"):
        live_config(TrainConfig(optimizer="adam"), {"momentum": 0.5})
    assert live_config(TrainConfig(optimizer="adam"), {"momentum": 0.9}).momentum == 0.9  # unchanged: accepted


def test_nesterov_without_momentum_is_plain_sgd_live_too():
    optimizer = make_optimizer(_model(), TrainConfig(optimizer="nesterov", momentum=0.0), 0.01)
    assert all(not g["nesterov"] for g in optimizer.param_groups)
    OPTIMIZERS["nesterov"].apply(optimizer, 0.01, TrainConfig(optimizer="nesterov", momentum=0.9))
    assert all(g["nesterov"] and g["momentum"] == 0.9 for g in optimizer.param_groups)


# ------------------------------------------------------------------ losses
def test_each_loss_is_torch_functional():
    torch.manual_seed(0)
    scores, labels = torch.randn(5, 3), torch.tensor([0, 2, 1, 1, 0])
    assert compute_loss("cross-entropy", scores, labels) == F.cross_entropy(scores, labels)
    assert compute_loss("hinge", scores, labels) == F.multi_margin_loss(scores, labels)
    assert compute_loss("mse", scores, labels) == F.mse_loss(scores.softmax(-1), F.one_hot(labels, 3).float())
    chars, ids = torch.randn(2, 4, 3), torch.randint(0, 3, (2, 4))
    assert compute_loss("cross-entropy", chars, ids) == F.cross_entropy(chars.reshape(8, 3), ids.reshape(8))
    values, targets = torch.randn(5, 1), torch.randn(5)
    assert compute_loss("mse", values, targets) == F.mse_loss(values, targets.reshape(5, 1))
    with pytest.raises(ValueError, match="resolve_loss"):
        compute_loss("auto", scores, labels)


@pytest.mark.parametrize("classes", [2, 3, 10])
def test_chance_is_the_loss_torch_gives_uniform_scores(classes):
    uniform, labels = torch.zeros(classes, classes), torch.arange(classes)  # every class once, all scores equal
    for name, loss in LOSSES.items():
        if loss.fn is not None and loss.chance is not None:  # bce has no class scores: its chance is the mean image
            assert loss.chance(classes) == pytest.approx(compute_loss(name, uniform, labels).item()), name


def test_resolve_loss_reads_the_registry():
    assert resolve_loss("auto", "classification") == "cross-entropy" and resolve_loss("auto", "char") == "cross-entropy"
    assert resolve_loss("auto", "regression") == "mse" and resolve_loss("hinge", "char") == "hinge"
    for name in ("cross-entropy", "hinge"):
        with pytest.raises(InputError, match=f"{name} needs class labels; the regression targets here are numbers"):
            resolve_loss(name, "regression")
    assert all(l.description and l.formula for l in LOSSES.values())


# ------------------------------------------------------------------ activations
def test_activation_lists_come_from_the_layer_registry():
    assert layer_names("Activation") == ("Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softmax", "Maxout")
    assert layer_names("Activation", elementwise=True) == ("Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU")
    assert ACTIVATIONS == (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.ELU)
    assert set(RECURRENT) < set(layer_names("Recurrent")) and "Embedding" not in RECURRENT
    assert all(TYPES[n].category == "Activation" for n in layer_names("Activation", elementwise=False))


@pytest.mark.parametrize("name", layer_names("Activation"))
def test_elementwise_means_a_diagonal_jacobian(name):
    """Each output depends on its own input only: autograd's Jacobian of the torch module is diagonal."""
    module = make_module(name, {"Maxout": {"pieces": 2}, "Softmax": {"dim": -1}}.get(name, {}))
    x = torch.randn(1, 6)
    jacobian = torch.autograd.functional.jacobian(module, x).reshape(-1, 6)
    diagonal = jacobian.shape == (6, 6) and torch.equal(jacobian, torch.diag(torch.diagonal(jacobian)))
    assert diagonal == TYPES[name].elementwise
