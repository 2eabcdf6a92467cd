"""Norms in float64, recurrent gate statistics, and the device/dtype plumbing, against autograd and torch's layers."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine import gradients
from engine.gradients import figures, lab


def test_layer_norms_of_tiny_and_huge_float32_gradients_are_not_0_or_inf():
    """A float32 norm squares 2e-25 to 0 and 1e24 to inf; the gradient itself is representable in both cases."""
    for scale, bias in ((1e-13, 1e-12), (1e12, 0.0)):
        model = nn.Sequential(nn.Linear(4, 1))
        with torch.no_grad():
            model[0].bias.fill_(bias)
        x = torch.full((3, 4), scale)
        y = torch.zeros(3, 1)
        F.mse_loss(model(x), y).backward()
        reference = model[0].weight.grad
        assert torch.isfinite(reference).all() and (reference != 0).all()
        assert reference.norm().item() in (0.0, float("inf"))  # the float32 norm fails here
        ((label, norm),) = gradients.layer_grad_norms(model, x, y)
        assert label == "0 Linear"
        assert norm == pytest.approx(reference.double().norm().item(), rel=1e-6)


def test_timestep_norms_below_float32_square_range_match_autograd():
    """A tanh RNN with σ_max = 0.1 over 30 steps: ∂L/∂h_1 ~ 1e-29, whose float32 square is 0."""
    torch.manual_seed(0)
    rnn = nn.RNN(3, 8, batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.1 / torch.linalg.matrix_norm(rnn.weight_hh_l0, ord=2))
    head = nn.Linear(8, 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = rnn, head

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])

    model = Net()
    x, y = torch.randn(4, 30, 3), torch.randn(4, 1)
    norms = gradients.timestep_grad_norms(model, x, y)
    # reference: nn.RNNCell with the same weights, retain_grad on every h_t, float32 throughout
    cell = nn.RNNCell(3, 8)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in rnn.state_dict().items()})
    h, hs = torch.zeros(4, 8), []
    for t in range(30):
        h = cell(x[:, t], h)
        h.retain_grad()
        hs.append(h)
    F.mse_loss(head(h), y).backward()
    assert hs[0].grad.norm(dim=1).max().item() == 0.0  # the float32 norm underflows
    expected = np.array([g.grad.double().norm(dim=1).mean().item() for g in hs])
    assert (norms > 0).all() and norms[0] < 1e-22
    np.testing.assert_allclose(norms, expected, rtol=1e-5)


def test_depth_lab_norms_of_50_sigmoid_layers_are_float64_autograd():
    x, y = lab.depth_batch(32)
    model = lab.depth_model(50, 16, "Sigmoid", "default")
    labels, norms = lab.layer_norms(model, x, y)
    reference = copy.deepcopy(model).double()
    F.cross_entropy(reference(x.double()), y).backward()
    linears = [m for m in reference.modules() if isinstance(m, nn.Linear)]
    expected = np.array([m.weight.grad.norm().item() for m in linears])
    assert len(labels) == 51 and (norms > 0).all() and norms[0] < 1e-30  # float32 would say 0
    np.testing.assert_allclose(norms, expected, rtol=1e-9)


def _reference_gates(rnn: nn.RNNBase, x: torch.Tensor, out: torch.Tensor, kind: str) -> torch.Tensor:
    """The forget (LSTM) or update (GRU) gate at every step, from torch's own output and F.linear."""
    h_prev = torch.cat([torch.zeros_like(out[:, :1]), out[:, :-1]], dim=1)  # (N, T, H)
    pre = F.linear(x, rnn.weight_ih_l0, rnn.bias_ih_l0) + F.linear(h_prev, rnn.weight_hh_l0, rnn.bias_hh_l0)
    chunk = 1  # LSTM gates i, f, g, o; GRU gates r, z, n: the second block either way
    return torch.sigmoid(pre.chunk(4 if kind == "LSTM" else 3, dim=-1)[chunk])


@pytest.mark.parametrize("kind", ["RNN-tanh", "RNN-relu", "LSTM", "GRU"])
def test_recurrent_stats_match_torch_layers(kind):
    torch.manual_seed(0)
    cell, _, nonlinearity = kind.partition("-")
    extra = {"nonlinearity": nonlinearity} if cell == "RNN" else {}
    rnn = getattr(nn, cell)(3, 6, batch_first=True, **extra).double()
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(3.0)  # some saturation
    x = 2 * torch.randn(5, 9, 3, dtype=torch.float64)
    out = rnn(x)[0]
    stats = gradients.recurrent_stats(rnn, x.float())  # a float32 batch for a float64 layer: converted
    assert stats["kind"] == cell
    assert stats["saturated"] == pytest.approx((out.abs() > 0.99).double().mean().item(), abs=1e-12)
    if cell == "RNN":
        slope = (out > 0).double() if nonlinearity == "relu" else 1 - out ** 2
        assert stats["slope"] == pytest.approx(slope.mean().item(), rel=1e-6)
        assert stats["gate"] is None
        assert (stats["active"] is None) == (nonlinearity == "tanh")
        if nonlinearity == "relu":
            assert stats["active"] == pytest.approx((out > 0).double().mean().item())
    else:
        gates = _reference_gates(rnn, x.float().double(), rnn(x.float().double())[0], cell)
        assert stats["gate"] == pytest.approx(gates.mean().item(), rel=1e-9)
        assert stats["active"] is None and stats["slope"] is None


def test_recurrent_stats_top_layer_of_a_stack():
    torch.manual_seed(1)
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    bottom = nn.LSTM(3, 4, batch_first=True).double()
    top = nn.LSTM(4, 4, batch_first=True).double()
    bottom.load_state_dict({k: v for k, v in lstm.state_dict().items() if k.endswith("_l0")})
    top.load_state_dict({k.replace("_l1", "_l0"): v for k, v in lstm.state_dict().items() if k.endswith("_l1")})
    mid = bottom(x)[0]
    for layer, (rnn, inp) in ((0, (bottom, x)), (-1, (top, mid))):
        expected = _reference_gates(rnn, inp, rnn(inp)[0], "LSTM").mean().item()
        assert gradients.recurrent_stats(lstm, x, layer=layer)["gate"] == pytest.approx(expected, rel=1e-9)


def test_batches_follow_the_model_to_its_device_and_dtype():
    """The plumbing that lets a CUDA (or float64) model be measured with the page's CPU float32 batches."""
    model = nn.Linear(3, 2, device="meta", dtype=torch.float64)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    moved_x, moved_y = gradients.norms._on_model(model, x, y)
    assert moved_x.device.type == moved_y.device.type == "meta"
    assert moved_x.dtype == torch.float64 and moved_y.dtype == torch.int64
    # and for real: a float64 model measured with float32 inputs gives autograd's float64 numbers
    net = nn.Sequential(nn.Linear(3, 2)).double()
    F.cross_entropy(net(x.double()), y).backward()
    ((_, norm),) = gradients.layer_grad_norms(net, x, y)
    assert norm == pytest.approx(net[0].weight.grad.norm().item(), rel=1e-12)


def test_both_lab_trainers_use_the_default_device_path():
    ds = lab.sequence_task("copy", 6)
    assert lab.depth_trainer(2, 8, "ReLU", "he", epochs=1).config.device == "auto"
    trainer = lab.time_trainer("LSTM", 8, ds, max_seconds=1.0)
    assert trainer.config.device == "auto"
    device = next(trainer.model.parameters()).device
    assert trainer.loop.device == device
    # the compare tab's measurement on the trainer's own model: a float64 copy on that device
    x, y = lab.probe_batch(ds, 4)
    curves = lab.time_norms(trainer.model, x, y)
    assert curves["h"].shape == curves["c"].shape == (6,)
    assert next(trainer.model.parameters()).dtype == torch.float32  # the run's model is untouched


def test_ratio_text_and_gap_labels():
    assert lab.ratio_text(np.array([1e-3, 1.0])) == "0.001"
    assert lab.ratio_text(np.array([0.0, 1.0])).startswith("0: the first norm is below float64")
    assert lab.ratio_text(np.array([np.inf, 1.0])).startswith("not finite")
    assert lab.ratio_text(np.array([np.nan, 1.0])).startswith("not finite")
    assert lab.ratio_text(np.array([1.0, 0.0])).startswith("undefined")
    assert figures.gaps_text([1.0, 2.0]) == ""
    assert figures.gaps_text([0.0, 0.0, np.inf, 1.0]) == ("2 values are exactly 0 (below float64's range) · "
                                                          "1 is not finite (overflowed float64): not drawn")
    fig = figures.timestep_figure({"curve": np.array([0.0, np.nan, 1.0])})
    assert np.isnan(fig.data[0].y[:2]).all() and fig.data[0].y[2] == 1.0  # gaps, not a 1e-30 floor
    assert "not drawn" in fig.layout.annotations[0].text
