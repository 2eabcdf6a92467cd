"""The Gradients page's recurrent and depth experiments against autograd: linear regime, σ_max, budgets, models."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import engine
from engine import data
from engine.gradients import figures, lab
from engine.gradients.norms import timestep_grad_norms
from engine.gradients.unroll import recurrent_radius
from tests.engine.gradients.test_gradients import cell_reference


def test_linear_regime_is_exactly_the_product_of_w_hh_transposes():
    """Zero biases and tiny inputs: ∂L/∂h_t = ∂L/∂h_T · W_hh^(T−t), checked with autograd and matrix_power."""
    T = 60
    ds = lab.sequence_task("adding", T)
    model, _ = lab.with_radius(lab.time_model("RNN (tanh)", 16, ds), 1.5, linear=True)
    rnn = model[0].rnn
    assert all(torch.count_nonzero(p) == 0 for n, p in rnn.named_parameters() if n.startswith("bias"))
    x, y = lab.probe_batch(ds, 8, linear=True)
    norms = lab.time_norms(model, x, y)["h"]
    # ∂L/∂h_T from autograd on the float64 fused model (the last state has only the direct path)
    ref = copy.deepcopy(model).double()
    out, _ = ref[0].rnn(x)
    last = out[:, -1]
    last.retain_grad()
    F.mse_loss(ref[1](last), y.reshape(-1, 1)).backward()
    g_T = last.grad  # (N, H)
    w = ref[0].rnn.weight_hh_l0.detach()
    expected = [(g_T @ torch.linalg.matrix_power(w, T - t)).norm(dim=1).mean().item() for t in range(1, T + 1)]
    np.testing.assert_allclose(norms, expected, rtol=1e-9)
    assert lab.time_stats(model, x)["saturated"] == 0.0 and lab.time_stats(model, x)["slope"] == 1.0


@pytest.mark.parametrize("T", [30, 100])
def test_linear_regime_contrast_decays_below_one_grows_above(T):
    ds = lab.sequence_task("adding", T)
    base = lab.time_model("RNN (tanh)", 32, ds)
    x, y = lab.probe_batch(ds, 16, linear=True)
    small = lab.ratio(lab.time_norms(lab.with_radius(base, 0.5, linear=True)[0], x, y)["h"])
    large = lab.ratio(lab.time_norms(lab.with_radius(base, 1.5, linear=True)[0], x, y)["h"])
    assert small < 1e-6 and large > 1e3


def test_rescaling_by_singular_value_sets_sigma_max():
    ds = lab.sequence_task("adding", 10)
    base = lab.time_model("GRU", 16, ds)
    model, sigma = lab.with_radius(base, 0.8, "singular")
    assert sigma == pytest.approx(0.8, rel=1e-6)  # float32 weights
    for block in model[0].rnn.weight_hh_l0.detach().double().chunk(3):
        assert torch.linalg.matrix_norm(block, ord=2).item() == pytest.approx(0.8, rel=1e-6)
    assert recurrent_radius(model, "spectral") <= 0.8 + 1e-6  # ρ ≤ σ_max
    trainer = lab.time_trainer("GRU", 16, ds, radius=0.8, kind="singular", max_seconds=1.0)
    assert recurrent_radius(trainer.model, "singular") == pytest.approx(0.8, rel=1e-6)


def test_equal_step_budget_rounds_up_to_whole_epochs():
    ds = lab.sequence_task("copy", 6)
    per_epoch = -(-len(ds.x_train) // lab.BATCH)
    trainer = lab.time_trainer("RNN (tanh)", 8, ds, steps=per_epoch + 1)
    assert trainer.loop.total_steps == 2 * per_epoch
    assert trainer.config.max_seconds == engine.limits.MAX_RUN_SECONDS


def test_snapshots_are_float64_autograd_of_the_run_weights():
    ds = lab.sequence_task("adding", 12)
    trainer = lab.time_trainer("LSTM", 8, ds, max_seconds=1.0)
    model = lab.private_copy(trainer)
    assert next(model.parameters()).dtype == torch.float64
    x, y = lab.probe_batch(ds, 4)
    norms = lab.snapshot_norms(model, trainer.weights(), x, y)
    reference = timestep_grad_norms(copy.deepcopy(trainer.model).double(), x, y)
    np.testing.assert_allclose(norms, reference, rtol=1e-12)


def test_after_training_curves_are_float64_autograd_of_each_trained_cell():
    """The comparison's curves after training: ∂L/∂h_t of the trained weights on the probe batch, checked against
    nn.*Cell copies with retain_grad (the copy task has 4 classes, as the reference's cross-entropy expects)."""
    ds = lab.sequence_task("copy", 12)
    x, y = lab.probe_batch(ds, 8)
    for cell in ("RNN (tanh)", "LSTM", "GRU"):
        trainer = lab.time_trainer(cell, 8, ds, lr=1e-2, steps=20)
        trainer.start()
        trainer.thread.join(60)
        assert trainer.state == "finished"
        norms = lab.trained_time_norms(trainer, x, y)
        reference, _ = cell_reference(copy.deepcopy(trainer.model).cpu().double(), x, y)
        np.testing.assert_allclose(norms, reference[-1], rtol=1e-9)
        at_init = lab.time_norms(lab.time_model(cell, 8, ds), x, y)["h"]
        assert norms.shape == at_init.shape == (12,) and not np.allclose(norms, at_init)  # trained, not initial


def test_comparison_chart_says_at_initialisation_and_draws_after_training_dashed():
    at_init = {"RNN (tanh)": np.array([1e-3, 1.0]), "LSTM": np.array([0.1, 1.0]), "GRU": np.array([0.5, 1.0])}
    fig = figures.compare_figure(at_init)
    assert "at initialisation" in fig.layout.title.text and "after training" not in fig.layout.title.text
    assert [t.name for t in fig.data] == [f"{cell}, at initialisation" for cell in at_init]
    after = {cell: 2 * curve for cell, curve in at_init.items()}
    fig = figures.compare_figure(at_init, after)
    assert "at initialisation" in fig.layout.title.text and "after training" in fig.layout.title.text
    init_lines, after_lines = fig.data[:3], fig.data[3:]
    assert [t.name for t in after_lines] == [f"{cell}, after training" for cell in at_init]
    assert {t.line.dash for t in init_lines} == {"solid"} and {t.line.dash for t in after_lines} == {"dash"}
    assert [t.line.color for t in init_lines] == [t.line.color for t in after_lines]  # one colour per cell
    assert len({t.line.color for t in init_lines}) == 3
    np.testing.assert_array_equal(after_lines[1].y, after["LSTM"])


def test_after_run_curve_is_weights_only_on_the_fixed_batch():
    trainer = lab.depth_trainer(3, 8, "ReLU", "he", epochs=1)
    trainer.start()
    trainer.thread.join(60)
    assert trainer.state == "finished"
    x, y = lab.depth_batch(32)
    labels, norms = lab.trained_layer_norms(trainer, x, y)
    reference = copy.deepcopy(trainer.model).cpu().double()
    F.cross_entropy(reference(x.double()), y).backward()
    weights = [m.weight.grad.norm().item() for m in reference.modules() if isinstance(m, nn.Linear)]
    assert labels == ["1 Linear", "3 Linear", "5 Linear", "7 Linear"]
    np.testing.assert_allclose(norms, weights, rtol=1e-9)


def test_session_model_fitted_to_its_data_and_measured():
    ds = data.load("digits", seed=0)
    spec = engine.network.presets.get("mnist-cnn")
    model, notes = lab.fitted_model(spec, None, ds)
    assert notes  # 28×28 -> 8×8
    x, y = ds.x_train[:16], ds.y_train[:16]
    labels, norms = lab.weight_norms(model, x, y)
    reference = copy.deepcopy(model).double()
    for module in reference.modules():
        if isinstance(module, nn.Dropout):
            module.eval()  # weight_norms measures without dropout's random mask
    F.cross_entropy(reference(x.double()), y).backward()
    expected = [p.grad.norm().item() for n, p in reference.named_parameters() if n.rpartition(".")[2] == "weight"]
    assert any("Conv2d" in label for label in labels)
    np.testing.assert_allclose(norms, expected, rtol=1e-9)
    trained = engine.build(data.adapt_spec(spec, ds)[0], seed=3)
    assert lab.fitted_model(spec, trained, ds, trained_on="digits") == (trained, [])
    assert data.fit(spec) == "mnist" and data.fit(engine.network.presets.get("char-gru")) == "zen"  # its own 28×28
