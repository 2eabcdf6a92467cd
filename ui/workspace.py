"""The session's workspace in the database: named by the address (``?ws=``), restored by a new session, kept saved.

A Streamlit session lives as long as one websocket, so a reload, a new tab or a server restart starts an empty
one; the token in every page's address finds the workspace again. Writes never happen in the training loop or
on a page's hot path: the session marks what changed and one process-wide ``Keeper`` thread writes it about once
a second, runs included (their records, final state, weights and test results), also after the tab has closed.
When the database is down the pages say so and keep working in memory.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np
import streamlit as st

import engine
from engine import workspace
from engine.training import SavedRun, TrainConfig, save_weights
from engine.workspace import RunRecord

PARAM = "ws"
PERSISTED = ("train",)  # run groups kept in the workspace: the Gradients labs' runs are experiments redone in seconds
_log = logging.getLogger(__name__)


class Keeper:
    """One daemon thread per server process that writes workspaces' changes and their runs' progress.

    ``fields(token, **values)`` queues workspace fields (the newest value of each wins); ``watch(token, run)``
    keeps a run's stored copy up to date about once a second until it has ended and been written with its weights
    and results. Nothing here blocks the caller; a failed write is kept and tried again, and ``error`` says why.
    """

    EVERY = 1.0  # seconds between write rounds

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._fields: dict[str, dict] = {}
        self._runs: dict[tuple[str, int], object] = {}  # (token, number) -> ui.session.Run
        self._written: dict[tuple[str, int], tuple] = {}  # what was last written of each run
        self._wake = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._loop, name="workspace-keeper", daemon=True)
        self._thread.start()

    def fields(self, token: str, **values) -> None:
        with self._lock:
            self._fields.setdefault(token, {}).update(values)
        self._wake.set()

    def watch(self, token: str, run) -> None:
        with self._lock:
            self._runs[(token, run.number)] = run
        self._wake.set()

    def live_run(self, token: str, number: int):
        """The run object this process still trains (or has not finished writing), or None."""
        with self._lock:
            return self._runs.get((token, number))

    def forget(self, token: str, number: int) -> None:
        """Stop keeping a run (deleted by its student) and delete its stored copy."""
        with self._lock:
            self._runs.pop((token, number), None)
            self._written.pop((token, number), None)
        try:
            self.store.delete_run(token, number)
        except engine.InputError as err:
            self.error = str(err)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything pending now (tests, shutdown); True when nothing is left."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._round() and not self._pending():
                return True
            time.sleep(0.05)
        return False

    def _pending(self) -> bool:
        with self._lock:
            return bool(self._fields) or any(self._due(key, run) for key, run in self._runs.items())

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.EVERY)
            self._wake.clear()
            try:
                self._round()
            except Exception:  # noqa: BLE001 - the keeper must outlive any one bad write
                _log.exception("workspace keeper round failed")
            time.sleep(self.EVERY)  # at most about one round a second, however often it is woken

    def _round(self) -> bool:
        """One pass: pending fields, then runs with something new; True when every write succeeded."""
        with self._lock:
            fields, self._fields = self._fields, {}
            runs = list(self._runs.items())
        ok = True
        for token, values in fields.items():
            ok &= self._write(lambda: self.store.save(token, **values), lambda: self._requeue(token, values))
        for key, run in runs:
            mark = self._mark(run)
            if mark == self._written.get(key):
                continue
            if not self._write(lambda: self.store.save_run(key[0], _record(run, with_weights=mark[1])), None):
                ok = False
                continue
            self._written[key] = mark
            if mark[1] and mark[2]:  # ended, and its results are in (or none come): nothing more to write
                with self._lock:
                    self._runs.pop(key, None)
                    self._written.pop(key, None)
        if ok:
            self.error = None
        return ok

    def _write(self, write, undo) -> bool:
        try:
            write()
            return True
        except workspace.StoreUnavailable as err:
            self.error = f"saving is off ({err}); your work stays in this browser tab until the database is back"
        except engine.InputError as err:  # read-only snapshot, a cap, an unknown token: say it, do not retry
            self.error = str(err)
            return True
        if undo is not None:
            undo()
        return False

    def _requeue(self, token: str, values: dict) -> None:
        with self._lock:
            self._fields[token] = values | self._fields.get(token, {})

    def _due(self, key, run) -> bool:
        return self._mark(run) != self._written.get(key)

    @staticmethod
    def _mark(run) -> tuple:
        """What a write of the run would change: records, ended, results present (or not expected)."""
        ended = not run.live
        return run.trainer.record_count, ended, run.results is not None or run.group != "train", run.label


def _record(run, with_weights: bool) -> RunRecord:
    """The stored form of a run: settings, records, state and results; weights once it has ended."""
    trainer = run.trainer
    weights = None
    if with_weights and not isinstance(trainer, SavedRun):
        weights = trainer.weights()
    return RunRecord(number=run.number, group=run.group, label=run.label, spec=trainer.spec.to_dict(),
                     config=run.config.to_dict(), state=trainer.state, records=trainer.records(),
                     results=_jsonable(run.results), weights=weights,
                     has_weights=isinstance(trainer, SavedRun) and trainer.has_weights)


SHOWN_WRONG = 24  # misclassified samples the Train page shows: all that is kept of the predictions


def _jsonable(results: dict | None) -> dict | None:
    """The test numbers the Train page shows again, as JSON: loss, accuracy, confusion, a few wrong samples."""
    if results is None:
        return None
    wrong = np.asarray(results["misclassified"])[:SHOWN_WRONG]
    predictions = np.asarray(results["predictions"])
    confusion = results["confusion"]
    return {"loss": results["loss"], "accuracy": results["accuracy"],
            "confusion": None if confusion is None else np.asarray(confusion).tolist(),
            "misclassified": wrong.tolist(),
            "predicted": predictions[wrong].tolist() if predictions.ndim == 1 and len(wrong) else []}


def _results(stored: dict | None) -> dict | None:
    """``evaluate``'s dict again from what ``_jsonable`` kept (predictions only where the page looks)."""
    if not stored or "loss" not in stored:
        return None
    wrong = np.asarray(stored.get("misclassified", []), dtype=np.int64)
    predictions = np.zeros(int(wrong.max()) + 1 if len(wrong) else 0, dtype=np.int64)
    if len(stored.get("predicted", [])) == len(wrong):
        predictions[wrong] = stored["predicted"]
    confusion = stored.get("confusion")
    return {"loss": stored["loss"], "accuracy": stored.get("accuracy"),
            "confusion": None if confusion is None else np.asarray(confusion), "misclassified": wrong,
            "predictions": predictions}


@st.cache_resource(show_spinner=False)
def _services() -> tuple:
    """The process's store and keeper (an error is not cached: the next session tries the database again)."""
    store = workspace.get_store()
    return store, Keeper(store)


def services() -> tuple:
    """(store, keeper), or (None, None) while the database cannot be opened."""
    try:
        return _services()
    except workspace.StoreUnavailable:
        return None, None


def _ip() -> str | None:
    try:
        return st.context.ip_address
    except (AttributeError, RuntimeError):
        return None


def attach(s) -> None:
    """A new browser session: open the workspace its address names (``?ws=``), or make a new one and name it."""
    try:
        store, keeper = _services()
    except workspace.StoreUnavailable as err:
        s.save_error = f"Saving is off ({err}): your work stays in this browser tab only."
        return
    token = st.query_params.get(PARAM)
    if token:
        try:
            restore(s, store.open(token), keeper)
            return
        except workspace.StoreUnavailable as err:
            s.save_error = f"Saving is off ({err}): your work stays in this browser tab only."
            return
        except engine.InputError as err:  # malformed, unknown or expired: say so, start a fresh workspace
            s.notice = f"{err} A new, empty workspace was opened instead."
    try:
        s.token = store.create(_ip(), spec=s.spec.to_dict(), settings=s.settings or None)
    except engine.InputError as err:  # the hourly cap, or the database went away
        s.save_error = f"Saving is off: {err} Your work stays in this browser tab only."
        return
    st.query_params[PARAM] = s.token


def restore(s, ws, keeper) -> None:
    """Fill a new session's state from a stored workspace: network, settings, model and runs."""
    from ui import train_ui  # the Train page's widgets take their values from the stored settings

    s.token, s.read_only = ws.token, ws.read_only
    s.class_name, s.display_name = ws.class_name, ws.display_name
    try:
        s.set_spec(engine.ModelSpec.from_dict(ws.spec))
    except (engine.SpecError, engine.InputError) as err:
        s.notice = f"The stored network could not be read ({err}); the default one is shown."
    s.settings = dict(ws.settings or {})
    st.session_state.update(train_ui.widget_state(s.settings.get("train")))
    model = ws.model or {}
    s.adopted = list(model.get("adopted", []))
    if model.get("trained") and ws.has_model_weights:
        s.trained, s.dataset = True, model.get("dataset")
        s.weights_source = lambda: keeper.store.model_weights(ws.token)
    s.pushed_version = ws.pushed_version
    for record in ws.runs:
        if record.group in PERSISTED:
            s.book.restore(_run_of(record, ws.token, keeper))
    take_push(s, ws, keeper)


def _run_of(record: RunRecord, token: str, keeper):
    """The session's Run for a stored one: the live run this process still holds, else a SavedRun."""
    from ui.session import Run

    live = keeper.live_run(token, record.number)
    if live is not None:
        return live
    spec = engine.ModelSpec.from_dict(record.spec)
    config = TrainConfig.from_dict(record.config)
    state = record.state if record.state in engine.training.TERMINAL else "interrupted"
    weights = (lambda: keeper.store.run_blobs(token, record.number)[0]) if record.has_weights else None
    saved = SavedRun(spec, config, state, record.records, weights,
                     message="the server stopped while it trained" if state == "interrupted" else "")
    return Run(record.number, record.group, saved, spec, config, label=record.label, results=_results(record.results))


def take_push(s, ws, keeper) -> None:
    """A network and settings the class's teacher pushed since this workspace last looked: open them."""
    from ui import train_ui

    push = ws.new_push
    if push is None or s.read_only:
        return
    try:
        s.set_spec(engine.ModelSpec.from_dict(push.spec))
    except (engine.SpecError, engine.InputError):
        return
    if push.settings and push.settings.get("train"):
        s.settings["train"] = push.settings["train"]
        st.session_state.update(train_ui.widget_state(push.settings["train"]))
    s.pushed_version = push.version
    s.notice = f"Your teacher sent the class a network ({s.spec.name or 'custom'}) and training settings."
    keeper.fields(s.token, pushed_version=push.version, spec=s.spec.to_dict(), settings=s.settings)


def sync(s) -> None:
    """Queue what changed in the session since the last call (cheap: flags only; the keeper writes)."""
    if s.token is None or s.read_only or not (s.dirty or s.book.changed):
        return
    store, keeper = services()
    if keeper is None:
        return
    values = {}
    if "spec" in s.dirty:
        values["spec"] = s.spec.to_dict()
    if "settings" in s.dirty:
        values["settings"] = dict(s.settings)
    if "model" in s.dirty:
        values["model"] = {"trained": s.trained, "dataset": s.dataset, "adopted": list(s.adopted)}
        values["model_weights"] = save_weights(s.model) if s.trained and s.model is not None else None
    for number in s.book.changed:
        run = s.book.get(number)
        if run is None:
            keeper.forget(s.token, number)
        elif run.group in PERSISTED:
            keeper.watch(s.token, run)
    s.dirty.clear()
    s.book.changed.clear()
    if values:
        keeper.fields(s.token, **values)


def save_error(s) -> str | None:
    """Why this session's work is not being saved, if it is not."""
    if s.save_error:
        return s.save_error
    _, keeper = services()
    return keeper.error if keeper is not None else None


def _store():
    store, keeper = services()
    if store is None:
        raise workspace.StoreUnavailable("the database cannot be reached right now; try again in a minute")
    return store, keeper


def share(s) -> str:
    """A read-only snapshot of the workspace as it is now (network, runs, weights); returns its token."""
    store, keeper = _store()
    sync(s)
    keeper.flush()  # the snapshot copies what is stored: store everything first
    return store.snapshot(s.token)


def copy(s) -> str:
    """A writable copy of this (snapshot) workspace for the visitor; returns its token."""
    store, _ = _store()
    return store.copy(s.token, _ip())


def export_file(s) -> bytes:
    """The whole workspace as one .zip (JSON and safetensors, never pickle)."""
    store, keeper = _store()
    sync(s)
    keeper.flush()
    return store.export_zip(s.token)


def import_file(data: bytes) -> str:
    """A new workspace from a .zip made by ``export_file``, checked member by member; returns its token."""
    store, _ = _store()
    return store.import_zip(data, _ip())


def join_class(s, code: str, name: str) -> None:
    """Join a teacher's class under a display name: the teacher sees this workspace's network and runs."""
    store, keeper = _store()
    store.join_class(code, name, s.token)
    ws = store.open(s.token)
    s.class_name, s.display_name = ws.class_name, ws.display_name
    take_push(s, ws, keeper)


def link(token: str, page: str = "") -> str:
    """The address that opens a workspace (absolute when the server knows its own address)."""
    try:
        base = str(st.context.url).split("?")[0]
    except (AttributeError, RuntimeError):
        base = ""
    if page:
        base = base.rsplit("/", 1)[0] + "/" + page if base else page
    return f"{base}?{PARAM}={token}"


def create_class(name: str) -> tuple[str, str]:
    """A new class: (the teacher's token, the join code)."""
    store, _ = _store()
    return store.create_class(name)


def class_view(teacher_token: str, since: float | None):
    """The class's members changed since ``since`` (all when None), for the teacher's live view."""
    store, _ = _store()
    return store.class_view(teacher_token, since)


def push(teacher_token: str, s) -> int:
    """The teacher's network and Train settings to every member; returns the push's version."""
    store, _ = _store()
    return store.push(teacher_token, s.spec.to_dict(), {"train": s.settings.get("train")})
