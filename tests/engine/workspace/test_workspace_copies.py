"""Snapshots (read-only, frozen), copies, and workspace files exported and imported back exactly."""
import io
import json
import zipfile

import pytest
from safetensors.torch import save as safetensors_save
from ws_helpers import assert_same, odd_records, run

import torch

from engine.workspace import ReadOnlyWorkspace, RunRecord, WorkspaceError

OPTIMIZER = safetensors_save({"state.0.exp_avg": torch.arange(4.0)})


@pytest.fixture
def full(store, trained):
    """A workspace with a session model, a finished run with optimiser state, a live run and a weightless one."""
    token = store.create(spec=trained.spec, settings={"train": {"epochs": 2}})
    store.save(token, model={"run": 1}, model_weights=trained.weights)
    store.save_run(token, run(1, trained, optimizer=OPTIMIZER))
    store.save_run(token, run(2, trained, state="running", label="live"))
    store.save_run(token, run(3, trained, weights=None, records=odd_records(), group="depth", context=CONTEXT))
    return token


CONTEXT = {"key": [10, "Sigmoid", ["steps", 500]], "shared": {"snaps": {"ndarray": [[1e-300, 2.5]]}, "T": 40}}


def test_a_snapshot_is_a_frozen_read_only_copy_of_the_chosen_runs(store, trained, full):
    snap = store.snapshot(full, [1, 2])
    ws = store.open(snap)
    assert ws.read_only and ws.kind == "snapshot" and ws.token == snap != full
    assert [r.number for r in ws.runs] == [1, 2] and ws.has_model_weights
    assert [r.state for r in ws.runs] == ["finished", "interrupted"]  # nothing trains a snapshot's runs
    assert store.run_blobs(snap, 1) == (trained.weights, None)  # weights travel, optimiser state does not
    assert_same(trained.records, ws.runs[0].records)
    store.save(full, settings={"changed": True})
    store.delete_run(full, 1)
    assert store.open(snap).settings == {"train": {"epochs": 2}} and len(store.open(snap).runs) == 2
    _, code = store.create_class("Year 9")
    for write in (lambda: store.save(snap, settings={}), lambda: store.save_run(snap, RunRecord(9)),
                  lambda: store.delete_run(snap, 1), lambda: store.join_class(code, "x", snap)):
        with pytest.raises(ReadOnlyWorkspace, match="make your own copy"):
            write()
    with pytest.raises(WorkspaceError, match="no run number 7"):
        store.snapshot(full, [2, 7])


def test_my_own_copy_is_writable_and_independent(store, trained, full):
    snap = store.snapshot(full)
    mine = store.copy(snap)
    ws = store.open(mine)
    assert not ws.read_only and [r.number for r in ws.runs] == [1, 2, 3]
    store.save_run(mine, RunRecord(4, spec=trained.spec))
    store.save(mine, settings={"mine": 1})
    assert len(store.open(snap).runs) == 3 and store.open(snap).settings == {"train": {"epochs": 2}}
    assert ws.runs[2].context == CONTEXT and ws.runs[0].context is None  # a lab run's context travels
    whole = store.copy(full)  # a copy of a workspace keeps the optimiser state, to resume from
    assert store.run_blobs(whole, 1) == (trained.weights, OPTIMIZER)
    assert store.model_weights(whole) == trained.weights


def test_export_then_import_gives_the_same_workspace(store, trained, full):
    store.save_run(full, run(5, trained, optimizer=b"a pickled checkpoint, say"))
    data = store.export_zip(full)
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert names == {"workspace.json", "model.safetensors", "runs/1.safetensors", "runs/1.optimizer.safetensors",
                     "runs/2.safetensors", "runs/5.safetensors"}  # run 5's non-safetensors blob stays behind
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("workspace.json"))
    assert manifest["format"] == "nn-playground-workspace" and manifest["version"] == 1

    token = store.import_zip(data, ip="10.0.0.2")
    original, imported = store.open(full), store.open(token)
    assert token != full and not imported.read_only
    assert (imported.spec, imported.settings, imported.model) == (original.spec, original.settings, original.model)
    assert [r.number for r in imported.runs] == [1, 2, 3, 5]
    for a, b in zip(original.runs, imported.runs):
        assert (a.group, a.label, a.spec, a.config, a.results, {**(a.context or {}), "imported": True}) == \
            (b.group, b.label, b.spec, b.config, b.results, b.context)  # marked: its results were not measured here
        assert_same(a.records, b.records)
    assert imported.runs[2].context == {**CONTEXT, "imported": True}
    assert imported.runs[1].state == "interrupted"  # it was live where it was exported
    assert store.run_blobs(token, 1) == (trained.weights, OPTIMIZER)
    assert store.run_blobs(token, 5) == (trained.weights, None)
    assert store.model_weights(token) == trained.weights
    assert store.open(store.import_zip(store.export_zip(store.snapshot(full)))).kind == "workspace"
