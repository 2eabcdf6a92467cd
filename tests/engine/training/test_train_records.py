"""The diagnostics a run's step records carry: histograms, update ratios, unit health, initial weights."""
import numpy as np
import pytest
import torch
from run_helpers import toy_mlp

from engine import diagnostics, stats
from engine.training import SavedRun, TrainConfig, Trainer, initial_state, load_weights
from engine.training.loop import Loop
from engine.training.recorder import Recorder


def _loop(circle, hist_every=None, **kw):
    return Loop(toy_mlp(), TrainConfig(dataset="circle", batch_size=16, epochs=3, device="cpu", seed=0, **kw),
                circle, hist_every=hist_every)


def test_update_ratios_are_the_weights_change_around_one_optimiser_step(circle):
    loop = _loop(circle, optimizer="adam")
    before = {n: p.detach().clone() for n, p in loop.model.named_parameters()}
    (record,) = [r for r in loop.train_batch() if r["kind"] == "step"]
    assert loop.step == 1 and set(record["update_ratio"]) == {"0 Linear", "2 Linear", "4 Linear"}
    for layer, ratio in record["update_ratio"].items():
        index = layer.split()[0]
        names = [n for n in before if n.rpartition(".")[0] == index]
        after = torch.cat([dict(loop.model.named_parameters())[n].detach().reshape(-1) for n in names])
        w = torch.cat([before[n].reshape(-1) for n in names])
        assert ratio == pytest.approx(((after - w).norm() / w.norm()).item(), rel=1e-5)


def test_histograms_count_the_weights_and_gradients_as_numpy_does(circle):
    loop = _loop(circle, clip_norm=0.0)
    w0 = loop.model[0].weight.detach().clone()
    (record,) = [r for r in loop.train_batch() if r["kind"] == "step"]
    cell = record["hist"]["0 Linear"]
    e = stats.edges(cell["weight"]["edges"])
    assert cell["weight"]["counts"] == np.histogram(w0.double().numpy(), bins=e)[0].tolist()
    assert sum(cell["weight"]["counts"]) == w0.numel() and cell["weight"]["mean"] == pytest.approx(w0.mean().item())
    g = loop.model[0].weight.grad  # the step's gradient, still there after the optimiser used it
    ge = stats.edges(cell["grad"]["edges"])
    assert cell["grad"]["edges"]["scale"] == "symlog"
    assert cell["grad"]["counts"] == np.histogram(g.double().numpy(), bins=ge)[0].tolist()
    units = loop.model[0].out_features
    assert sum(record["hist"]["1 Tanh"]["act"]["counts"]) == 16 * units  # the batch's 16 samples × its units
    assert record["hist"]["1 Tanh"]["act"]["edges"] == {"scale": "linear", "lo": -1.0, "hi": 1.0, "bins": 32}


def test_a_non_finite_activation_is_left_out_of_its_histogram_as_numpy_leaves_it():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh())
    recorder = Recorder(model, torch.randn(8, 2), total_steps=10)
    recorder.attach()
    x = torch.randn(16, 2)
    x[0, 0] = float("nan")  # the first sample's outputs are NaN
    out = model(x)
    recorder.detach()
    out[1:].sum().backward()
    recorder.before_step()
    cell = recorder.after_step(0)["hist"]["1 Tanh"]["act"]
    assert cell["counts"] == np.histogram(out[1:].detach().double().numpy(), bins=stats.edges(cell["edges"]))[0].tolist()
    assert sum(cell["counts"]) == 15 * 4 and cell["mean"] != cell["mean"]  # NaN left out; the mean says NaN


def test_records_come_every_k_steps_on_fixed_edges_from_the_batch_already_computed(circle):
    loop = _loop(circle, hist_every=4)
    calls = []
    loop.model.register_forward_pre_hook(lambda m, i: calls.append(m.training))
    records = []
    while not loop.outcome:
        records += loop.train_batch()
    steps = diagnostics.series.steps(records)
    assert steps == [1] + [s for s in range(4, loop.step + 1, 4)]
    hist = diagnostics.series.hist_records(records)
    specs = [r["hist"]["2 Linear"]["weight"]["edges"] for r in hist]
    assert all(s == specs[0] for s in specs)  # fixed from the first record
    # one forward pass per training batch (histograms come from its hooks); in eval mode, one per validation pass
    # (one chunk each here) and one on the probe set per unit-health record
    assert sum(calls) == loop.step
    assert loop.epoch + sum(1 for r in records if "health" in r) == calls.count(False) > loop.epoch


def test_health_is_recorded_on_the_probe_set(circle):
    loop = _loop(circle)
    (record,) = [r for r in loop.train_batch() if r["kind"] == "step"]
    x = circle.split("val")[0][:256]
    assert record["health"] == [h.to_dict() for h in diagnostics.unit_health(loop.model, x)]  # after the step
    assert [h["name"] for h in record["health"]] == ["1 Tanh", "3 Tanh"]
    assert all(0 <= h["dead"] <= 1 and 0 <= h["saturated"] <= 1 for h in record["health"])


def test_a_runs_initial_weights_are_kept_with_its_weights(circle):
    trainer = Trainer(toy_mlp(), TrainConfig(dataset="circle", batch_size=16, epochs=1, device="cpu", seed=0),
                      dataset=circle)
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    for _ in range(3):
        trainer.step()
    kept = trainer.initial_state()
    assert kept.keys() == start.keys() and all(torch.equal(kept[k], start[k]) for k in start)
    blob = trainer.weights(with_initial=True)
    assert initial_state(trainer.weights()) is None
    got = initial_state(blob)
    assert all(torch.equal(got[k], start[k]) for k in start)
    model = load_weights(trainer.loop.model.__class__(*trainer.model), blob)  # loads, the initial ones skipped
    assert all(torch.equal(v, trainer.model.state_dict()[k]) for k, v in model.state_dict().items())
    saved = SavedRun(trainer.spec, trainer.config, "finished", trainer.records(), blob)
    assert all(torch.equal(saved.initial_state()[k], start[k]) for k in start)
    assert SavedRun(trainer.spec, trainer.config, "finished", trainer.records(), trainer.weights()).initial_state() \
        is None  # an older run: no initial weights


def test_every_histograms_mean_and_std_are_torchs_on_small_and_large_tensors():
    """Means and population standard deviations of each quantity, one-pass (≤ 4,096 values) and two-pass alike."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 100), torch.nn.ReLU(), torch.nn.Linear(100, 3))
    x, y = torch.randn(64, 64), torch.randint(0, 3, (64,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    recorder = Recorder(model, x, total_steps=10)
    seen = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o.detach().clone()))
             for n, m in model.named_children()]
    recorder.attach()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    recorder.detach()
    for h in hooks:
        h.remove()
    loss.backward()
    expected = {}
    for n, m in model.named_children():
        expected[(n, "act")] = seen[n]
        if isinstance(m, torch.nn.Linear):
            expected[(n, "weight")], expected[(n, "grad")] = m.weight.detach().clone(), m.weight.grad.clone()
    recorder.before_step()
    opt.step()
    hist = recorder.after_step(0)["hist"]
    assert {v.numel() for v in expected.values()} >= {6400, 192}  # both paths taken
    for (n, quantity), v in expected.items():
        std, mean = torch.std_mean(v, correction=0)
        cell = hist[f"{n} {type(model[int(n)]).__name__}"][quantity]
        assert cell["mean"] == pytest.approx(mean.item(), rel=1e-5, abs=1e-7), (n, quantity)
        assert cell["std"] == pytest.approx(std.item(), rel=1e-5), (n, quantity)
