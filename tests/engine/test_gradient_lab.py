"""The Gradients page's experiments against PyTorch: the classic contrasts, the radius, recorded training."""
import numpy as np
import torch

from engine import gradient_lab as lab
from engine.gradients import timestep_grad_norms


def test_sigmoid_small_init_vanishes_relu_he_does_not():
    x, y = lab.depth_batch(64)
    _, sigmoid = lab.layer_norms(lab.depth_model(10, 32, "Sigmoid", "normal-0.01"), x, y)
    _, relu = lab.layer_norms(lab.depth_model(10, 32, "ReLU", "he"), x, y)
    assert len(sigmoid) == len(relu) == 11
    assert lab.ratio(sigmoid) < 1e-10 < 1e-2 < lab.ratio(relu)


def test_radius_copy_leaves_the_model_and_orders_the_ratios():
    ds = lab.sequence_task("adding", 30)
    base = lab.time_model("RNN (tanh)", 32, ds)
    before = base.state_dict()["0.rnn.weight_hh_l0"].clone()
    ratios = []
    for radius in (0.5, 1.5):
        model, sigma = lab.with_radius(base, radius)
        assert sigma >= radius - 1e-6  # σ_max ≥ ρ
        ratios.append(lab.ratio(timestep_grad_norms(model, ds.x_train[:16], ds.y_train[:16])))
    assert torch.equal(base.state_dict()["0.rnn.weight_hh_l0"], before)
    assert ratios[0] < 1e-3 and ratios[1] > 100 * ratios[0]


def test_recorded_training_shapes_and_clipping():
    x, y = lab.depth_batch(256)
    run = lab.train_depth(lab.depth_model(3, 16, "ReLU", "he"), x, y, steps=6, every=2)
    assert run.steps == [0, 2, 4, 5] and run.matrix.shape == (4, 4) and len(run.loss) == 6
    ds = lab.sequence_task("copy", 8)
    run = lab.train_time(lab.time_model("GRU", 16, ds), ds, steps=5, every=2, clip=0.01, probe=8)
    assert run.matrix.shape == (4, 8)  # steps 0, 2, 4 and after the last
    assert np.allclose(run.clipped_norm, np.minimum(run.raw_norm, 0.01))
