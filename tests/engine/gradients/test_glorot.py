"""The Glorot and Bengio figure's data: per-layer histograms equal numpy's on a manual forward pass."""
import numpy as np
import torch

from engine.gradients import glorot, lab


def test_layer_histograms_equal_numpy_on_the_layers_outputs():
    model = lab.depth_model(3, 16, "ReLU", "he", seed=0)
    x, _ = lab.depth_batch(64)
    hists = glorot.layer_histograms(model, x, bins=10)
    outs, h = [], x
    with torch.no_grad():
        for module in model:
            h = module(h)
            if isinstance(module, torch.nn.ReLU):
                outs.append(h.double())
    assert [s["name"] for s in hists] == [n for n, m in [(f"{i} ReLU", m) for i, m in enumerate(model)
                                                          if isinstance(m, torch.nn.ReLU)]]
    top = max(o.max().item() for o in outs)
    for s, out in zip(hists, outs):
        assert s["edges"][0] == 0.0 and s["edges"][-1] == top  # one x axis for every layer
        assert s["counts"] == np.histogram(out.numpy(), bins=s["edges"])[0].tolist()
        assert s["dead"] == (out == 0).double().mean().item() and s["saturated"] is None


def test_the_grid_covers_each_activation_and_scheme_and_small_gaussian_tanh_fades_with_depth():
    grid = glorot.glorot_grid(depth=4, width=16, n=64)
    assert set(grid) == {(a, s) for a in glorot.ACTIVATIONS for s in glorot.SCHEMES}
    sig = grid[("Sigmoid", "xavier")]
    assert all(s["edges"][0] == 0.0 and s["edges"][-1] == 1.0 and s["saturated"] is not None for s in sig)
    small = [s["std"] for s in grid[("Tanh", "normal-0.01")]]
    assert small[-1] < small[0] / 10  # each layer scales by about 0.01·√width: the activations vanish


def test_a_lab_run_records_the_figure_as_it_trains():
    trainer = lab.depth_trainer(3, 16, "Sigmoid", "normal-0.01", epochs=1)
    records = []
    for _ in range(6):
        records += trainer.step()
    step, layers = glorot.run_histograms(records, 6)
    assert step >= 1 and list(layers) == ["2 Sigmoid", "4 Sigmoid", "6 Sigmoid"]
    assert all(h["counts"].sum() == 64 * 16 for h in layers.values())
    assert glorot.run_histograms([], 3) is None
