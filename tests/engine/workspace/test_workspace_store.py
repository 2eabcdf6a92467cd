"""The store round trip: a workspace with real runs, records and weights through SQLite and back, exactly."""
import numpy as np
import pytest
import torch
from ws_helpers import RESULTS, assert_same, odd_records, run

import engine
from engine.training import load_weights
from engine.workspace import RunRecord, Store, WorkspaceError
from engine.workspace.columns import pack, unpack


def test_real_and_odd_records_round_trip_bit_for_bit(trained):
    assert any(r["kind"] == "epoch" for r in trained.records) and any("grad_norm" in r for r in trained.records)
    for records in (trained.records, odd_records(), []):
        assert_same(records, unpack(pack(records)))


def test_records_refuse_values_they_cannot_store():
    with pytest.raises(TypeError, match="object"):
        pack([{"loss": object()}])
    with pytest.raises(TypeError, match="numpy"):
        pack([{"names": np.array(["a", "b"])}])


def test_workspace_with_runs_and_weights_survives_a_new_process(db_url, trained):
    url = db_url
    first = Store(url)
    token = first.create("10.0.0.1", spec=trained.spec, settings={"page": {"lr": 0.01}})
    first.save(token, model={"run": 1, "dataset": {"name": "circle", "seed": 0}}, model_weights=trained.weights)
    first.save_run(token, run(1, trained, optimizer=b"opaque checkpoint"))
    first.save_run(token, run(2, trained, state="stopped", records=odd_records(), weights=None, results=None,
                              group="time", context={"key": ["copy", 40, [1.5, True]], "shared": {"T": 40}}))
    first.db.dispose()

    second = Store(url)  # a fresh engine on the same file: what a restarted server sees
    ws = second.open(token)
    assert (ws.spec, ws.settings, ws.kind, ws.read_only) == (trained.spec, {"page": {"lr": 0.01}}, "workspace", False)
    assert ws.model == {"run": 1, "dataset": {"name": "circle", "seed": 0}} and ws.has_model_weights
    one, two = ws.runs
    assert (one.number, one.label, one.state, one.results, one.config) == (1, "run 1", "finished", RESULTS,
                                                                           trained.config)
    assert one.weights is None and one.optimizer is None and one.has_weights and one.has_optimizer  # not loaded
    assert not two.has_weights and two.results is None and two.state == "stopped"
    assert (one.context, two.group) == (None, "time")
    assert two.context == {"key": ["copy", 40, [1.5, True]], "shared": {"T": 40}}
    assert_same(trained.records, one.records)
    assert_same(odd_records(), two.records)
    assert second.run_blobs(token, 1) == (trained.weights, b"opaque checkpoint")
    assert second.model_weights(token) == trained.weights

    rebuilt = load_weights(engine.build(engine.ModelSpec.from_dict(one.spec)), second.run_blobs(token, 1)[0]).eval()
    with torch.no_grad():
        assert torch.equal(rebuilt(trained.x), trained.model(trained.x))
    second.db.dispose()


def test_save_writes_only_the_fields_given(store, trained):
    token = store.create(spec=trained.spec, settings={"a": 1})
    store.save(token, model={"run": 3})
    store.save(token, settings={"b": 2})
    ws = store.open(token)
    assert (ws.spec, ws.settings, ws.model) == (trained.spec, {"b": 2}, {"run": 3})
    store.save(token, model=None, model_weights=None)
    ws = store.open(token)
    assert ws.model is None and not ws.has_model_weights and ws.settings == {"b": 2}
    with pytest.raises(WorkspaceError, match="not plain JSON"):
        store.save(token, settings={"x": object()})
    with pytest.raises(WorkspaceError, match="dict"):
        store.save(token, spec=None)


def test_save_run_upserts_and_keeps_blobs_left_unloaded(store, trained):
    token = store.create(spec=trained.spec)
    store.save_run(token, run(4, trained, optimizer=b"state"))
    opened = store.open(token).runs[0]
    opened.label = "renamed"
    store.save_run(token, opened)  # as open() returned it: weights not loaded, so they stay
    assert store.run_blobs(token, 4) == (trained.weights, b"state")
    assert [r.label for r in store.open(token).runs] == ["renamed"]
    store.save_run(token, RunRecord(4, label="cleared", spec=trained.spec, config={}))  # no flags: no blobs
    assert store.run_blobs(token, 4) == (None, None)
    store.delete_run(token, 4)
    store.delete_run(token, 4)  # already gone: nothing to do
    assert store.open(token).runs == []
    with pytest.raises(WorkspaceError, match="no run number 4"):
        store.run_blobs(token, 4)


@pytest.mark.parametrize("change, message", [
    ({"state": "exploded"}, "not one of"), ({"number": -1}, "whole number"), ({"number": True}, "whole number"),
    ({"label": 5}, "label"), ({"label": "run\x00one"}, "label should be text .* without NUL"),
    ({"group": "\x00"}, "group should be text .* without NUL"), ({"records": {"a": 1}}, "list"), ({"config": [1]}, "JSON object"),
    ({"weights": "text"}, "bytes"), ({"records": [{"x": {1: 2}}]}, "not a string"),
    ({"context": ["not", "a", "dict"]}, "context should be a JSON object"), ({"context": {"a": {1, 2}}}, "plain JSON")])
def test_save_run_refuses_malformed_runs(store, trained, change, message):
    token = store.create(spec=trained.spec)
    with pytest.raises(WorkspaceError, match=message):
        fields = dict(change)  # a copy: the parameter is shared by both backends' runs of this test
        store.save_run(token, run(fields.pop("number", 1), trained, **fields))
    assert store.open(token).runs == []


def test_a_run_saved_with_adopt_becomes_the_workspace_model_in_the_same_write(store, trained):
    token = store.create(spec={"input": [3], "layers": []})
    model = {"trained": True, "dataset": {"name": "circle", "seed": 0, "options": {}}, "adopted": [2]}
    store.save_run(token, run(2, trained, adopt=model))
    ws = store.open(token)
    assert (ws.spec, ws.model, ws.has_model_weights) == (trained.spec, model, True)
    assert store.model_weights(token) == store.run_blobs(token, 2)[0] == trained.weights
    net = engine.build(engine.ModelSpec.from_dict(ws.spec))
    load_weights(net, store.model_weights(token))
    with torch.no_grad():  # the workspace's model computes what the trained network does, in PyTorch
        assert torch.equal(net.eval()(trained.x), trained.model(trained.x))
    store.save_run(token, run(3, trained, adopt=None))  # a plain run leaves the model as it is
    assert store.open(token).model == model
    with pytest.raises(WorkspaceError, match="weights"):
        store.save_run(token, run(4, trained, weights=None, adopt=model))
    with pytest.raises(WorkspaceError, match="plain JSON"):
        store.save_run(token, run(5, trained, adopt={"x": object()}))
    assert [r.number for r in store.open(token).runs] == [2, 3]
