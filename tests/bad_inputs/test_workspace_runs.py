"""Hostile runs in workspace files: results and contexts of the wrong shape are refused on import with a clear
message, and pages that read such a run already stored (imported before the checks) never raise on it.

Each file is made by the project's own export, then its ``workspace.json`` edited as a student could.
"""
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.workspace import BadWorkspaceFile, RunRecord
from ui.core import database, workspace

ROOT = Path(__file__).resolve().parents[2]
CLASS = str(ROOT / "views" / "6_Class.py")
TRAIN = str(ROOT / "views" / "3_Train.py")


def _store():
    return store_mod.get_store()


def _good_run(number: int = 1, **changes) -> RunRecord:
    """A finished Train run as the page stores it: epoch records, test results of the page's shape, its context."""
    epochs = [{"kind": "epoch", "epoch": e, "step": 7 * e, "train_loss": 1.0 / e, "train_acc": 0.8,
               "val_loss": 1.1 / e, "val_acc": 0.8} for e in (1, 2)]
    spec = engine.network.presets.get("toy-mlp")
    weights = engine.training.save_weights(engine.network.build(spec, seed=0))
    fields = dict(number=number, label=f"run {number}", spec=spec.to_dict(), weights=weights,
                  config=engine.training.TrainConfig(dataset="circle", epochs=2).to_dict(), state="finished",
                  records=epochs, results={"loss": 0.3, "accuracy": 0.9, "confusion": [[40, 5], [5, 50]],
                                           "misclassified": [3, 8], "predicted": [1, 0]},
                  context={"end": {"step": 14, "epoch": 2, "elapsed": 1.5}, "message": "stopped by the user"})
    return RunRecord(**{**fields, **changes})


def _exported() -> bytes:
    token = _store().create(spec=engine.network.presets.get("toy-mlp").to_dict())
    _store().save_run(token, _good_run())
    return _store().export_zip(token)


def _edited(data: bytes, edit) -> bytes:
    """The workspace file with ``edit(run)`` applied to its first run's JSON."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    doc = json.loads(members["workspace.json"])
    edit(doc["runs"][0])
    members["workspace.json"] = json.dumps(doc).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    return out.getvalue()


def _deep(levels: int):
    value = {"x": 1}
    for _ in range(levels):
        value = {"x": value}
    return value


def _noise(rows: int, columns: int) -> list:
    """Counts that do not compress (a matrix of zeros would be refused as a zip bomb first)."""
    return np.random.default_rng(0).integers(0, 10 ** 6, (rows, columns)).tolist()


def _set(path: str, value):
    def edit(run):
        *parents, last = path.split(".")
        target = run
        for key in parents:
            target = target[key]
        target[last] = value
    return edit


def _drop(path: str):
    def edit(run):
        *parents, last = path.split(".")
        target = run
        for key in parents:
            target = target[key]
        del target[last]
    return edit


HOSTILE = {
    "accuracy as text": (_set("results.accuracy", "high"), "accuracy"),
    "accuracy over 1": (_set("results.accuracy", 7.5), "accuracy"),
    "loss as a list": (_set("results.loss", [1, 2]), "loss"),
    "no loss": (_drop("results.loss"), "loss"),
    "results a list": (_set("results", [0.9]), "results"),
    "confusion ragged": (_set("results.confusion", [[1, 2], [3]]), "confusion"),
    "confusion of text": (_set("results.confusion", [["a", "b"], ["c", "d"]]), "confusion"),
    "confusion too large": (_set("results.confusion", _noise(1001, 1001)), "confusion"),
    "too many wrong samples": (_set("results.misclassified", list(range(5000))), "misclassified"),
    "a huge sample index": (_set("results.misclassified", [10 ** 12]), "misclassified"),
    "a negative sample index": (_set("results.misclassified", [-1]), "misclassified"),
    "predicted of another length": (_set("results.predicted", [1, 0, 1]), "predicted"),
    "an unknown result": (_set("results.secret", "x"), "secret"),
    "context nested 950 deep": (_set("context", _deep(950)), "nested"),
    "context end as text": (_set("context.end", "soon"), "end"),
    "context message a number": (_set("context.message", 5), "message"),
    "context key not a list": (_set("context.key", {"a": 1}), "key"),
    "context shared not a dict": (_set("context.shared", [1]), "shared"),
    "context unknown field": (_set("context.evil", 1), "evil"),
    "a loss as text in the records": (_set("records", [{"kind": "epoch", "epoch": 1, "val_loss": "low"}]), "val_loss"),
    "a record without its epoch": (_set("records", [{"kind": "step", "step": 1, "train_loss": 0.5}]), "epoch"),
    "a record kind that is a number": (_set("records", [{"kind": 3, "epoch": 1}]), "kind"),
    "gradient norms as text": (_set("records", [{"kind": "step", "epoch": 1, "grad_norm": "big"}]), "grad_norm"),
}
# The workspace's own fields, which every page reads when it opens the workspace.
WORKSPACE_HOSTILE = {
    "adopted runs a number": ({"model": {"adopted": 5}}, "adopted"),
    "trained as text": ({"model": {"trained": "yes", "adopted": []}}, "trained"),
    "an unknown model field": ({"model": {"evil": 1}}, "evil"),
}


@pytest.fixture(scope="module")
def exported():
    return _exported()


def test_the_export_itself_imports(exported):
    token = _store().import_zip(exported)
    [run] = _store().open(token).runs
    assert run.results["accuracy"] == 0.9 and run.context["end"]["epoch"] == 2


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_run_of_the_wrong_shape_is_refused_naming_the_field(exported, name):
    edit, word = HOSTILE[name]
    with pytest.raises(BadWorkspaceFile) as caught:
        _store().import_zip(_edited(exported, edit))
    message = str(caught.value)
    assert "refused" in message and word in message, message
    assert len(message) < 400, message


@pytest.mark.parametrize("name", list(WORKSPACE_HOSTILE))
def test_a_workspace_model_of_the_wrong_shape_is_refused(exported, name):
    fields, word = WORKSPACE_HOSTILE[name]
    with zipfile.ZipFile(io.BytesIO(exported)) as archive:
        doc = json.loads(archive.read("workspace.json"))
    doc.update(fields)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("workspace.json", json.dumps(doc))
    with pytest.raises(BadWorkspaceFile, match=word):
        _store().import_zip(out.getvalue())


# What an import before these checks could have stored: pages read it and never raise. (A context 950 deep is
# refused by save_run itself now.)
STORED = {
    "accuracy as text": {"results": {"loss": 0.3, "accuracy": "high"}},
    "results without the fields": {"results": {"test_acc": 0.95}},
    "results of loss and accuracy only": {"results": {"loss": 0.3, "accuracy": 0.9}},  # valid: it raised KeyError
    "a huge sample index": {"results": {"loss": 0.3, "accuracy": 0.5, "confusion": [[1, 1], [1, 1]],
                                        "misclassified": [10 ** 12], "predicted": [1]}},
    "context end as text": {"context": {"end": "soon", "message": 5, "key": {"a": 1}, "shared": [1]}},
    "a loss as text in the records": {"records": [{"kind": "epoch", "epoch": 1, "val_loss": "low", "train_acc": "x"}]},
}


def _class_with(run: RunRecord) -> tuple[str, str]:
    teacher, code = workspace.create_class("Hostile")
    token = _store().create(spec=engine.network.presets.get("toy-mlp").to_dict())
    _store().join_class(code, "Eve", token)
    _store().save_run(token, run)
    return teacher, token


@pytest.mark.parametrize("name", list(STORED))
def test_pages_never_raise_on_a_stored_run_of_the_wrong_shape(name):
    teacher, token = _class_with(_good_run(**STORED[name]))
    at = AppTest.from_file(CLASS, default_timeout=60)
    at.query_params["teacher"] = teacher
    at.run()
    assert not at.exception, at.exception
    at.run()  # the next poll
    assert not at.exception, at.exception
    train = AppTest.from_file(TRAIN, default_timeout=60)
    train.query_params[workspace.PARAM] = token
    train.run()
    assert not train.exception, train.exception


def test_a_context_too_deep_is_not_stored_by_save_run_either():
    token = _store().create(spec=engine.network.presets.get("toy-mlp").to_dict())
    with pytest.raises(store_mod.WorkspaceError, match="nested"):
        _store().save_run(token, _good_run(context=_deep(950)))


def test_pages_never_raise_on_a_stored_model_of_the_wrong_shape():
    teacher, token = _class_with(_good_run())
    _store().save(token, model={"adopted": 5, "trained": "yes"})
    for page in (TRAIN, CLASS):
        at = AppTest.from_file(page, default_timeout=60)
        at.query_params.update({workspace.PARAM: token} if page == TRAIN else {"teacher": teacher})
        at.run()
        assert not at.exception, at.exception


def test_an_imported_run_saved_again_by_the_page_stays_imported():
    """Issue 17 #11: a restored imported run the page writes back (a new label, its results) keeps its provenance,
    else relabelling it on the Train page would launder an uploaded 100% into the class ranking."""
    from engine.workspace import files
    from ui.core import saved_runs
    token = _store().import_zip(files.write(files.WorkspaceFile(spec=_good_run().spec, runs=[_good_run()])))
    store, flusher = database.reachable()
    record = store.open(token).runs[0]
    assert record.context["imported"] is True
    run = saved_runs.stored_run(record, token, store, flusher)
    run.label = "renamed"
    assert saved_runs._record(run, with_weights=True).context["imported"] is True
