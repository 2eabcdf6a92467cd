"""A run's diagnostics saved with it: through the workspace store and a workspace file, and older runs without them."""
import struct

import pytest
import torch
from run_helpers import toy_mlp

from engine import diagnostics
from engine.training import SavedRun, TrainConfig, Trainer
from engine.workspace import RunRecord, Store

DIAGNOSTIC_KEYS = ("hist", "update_ratio", "health")


def _same(a, b):
    """Equal to the bit (floats by their bytes)."""
    if isinstance(a, float):
        return isinstance(b, float) and struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


@pytest.fixture(scope="module")
def finished(circle):
    trainer = Trainer(toy_mlp(), TrainConfig(dataset="circle", batch_size=16, epochs=2, device="cpu", seed=0),
                      dataset=circle, hist_every=3)
    while trainer.step() is not None and trainer.loop.outcome is None:
        pass
    return trainer


def _run(trainer, number, records, weights):
    return RunRecord(number=number, label=f"run {number}", spec=trainer.spec.to_dict(),
                     config=trainer.config.to_dict(), state="finished", records=records, weights=weights)


def test_histograms_and_initial_weights_survive_the_store_and_a_workspace_file(tmp_path, finished):
    records = finished.records()
    assert sum("hist" in r for r in records) >= 2 and any("health" in r for r in records)
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        token = store.create(spec=finished.spec.to_dict())
        store.save_run(token, _run(finished, 1, records, finished.weights(with_initial=True)))
        imported = store.import_zip(store.export_zip(token))
        for where in (token, imported):
            (run,) = store.open(where).runs
            assert _same(records, run.records), where
            weights, _ = store.run_blobs(where, 1)
            saved = SavedRun(finished.spec, finished.config, "finished", run.records, weights)
            start = finished.initial_state()
            assert all(torch.equal(saved.initial_state()[k], start[k]) for k in start)
            assert all(torch.equal(v, finished.model.state_dict()[k]) for k, v in saved.model.state_dict().items())
            hm = diagnostics.series.heatmap(saved.records(), "1 Tanh")
            assert hm["counts"].shape == (sum("hist" in r for r in records), 32)
    finally:
        store.db.dispose()


def test_an_older_run_without_diagnostics_still_loads(tmp_path, finished):
    old = [{k: v for k, v in r.items() if k not in DIAGNOSTIC_KEYS} for r in finished.records()]
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        token = store.create(spec=finished.spec.to_dict())
        store.save_run(token, _run(finished, 1, old, finished.weights()))
        (run,) = store.open(token).runs
        saved = SavedRun(finished.spec, finished.config, "finished", run.records, store.run_blobs(token, 1)[0])
    finally:
        store.db.dispose()
    assert _same(old, saved.records()) and saved.initial_state() is None
    series = diagnostics.series
    assert series.heatmap(saved.records(), "1 Tanh") is None and series.at_step(saved.records(), 5) is None
    assert series.steps(old) == [] and series.update_ratios(old) == {} and series.health(old) == {}
    assert series.warnings(old) == [] and series.moments(old) == {}
    for figure in (diagnostics.figures.heatmap_figure(None, "1 Tanh"), diagnostics.figures.step_figure(None),
                   diagnostics.figures.update_ratio_figure({})):
        assert figure.to_json()
