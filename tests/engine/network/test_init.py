"""engine.network.init: initialisation schemes by their statistics, and the depth lab's networks."""
import math

import pytest
import torch
from torch import nn

import engine
from engine import gradients
from engine.network.init import DEPTH_LABS, SCHEMES, depth_lab, init_weights, make_depth_mlp


def wide_model():
    return nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Conv2d(50, 64, 3), nn.LSTM(100, 200))


@pytest.mark.parametrize("scheme,std", [("normal-0.01", lambda fan_in: 0.01),
                                        ("xavier", lambda fan_in: math.sqrt(1 / fan_in)),
                                        ("he", lambda fan_in: math.sqrt(2 / fan_in))])
def test_schemes_draw_weights_with_the_stated_spread(scheme, std):
    model = init_weights(wide_model(), scheme, seed=0)
    linear, conv, lstm = model[0], model[2], model[3]
    for weight, fan_in in [(linear.weight, 400), (conv.weight, 50 * 9),
                           (lstm.weight_ih_l0, 100), (lstm.weight_hh_l0, 200)]:
        assert weight.std().item() == pytest.approx(std(fan_in), rel=0.03)
        assert abs(weight.mean().item()) < 0.05 * std(fan_in)
    assert all(torch.all(b == 0) for name, b in model.named_parameters() if "bias" in name)


def test_default_scheme_is_pytorchs_own_and_seeds_are_reproducible():
    model = init_weights(wide_model(), "default", seed=3)
    bound = 1 / math.sqrt(400)
    assert model[0].weight.abs().max().item() <= bound and model[0].bias.abs().max().item() > 0
    again = init_weights(wide_model(), "default", seed=3)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))


def test_a_seed_leaves_the_global_generator_alone():
    model = wide_model()  # construction draws from the global RNG: do it first
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    init_weights(model, "he", seed=1)
    init_weights(model, "default", seed=1)
    assert torch.equal(torch.rand(3), expected)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="he"):
        init_weights(nn.Linear(2, 2), "orthogonal")
    assert set(SCHEMES) == {"default", "normal-0.01", "xavier", "he"}


def test_make_depth_mlp_structure():
    spec = make_depth_mlp(depth=4, width=16, activation="ReLU", batch_norm=True, residual=True,
                          input_shape=[1, 8, 8], num_classes=3)
    types = [layer["type"] for layer in spec.layers]
    assert types == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Residual", "Residual", "Residual", "Linear"]
    assert [l["type"] for l in spec.layers[4]["layers"]] == ["Linear", "BatchNorm1d", "ReLU"]
    summary = engine.summarize(spec)
    assert summary.output_shape == (3,)
    assert summary.total_params == (64 * 16 + 16) + 3 * (16 * 16 + 16) + 4 * 32 + (16 * 3 + 3)
    assert make_depth_mlp(depth=2, input_shape=64).layers[0]["type"] == "Linear"


def test_depth_labs_show_vanishing_and_its_repairs():
    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    ratio = {}
    for name in DEPTH_LABS:
        spec, scheme = depth_lab(name)
        model = init_weights(engine.build(spec, seed=0), scheme, seed=0)
        norms = [v for label, v in gradients.layer_grad_norms(model, x, y) if label.endswith("Linear")]
        ratio[name] = norms[0] / norms[-2]  # first hidden layer vs last hidden layer
    assert ratio["10-layer sigmoid, small init"] < 1e-8
    assert ratio["10-layer ReLU, He init"] > 1e-2
    assert ratio["10-layer sigmoid, batch norm"] > 1e-2
    assert ratio["plain 20-layer"] < 1e-8 and ratio["residual 20-layer"] > 1e-2
