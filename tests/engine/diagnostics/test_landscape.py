"""The loss line and plane against the model's own evaluated loss; filter normalisation; the grid cap."""
import pytest
import torch
import torch.nn.functional as F

import engine
from engine import data, diagnostics, limits
from engine.diagnostics import landscape
from engine.errors import InputError
from engine.network import presets


def _net(seed=0):
    spec = engine.ModelSpec.from_dict({"input": [2], "layers": [
        {"type": "Linear", "out_features": 8}, {"type": "BatchNorm1d"}, {"type": "Tanh"},
        {"type": "Linear", "out_features": 2}]})
    return engine.build(spec, seed=seed)


def _eval(model, state, x, y):
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        return F.cross_entropy(model(x), y).item()


def test_the_line_at_0_and_1_is_the_loss_of_each_state():
    x, y = torch.randn(40, 2), torch.randint(0, 2, (40,))
    start, end = _net(0).state_dict(), _net(1).state_dict()
    end["1.running_mean"] += 0.3  # batch-norm statistics are interpolated too
    model = _net(2)
    own = {k: v.clone() for k, v in model.state_dict().items()}
    line = diagnostics.loss_line(model, start, end, x, y, "cross-entropy", [-0.5, 0.0, 0.5, 1.0, 1.5])
    assert all(torch.equal(own[k], v) for k, v in model.state_dict().items())
    assert line[1] == _eval(_net(), start, x, y) and line[3] == _eval(_net(), end, x, y)
    assert len(line) == 5 and line[2] != line[1]


def test_the_planes_centre_is_the_models_loss_and_its_weights_stay_bit_for_bit():
    model = _net().train()
    x, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    plane = diagnostics.loss_plane(model, x, y, "cross-entropy", steps=5, span=0.5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and model.training
    assert plane.alphas == [-0.5, -0.25, 0.0, 0.25, 0.5] == plane.betas
    assert plane.losses[2][2] == plane.centre == _eval(_net(), before, x, y)
    assert len(plane.losses) == 5 and all(len(row) == 5 for row in plane.losses)
    assert plane.losses[0][0] != plane.centre
    again = diagnostics.loss_plane(model, x, y, "cross-entropy", steps=5, span=0.5)
    assert again.losses == plane.losses  # seeded directions


def test_an_even_grid_still_holds_the_trained_point():
    plane = diagnostics.loss_plane(_net(), torch.randn(8, 2), torch.randint(0, 2, (8,)), "auto", steps=4)
    assert 0.0 in plane.alphas and len(plane.alphas) == 4


def test_filter_normalised_directions_have_each_filters_norm():
    model = engine.build(presets.get("mnist-cnn"), seed=0)
    direction = diagnostics.random_direction(model, torch.Generator().manual_seed(0))
    checked = 0
    for (name, p), d in zip(model.named_parameters(), direction):
        if p.dim() <= 1:  # biases and batch norm: no direction
            assert not d.any(), name
            continue
        for w_f, d_f in zip(p.detach(), d):
            assert d_f.norm().item() == pytest.approx(w_f.norm().item(), rel=1e-5)
            checked += 1
    assert checked > 32


def test_a_grid_over_the_cap_is_refused_naming_it():
    model = _net()
    with pytest.raises(InputError, match="PLAYGROUND_MAX_LANDSCAPE_POINTS") as err:
        diagnostics.loss_plane(model, torch.randn(4, 2), torch.zeros(4, dtype=torch.long), "auto", steps=101)
    assert f"{limits.MAX_LANDSCAPE_POINTS:,}" in str(err.value)
    with pytest.raises(InputError, match="PLAYGROUND_MAX_LANDSCAPE_POINTS"):
        diagnostics.loss_line(model, model.state_dict(), model.state_dict(), torch.randn(4, 2),
                              torch.zeros(4, dtype=torch.long), "auto", [0.0] * (limits.MAX_LANDSCAPE_POINTS + 1))


def test_a_line_without_initial_weights_says_what_is_missing():
    model = _net()
    with pytest.raises(InputError, match="start weights"):
        diagnostics.loss_line(model, None, model.state_dict(), torch.randn(4, 2), torch.zeros(4, dtype=torch.long),
                              "auto", [0.0])


@pytest.mark.parametrize("preset,dataset,loss", [("toy-mlp", "circle", "cross-entropy"),
                                                 ("autoencoder", "mnist", "mse"),
                                                 ("char-rnn", "hello", "cross-entropy")])
def test_the_plane_works_for_classifiers_autoencoders_and_character_models(preset, dataset, loss):
    ds = data.load(dataset, 0)
    spec, _ = data.adapt_spec(presets.get(preset), ds)
    model = engine.build(spec, seed=0)
    x, y = ds.split("val")
    x, y = x[:16], y[:16]
    if data.autoencodes(spec):
        y = x
    plane = diagnostics.loss_plane(model, x, y, loss, steps=3)
    assert plane.losses[1][1] == plane.centre and all(v == v for row in plane.losses for v in row)


def test_regression_loss_plane():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    x, y = torch.randn(20, 3), torch.randn(20, 1)
    plane = diagnostics.loss_plane(model, x, y, "mse", steps=3)
    with torch.no_grad():
        assert plane.centre == F.mse_loss(model(x), y).item()


def test_pca_directions_project_the_trajectory_and_need_one():
    model = _net()
    x, y = torch.randn(32, 2), torch.randint(0, 2, (32,))
    with pytest.raises(InputError, match="trajectory"):
        diagnostics.loss_plane(model, x, y, "auto", directions="pca")
    trajectory = [_net(s).state_dict() for s in (3, 4, 5)] + [model.state_dict()]
    plane = diagnostics.loss_plane(model, x, y, "auto", steps=5, directions="pca", trajectory=trajectory)
    assert len(plane.trajectory) == 4 and plane.trajectory[-1] == pytest.approx((0.0, 0.0), abs=1e-9)
    assert plane.losses[2][2] == plane.centre and 0 < sum(plane.explained) <= 1 + 1e-9


def test_a_large_batch_is_evaluated_in_chunks_to_the_same_loss():
    model = _net()
    x, y = torch.randn(300, 2), torch.randint(0, 2, (300,))  # three chunks of at most 128
    line = diagnostics.loss_line(model, model.state_dict(), model.state_dict(), x, y, "cross-entropy", [0.0])
    assert line[0] == pytest.approx(_eval(_net(), model.state_dict(), x, y), rel=1e-6)


def _conv_net(seed=0):
    spec = engine.ModelSpec.from_dict({"input": [1, 8, 8], "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}, {"type": "Linear", "out_features": 3}]})
    return engine.build(spec, seed=seed)


def test_a_convolutional_line_is_pytorchs_loss_and_leaves_the_layout_alone():
    """Convolutions run channels-last during the line (float rounding only); the model keeps its own layout."""
    x, y = torch.randn(300, 1, 8, 8), torch.randint(0, 3, (300,))
    start, end = _conv_net(0).state_dict(), _conv_net(1).state_dict()
    model = _conv_net(2)
    own = {k: v.clone() for k, v in model.state_dict().items()}
    line = diagnostics.loss_line(model, start, end, x, y, "cross-entropy", [0.0, 0.5, 1.0])
    assert line[0] == pytest.approx(_eval(_conv_net(), start, x, y), rel=1e-6)
    assert line[2] == pytest.approx(_eval(_conv_net(), end, x, y), rel=1e-6)
    half = {k: 0.5 * start[k] + 0.5 * end[k] for k in start}
    assert line[1] == pytest.approx(_eval(_conv_net(), half, x, y), rel=1e-6)
    assert all(torch.equal(own[k], v) for k, v in model.state_dict().items())
    assert all(p.is_contiguous() for p in model.parameters())


def test_chunks_on_several_threads_give_the_same_numbers_as_on_one(monkeypatch):
    model = _conv_net()
    x, y = torch.randn(400, 1, 8, 8), torch.randint(0, 3, (400,))  # four chunks
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        monkeypatch.setattr(limits, "LANDSCAPE_THREADS", 1)
        assert landscape._workers(model, 4) == 1
        one = diagnostics.loss_plane(model, x, y, "cross-entropy", steps=3)
        monkeypatch.setattr(limits, "LANDSCAPE_THREADS", 2)
        assert landscape._workers(model, 4) == 2
        two = diagnostics.loss_plane(model, x, y, "cross-entropy", steps=3)
    finally:
        torch.set_num_threads(before)  # new threads inherit the last value set: leave it as it was
    assert one.losses == two.losses and one.centre == two.centre
