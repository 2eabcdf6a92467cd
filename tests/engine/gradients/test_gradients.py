"""engine.gradients and engine.gradients.unroll against PyTorch: weight-gradient norms, ∂L/∂h_t, W_hh radius, activations."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import engine
from engine import gradients
from engine.gradients.unroll import recurrent_radii, recurrent_radius, set_recurrent_radius, unroll
from engine.network import presets
from engine.network.modules import Recurrent

T, FEATURES, HIDDEN, CLASSES, BATCH = 7, 3, 5, 4, 6
CELLS = {"RNN": nn.RNNCell, "LSTM": nn.LSTMCell, "GRU": nn.GRUCell}


def seq_model(cell, num_layers=1, output="last", nonlinearity="tanh", seed=0):
    """Linear + Tanh on each step, the recurrent layer, a Linear head; float64 for tight comparisons."""
    rec = {"type": cell, "hidden_size": HIDDEN, "num_layers": num_layers, "output": output}
    if cell == "RNN":
        rec["nonlinearity"] = nonlinearity
    spec = engine.ModelSpec.from_dict({"input": [T, FEATURES], "layers": [
        {"type": "Linear", "out_features": 4}, {"type": "Tanh"}, rec,
        {"type": "Linear", "out_features": CLASSES}]})
    return engine.build(spec, seed=seed).double().eval()


def batch(output, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, T, FEATURES, dtype=torch.float64, generator=g)
    shape = (BATCH, T) if output == "sequence" else (BATCH,)
    return x, torch.randint(0, CLASSES, shape, generator=g)


def cell_reference(model, x, y):
    """Total ∂L/∂h_t (and ∂L/∂c_t) per layer, from nn.*Cell copies of the weights and retain_grad."""
    idx = next(i for i, m in enumerate(model) if isinstance(m, Recurrent))
    rec = model[idx]
    rnn, kind = rec.rnn, rec.cell
    inp = model[:idx](x)
    hs, cs = [], []
    for layer in range(rnn.num_layers):
        extra = {"nonlinearity": rnn.nonlinearity} if kind == "RNN" else {}
        cell = CELLS[kind](inp.shape[-1], rnn.hidden_size, **extra).double()
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(rnn, f"{name}_l{layer}"))
        h = torch.zeros(x.shape[0], rnn.hidden_size, dtype=x.dtype)
        c = torch.zeros_like(h)
        h_seq, c_seq = [], []
        for t in range(inp.shape[1]):
            if kind == "LSTM":
                h, c = cell(inp[:, t], (h, c))
                c.retain_grad()
                c_seq.append(c)
            else:
                h = cell(inp[:, t], h)
            h.retain_grad()
            h_seq.append(h)
        hs.append(h_seq)
        cs.append(c_seq)
        inp = torch.stack(h_seq, dim=1)
    out = {"sequence": inp, "last": inp[:, -1], "mean": inp.mean(dim=1)}[rec.output]
    logits = model[idx + 1:](out)
    F.cross_entropy(logits.reshape(-1, CLASSES), y.reshape(-1)).backward()

    def norms(seq):
        return np.array([s.grad.norm(dim=1).mean().item() for s in seq])
    return [norms(s) for s in hs], [norms(s) for s in cs if s]


# ---------------------------------------------------------------------------------------------- unroll

@pytest.mark.parametrize("kind,nonlinearity", [("RNN", "tanh"), ("RNN", "relu"), ("LSTM", "tanh"), ("GRU", "tanh")])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_unroll_matches_torch_layer(kind, nonlinearity, num_layers):
    torch.manual_seed(0)
    extra = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
    rnn = getattr(nn, kind)(FEATURES, HIDDEN, num_layers=num_layers, batch_first=True, **extra).double()
    x = torch.randn(BATCH, T, FEATURES, dtype=torch.float64)
    out, final = rnn(x)
    states = unroll(rnn, x)
    torch.testing.assert_close(states.output, out, rtol=1e-12, atol=1e-12)
    h_n = final[0] if kind == "LSTM" else final
    torch.testing.assert_close(torch.stack([h[-1] for h in states.h]), h_n, rtol=1e-12, atol=1e-12)
    if kind == "LSTM":
        torch.testing.assert_close(torch.stack([c[-1] for c in states.c]), final[1], rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------- timestep gradients

@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("output", ["sequence", "last", "mean"])
def test_timestep_grad_norms_equal_unrolled_cell_reference(cell, num_layers, output):
    model = seq_model(cell, num_layers, output)
    x, y = batch(output)
    ref_h, ref_c = cell_reference(model, x, y)
    model.zero_grad(set_to_none=True)

    got = gradients.timestep_grad_norms(model, x, y)
    assert got.shape == (T,)
    np.testing.assert_allclose(got, ref_h[-1], rtol=1e-6)
    np.testing.assert_allclose(gradients.timestep_grad_norms(model, x, y, layer=0), ref_h[0], rtol=1e-6)
    if cell == "LSTM":
        both = gradients.timestep_grad_norms(model, x, y, cell_state=True)
        np.testing.assert_allclose(both["h"], ref_h[-1], rtol=1e-6)
        np.testing.assert_allclose(both["c"], ref_c[-1], rtol=1e-6)


def test_relu_rnn_matches_reference():
    model = seq_model("RNN", 2, "sequence", nonlinearity="relu")
    x, y = batch("sequence")
    np.testing.assert_allclose(gradients.timestep_grad_norms(model, x, y), cell_reference(model, x, y)[0][-1],
                               rtol=1e-6)


def test_gradient_of_the_output_tensor_is_only_the_direct_path():
    """Why we unroll: nn.RNN's output gradient misses every path through later steps."""
    model = seq_model("RNN", 1, "sequence")
    x, y = batch("sequence")
    captured = {}
    handle = model[2].register_forward_hook(lambda m, i, out: captured.setdefault("out", out))
    loss = F.cross_entropy(model(x).reshape(-1, CLASSES), y.reshape(-1))
    handle.remove()
    (direct,) = torch.autograd.grad(loss, captured["out"])
    naive = direct.norm(dim=2).mean(dim=0).numpy()
    total = gradients.timestep_grad_norms(model, x, y)
    assert naive[-1] == pytest.approx(total[-1], rel=1e-9)  # the last step has no later steps
    assert np.all(np.abs(naive[:-1] - total[:-1]) > 1e-6 * total[:-1])


def test_timestep_grad_norms_on_token_presets_with_sequence_targets():
    for name in ("char-rnn", "char-lstm", "char-gru"):
        model = engine.build(presets.get(name), seed=0)
        x = torch.randint(0, 32, (4, 32))
        got = gradients.timestep_grad_norms(model, x, torch.roll(x, -1, dims=1))
        assert got.shape == (32,) and np.all(got > 0) and np.all(np.isfinite(got))


def test_recurrent_layer_inside_a_residual_block():
    spec = engine.ModelSpec.from_dict({"input": [T, HIDDEN], "layers": [
        {"type": "Residual", "layers": [{"type": "GRU", "hidden_size": HIDDEN}]},
        {"type": "Linear", "out_features": 1}]})
    model = engine.build(spec, seed=0)
    got = gradients.timestep_grad_norms(model, torch.randn(2, T, HIDDEN), torch.randn(2, T, 1))
    assert got.shape == (T,) and np.all(got > 0)


def test_tanh_rnn_with_small_w_hh_decays_geometrically_back_in_time():
    steps = 30
    spec = engine.ModelSpec.from_dict({"input": [steps, 2], "layers": [
        {"type": "RNN", "hidden_size": 16, "output": "last"}, {"type": "Linear", "out_features": 1}]})
    model = engine.build(spec, seed=0).double()
    assert set_recurrent_radius(model, 0.5, kind="singular") == pytest.approx(0.5)
    x = torch.randn(8, steps, 2, dtype=torch.float64)
    norms = gradients.timestep_grad_norms(model, x, torch.randn(8, 1, dtype=torch.float64))
    # Each step back multiplies by W_hhᵀ diag(tanh') whose norm is at most 0.5 · 1.
    ratios = norms[:-1] / norms[1:]
    assert np.all(ratios <= 0.5 + 1e-9)
    assert norms[0] / norms[-1] < 0.5 ** (steps - 1)


def test_tanh_rnn_with_large_w_hh_grows_back_in_time_in_the_linear_regime():
    steps = 25
    spec = engine.ModelSpec.from_dict({"input": [steps, 2], "layers": [
        {"type": "RNN", "hidden_size": 16, "output": "last"}, {"type": "Linear", "out_features": 1}]})
    model = engine.build(spec, seed=0).double()
    with torch.no_grad():
        model[0].rnn.bias_ih_l0.zero_()
        model[0].rnn.bias_hh_l0.zero_()
    assert set_recurrent_radius(model, 1.5) == pytest.approx(1.5)
    x = 1e-8 * torch.randn(8, steps, 2, dtype=torch.float64)  # tiny states: tanh' ≈ 1
    norms = gradients.timestep_grad_norms(model, x, torch.zeros(8, 1, dtype=torch.float64))
    assert np.all(norms[:-1] > norms[1:] * 0.99) and norms[0] / norms[-1] > 1e3
    # Far back the dominant eigenvalue takes over: about ×1.5 per step (a complex pair rotates, so average).
    assert (norms[0] / norms[12]) ** (1 / 12) == pytest.approx(1.5, rel=0.1)


def test_timestep_grad_norms_refuses_what_it_cannot_measure():
    spec = engine.ModelSpec.from_dict({"input": [T, FEATURES], "layers": [
        {"type": "LSTM", "hidden_size": 4, "bidirectional": True, "output": "last"},
        {"type": "Linear", "out_features": 2}]})
    x, y = torch.randn(2, T, FEATURES), torch.randint(0, 2, (2,))
    with pytest.raises(ValueError, match="bidirectional"):
        gradients.timestep_grad_norms(engine.build(spec), x, y)
    with pytest.raises(ValueError, match="cell state"):
        gradients.timestep_grad_norms(seq_model("GRU"), *batch("last"), cell_state=True)
    with pytest.raises(ValueError, match="no RNN"):
        gradients.timestep_grad_norms(nn.Linear(3, 2), torch.randn(2, 3), torch.randn(2, 2))


# ------------------------------------------------------------------------------------ layer gradients

def test_layer_grad_norms_equal_grads_after_a_manual_backward():
    model = engine.build(presets.get("resnet-mini"), seed=0)
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    got = gradients.layer_grad_norms(model, x, y)
    running = model[1].running_mean.clone()

    F.cross_entropy(model(x), y).backward()
    expected = [(name, p.grad.norm().item()) for name, p in model.named_parameters()
                if name.rpartition(".")[2] == "weight"]
    assert [label for label, _ in got] == [
        "0 Conv2d", "1 BatchNorm2d γ", "3.0 Conv2d", "3.1 BatchNorm2d γ", "3.3 Conv2d", "3.4 BatchNorm2d γ",
        "5.0 Conv2d", "5.1 BatchNorm2d γ", "5.3 Conv2d", "5.4 BatchNorm2d γ", "5.shortcut Conv2d", "9 Linear"]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in expected], rtol=1e-5)
    assert not torch.equal(running, model[1].running_mean)  # the manual pass moved the statistics; ours did not


def test_layer_grad_norms_label_recurrent_matrices_and_leave_the_model_untouched():
    model = engine.build(presets.get("char-lstm"), seed=0)
    x = torch.randint(0, 32, (4, 32))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    got = gradients.layer_grad_norms(model, x, torch.roll(x, -1, dims=1))
    assert [label for label, _ in got] == ["0 Embedding", "1 LSTM weight_ih_l0", "1 LSTM weight_hh_l0", "2 Linear"]
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training


def test_grad_fields_and_modes_survive_every_function():
    model = seq_model("LSTM", 2, "sequence").train()
    model[0].eval()
    x, y = batch("sequence")
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    gradients.layer_grad_norms(model, x, y)
    gradients.timestep_grad_norms(model, x, y)
    gradients.activation_stats(model, x)
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in model.parameters())
    assert [m.training for m in model] == [False, True, True, True]
    assert not any(m._forward_hooks for m in model.modules())


def test_default_loss():
    logits, ids = torch.randn(2, 3, 5), torch.randint(0, 5, (2, 3))
    assert gradients.default_loss(logits, ids) == pytest.approx(
        F.cross_entropy(logits.permute(0, 2, 1), ids).item(), rel=1e-6)
    out, target = torch.randn(4, 1), torch.randn(4)
    assert gradients.default_loss(out, target) == pytest.approx(F.mse_loss(out[:, 0], target).item(), rel=1e-6)


# ----------------------------------------------------------------------------------------- W_hh radius

@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kind", ["spectral", "singular"])
def test_set_recurrent_radius_rescales_every_square_block(cell, kind):
    model = seq_model(cell, num_layers=2)
    after = set_recurrent_radius(model, 1.3, kind=kind)
    assert after == pytest.approx(1.3, rel=1e-9)
    radii = recurrent_radii(model, kind)
    assert len(radii) == 2 * {"RNN": 1, "LSTM": 4, "GRU": 3}[cell]
    assert all(v == pytest.approx(1.3, rel=1e-9) for _, v in radii)
    w = model[2].rnn.weight_hh_l1.detach()[:HIDDEN]
    measured = (torch.linalg.eigvals(w).abs().max() if kind == "spectral" else torch.linalg.svdvals(w)[0]).item()
    assert measured == pytest.approx(1.3, rel=1e-9)


def test_radius_of_a_bare_torch_layer_and_bad_kinds():
    rnn = nn.RNN(3, 8)
    assert recurrent_radius(rnn, "singular") >= recurrent_radius(rnn, "spectral")  # σ_max ≥ |λ|_max
    with pytest.raises(ValueError, match="spectral"):
        recurrent_radius(rnn, "frobenius")
    with pytest.raises(ValueError, match="no RNN"):
        set_recurrent_radius(nn.Linear(2, 2), 1.0)


# ---------------------------------------------------------------------------------------- activations

def test_activation_stats_match_a_manual_forward():
    spec = engine.ModelSpec.from_dict({"input": [6], "layers": [
        {"type": "Linear", "out_features": 20}, {"type": "Sigmoid"},
        {"type": "Residual", "layers": [{"type": "Linear", "out_features": 20}, {"type": "Tanh"}]},
        {"type": "Linear", "out_features": 20}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]})
    model = engine.build(spec, seed=0)
    with torch.no_grad():
        model[0].weight.mul_(20)  # push the sigmoid into saturation
    x = torch.randn(64, 6)
    stats = gradients.activation_stats(model, x)
    assert [s["name"] for s in stats] == ["1 Sigmoid", "2.1 Tanh", "4 ReLU"]

    with torch.no_grad():
        s1 = model[1](model[0](x))
        t = model[2].body(s1)
        r = model[4](model[3](s1 + t))
    sig, tanh, relu = stats
    assert sig["mean"] == pytest.approx(s1.mean().item(), rel=1e-5)
    assert sig["std"] == pytest.approx(s1.std(unbiased=False).item(), rel=1e-5)
    assert sig["saturated"] == pytest.approx(((s1 < 0.01) | (s1 > 0.99)).float().mean().item())
    assert sig["saturated"] > 0.3 and sig["dead"] is None
    assert tanh["saturated"] == pytest.approx((t.abs() > 0.99).float().mean().item())
    assert relu["dead"] == pytest.approx((r == 0).float().mean().item())
    assert relu["dead_units"] == pytest.approx((r == 0).all(dim=0).float().mean().item())
    assert relu["saturated"] is None
    for s in stats:
        assert len(s["counts"]) == 30 and len(s["edges"]) == 31 and sum(s["counts"]) == 64 * 20
    assert sig["edges"][0] == 0.0 and sig["edges"][-1] == 1.0 and tanh["edges"][0] == -1.0


def test_activation_stats_leave_batchnorm_statistics_and_hooks_alone():
    model = engine.build(presets.get("resnet-mini"), seed=0).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stats = gradients.activation_stats(model, torch.randn(4, 1, 8, 8))
    assert len(stats) == 5 and all(s["type"] == "ReLU" for s in stats)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m._forward_hooks for m in model.modules()) and model.training


@pytest.mark.parametrize("name,module", [("Sigmoid", nn.Sigmoid()), ("Tanh", nn.Tanh()), ("ReLU", nn.ReLU()),
                                         ("LeakyReLU", nn.LeakyReLU()), ("ELU", nn.ELU())])
def test_derivative_bound_is_the_largest_slope(name, module):
    x = torch.linspace(-20, 20, 40_001, dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(module(x).sum(), x)
    assert gradients.derivative_bound(name) == pytest.approx(slope.abs().max().item(), rel=1e-6)
    assert gradients.derivative_bound(name.lower()) == gradients.derivative_bound(name)


def test_ten_sigmoid_layers_shrink_by_at_least_the_derivative_bound():
    assert gradients.derivative_bound("Sigmoid") ** 10 == pytest.approx(1 / 4 ** 10)
    assert math.log10(4 ** 10) > 6
