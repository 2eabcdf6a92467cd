"""The learning-rate range test: seeded, repeatable, on a copy, and it stops when the network diverges."""
import copy
import json
import math

import numpy as np
import pytest
import torch

import engine
from engine import diagnostics
from engine.errors import InputError
from engine.network import presets
from engine.training import TrainConfig, Trainer


def _config(**kw):
    return TrainConfig(dataset="circle", batch_size=16, device="cpu", **kw)


def test_lr_find_is_repeatable_and_leaves_the_run_untouched(circle):
    trainer = Trainer(presets.get("toy-mlp"), _config(), dataset=circle)
    trainer.step()
    state = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    records, rng = trainer.records(), torch.get_rng_state()
    a = diagnostics.lr_find(trainer.spec, circle, _config(), steps=30, seed=3, state=trainer.model.state_dict())
    b = diagnostics.lr_find(trainer.spec, circle, _config(), steps=30, seed=3, state=trainer.model.state_dict())
    assert (a.lrs, a.losses, a.smoothed, a.suggestion) == (b.lrs, b.losses, b.smoothed, b.suggestion)
    assert all(torch.equal(state[k], v) for k, v in trainer.model.state_dict().items())
    assert trainer.records() == records and trainer.status.step == 1 and torch.equal(torch.get_rng_state(), rng)
    assert len(a.lrs) == len(a.losses) == len(a.smoothed) and a.lrs == sorted(a.lrs) and a.lrs[0] == 1e-7
    assert a.lrs[0] <= a.suggestion <= a.lrs[-1]
    assert a.min_tenth == pytest.approx(a.lrs[int(np.argmin(a.smoothed))] / 10)
    other = diagnostics.lr_find(trainer.spec, circle, _config(), steps=30, seed=4)
    assert other.losses != a.losses


def test_smoothing_is_the_bias_corrected_moving_average(circle):
    r = diagnostics.lr_find(presets.get("toy-mlp"), circle, _config(), steps=20)
    avg = 0.0
    for i, (loss, smooth) in enumerate(zip(r.losses, r.smoothed)):
        avg = 0.98 * avg + 0.02 * loss
        assert smooth == pytest.approx(avg / (1 - 0.98 ** (i + 1)))


def test_it_stops_once_the_smoothed_loss_passes_four_times_its_best(circle):
    r = diagnostics.lr_find(presets.get("toy-mlp"), circle, _config(optimizer="sgd"), start=1e-3, end=1e4, steps=100)
    assert len(r.lrs) < 100 and "4×" in r.stopped
    assert r.smoothed[-1] > 4 * min(r.smoothed[:-1]) or r.diverged


def test_a_diverging_network_stops_and_says_so(circle):
    spec = engine.ModelSpec.from_dict({"input": [2], "layers": [{"type": "Linear", "out_features": 64},
                                                                {"type": "Linear", "out_features": 2}]})
    r = diagnostics.lr_find(spec, circle, _config(optimizer="sgd", momentum=0.0), start=1.0, end=1e12, steps=100)
    assert r.diverged and "diverged" in r.stopped and len(r.lrs) < 100
    assert all(math.isfinite(v) for v in r.losses)


def test_bad_bounds_are_refused(circle):
    with pytest.raises(InputError, match="grow"):
        diagnostics.lr_find(presets.get("toy-mlp"), circle, _config(), start=1.0, end=0.1)
    with pytest.raises(InputError, match="steps"):
        diagnostics.lr_find(presets.get("toy-mlp"), circle, _config(), steps=1)


def test_a_curve_that_hardly_falls_says_by_how_much_and_that_the_picks_are_rough():
    """The 10-layer sigmoid deep-mlp on digits: its loss stays near ln 10 at every rate (vanishing gradients)."""
    digits = engine.data.load("digits", 0)
    r = diagnostics.lr_find(presets.get("deep-mlp"), digits, TrainConfig(dataset="digits", batch_size=32,
                                                                          device="cpu"))
    fell = 1 - min(r.smoothed) / r.smoothed[0]
    assert r.usable and fell < 0.1
    assert f"fell by only {100 * fell:.0f}%" in r.stopped and "rough" in r.stopped


def test_a_shallow_relu_net_on_the_same_digits_falls_and_gets_no_such_note():
    spec = engine.ModelSpec.from_dict({"input": [1, 8, 8], "layers": [
        {"type": "Flatten"}, {"type": "Linear", "out_features": 32}, {"type": "ReLU"},
        {"type": "Linear", "out_features": 10}]})
    r = diagnostics.lr_find(spec, engine.data.load("digits", 0), TrainConfig(dataset="digits", batch_size=32,
                                                                              device="cpu"))
    assert r.usable and 1 - min(r.smoothed) / r.smoothed[0] >= 0.1 and "fell by only" not in r.stopped


def test_the_range_test_keeps_no_weight_snapshots(circle, monkeypatch):
    """Its weights only serve its losses: copying them for a landscape trajectory nobody sees was wasted work."""
    from engine.training import trajectory
    taken, offer = [], trajectory.Snapshots.offer

    def counted(self, step):
        offer(self, step)
        taken.append(self.taken)

    monkeypatch.setattr(trajectory.Snapshots, "offer", counted)
    result = diagnostics.lr_find(presets.get("toy-mlp"), circle, _config(), steps=30, seed=3)
    assert len(result.lrs) > 10 and taken and not any(taken)


@pytest.fixture(scope="module")
def result(circle):
    return diagnostics.lr_find(presets.get("toy-mlp"), circle, _config(), steps=30)


def test_a_result_goes_to_json_and_back_unchanged(result):
    """A workspace keeps the last range test: the result as plain JSON, read back equal."""
    again = diagnostics.LRFind.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))
    assert again == result


@pytest.mark.parametrize("change, says", [
    (lambda d: d.pop("smoothed"), "lacks smoothed"),
    (lambda d: d["losses"].pop(), "one length"),
    (lambda d: d.update(lrs=[], losses=[], smoothed=[]), "one length"),
    (lambda d: d.update(lrs=d["lrs"] * 40, losses=d["losses"] * 40, smoothed=d["smoothed"] * 40), "one length"),
    (lambda d: d["losses"].__setitem__(0, float("nan")), "finite numbers"),
    (lambda d: d["smoothed"].__setitem__(1, "0.5"), "finite numbers"),
    (lambda d: d.update(suggestion=True), "finite numbers"),
    (lambda d: d.update(suggestion=10 ** 400), "finite numbers"),  # JSON's integers have no bound; floats do
    (lambda d: d["lrs"].reverse(), "positive and growing"),
    (lambda d: d.update(min_tenth=0.0), "positive and growing"),
    (lambda d: d.update(stopped=None), "short text"),
    (lambda d: d.update(usable="yes"), "true/false"),
])
def test_a_stored_result_that_is_not_one_is_refused_saying_why(result, change, says):
    data = copy.deepcopy(result.to_dict())
    change(data)
    with pytest.raises(InputError, match=says):
        diagnostics.LRFind.from_dict(data)
    with pytest.raises(InputError, match="JSON object"):
        diagnostics.LRFind.from_dict([data])
