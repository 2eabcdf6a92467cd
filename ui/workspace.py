"""The session's workspace in the database: named by the address (``?ws=``), restored by a new session, kept saved.

A Streamlit session lives as long as one websocket, so a reload, a new tab or a server restart starts an empty
one; the token in every page's address finds the workspace again. Writes never happen in the training loop or
on a page's hot path: the session marks what changed and the process's flusher thread (``engine.workspace``)
writes it about once a second, runs included (their records, final state, weights and test results), also after
the tab has closed.
When the database is down the pages say so and keep working in memory.
"""
from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import streamlit as st

import engine
from engine import workspace
from engine.training import Checkpoint, SavedRun, TrainConfig, save_weights
from engine.workspace import RunRecord

PARAM = "ws"
CHECKPOINT_EVERY = 15.0  # seconds between a live run's checkpoints in the database (weights and optimiser state)
RESULTS_WAIT = 30.0  # seconds an ended Train run is kept watched for its test results (the page computes them)
ABANDONED = "stopped: no heartbeat from the page before it started (was it closed?)"
CHECKPOINTED = ("train",)  # run groups that can be resumed (the Gradients labs' runs are started again instead)


_live: dict[tuple[str, int], object] = {}  # (token, number) -> the Run this process trains (a reload finds it)
_live_lock = threading.Lock()


def _watch(flusher, token: str, run) -> None:
    """Have the flusher save the run each round, from its own thread, until it has ended with its results."""
    with _live_lock:
        for key in [k for k in _live if not flusher.watching(*k)]:  # saved for good: the database has them now
            del _live[key]
        _live[(token, run.number)] = run

    last = {"at": time.monotonic(), "ended": None, "ended_at": None, "idle": None}

    def snapshot() -> tuple[RunRecord | None, bool]:
        trainer = run.trainer
        if trainer.state == "idle":  # not started (a comparison's later cell, a reset run): written once
            if trainer.abandoned:  # nothing will start it now: its page is gone
                trainer.stop(0, reason=ABANDONED)
            elif last["idle"] == run.label:
                return None, False
            else:
                last["idle"] = run.label
                return _record(run, with_weights=False), False
        last["idle"] = None
        if not run.live:  # written once when it ends, once more when its test results come (or never do)
            now = time.monotonic()
            last["ended_at"] = last["ended_at"] or now
            waited_out = now - last["ended_at"] > RESULTS_WAIT
            done = run.results is not None or run.group != "train" or waited_out  # labs: RunBook.touch for more
            mark = (run.results is not None, run.label, trainer.state)
            if mark == last["ended"]:
                return None, done
            last["ended"] = mark
            return _record(run, with_weights=True), done
        last["ended"] = last["ended_at"] = None  # a reset run trains again
        record = _record(run, with_weights=False)
        if trainer.state in ("running", "paused") and run.group in CHECKPOINTED \
                and not isinstance(trainer, SavedRun) and time.monotonic() - last["at"] >= CHECKPOINT_EVERY:
            last["at"] = time.monotonic()  # a server restart resumes from here (weights, optimiser, place)
            checkpoint = trainer.checkpoint()
            record.weights, record.optimizer = checkpoint.weights, checkpoint.state_blob()
            record.has_weights = record.has_optimizer = True
        return record, False

    flusher.watch(token, run.number, snapshot)


def _live_run(flusher, token: str, number: int):
    """The Run object this process still trains or saves, or None (then the stored copy is the whole story)."""
    with _live_lock:
        run = _live.get((token, number))
        if run is not None and not flusher.watching(token, number):
            _live.pop((token, number), None)
            return None
        return run


def _record(run, with_weights: bool) -> RunRecord:
    """The stored form of a run: settings, records, state, results and context; weights once it has ended."""
    trainer = run.trainer
    saved = isinstance(trainer, SavedRun)
    weights = trainer.weights() if with_weights and not saved else None
    return RunRecord(number=run.number, group=run.group, label=run.label, spec=trainer.spec.to_dict(),
                     config=run.config.to_dict(), state=trainer.state, records=trainer.records(),
                     results=_jsonable(run.results), context=_context(run), weights=weights,
                     has_weights=saved and trainer.has_weights)


def _context(run) -> dict | None:
    """Where and why an ended run ended ("stopped by the user", "diverged: ..."), and a Gradients experiment's
    settings key and the plain data of its shared context (snapshots, baseline...).

    Models and probe batches in the context are left out: a restored run is drawn from what was measured.
    """
    context = {}
    if not run.live:  # the last record can lag the end by a few steps
        status = run.trainer.status
        context["end"] = {"step": status.step, "epoch": status.epoch, "elapsed": status.elapsed}
        if status.message:
            context["message"] = status.message
    if run.key is not None or run.shared:
        context |= {"key": workspace.plain_part(run.key), "shared": workspace.plain_part(dict(run.shared))}
    return context or None


def _tuples(value):
    """JSON lists back to the tuples a settings key was made of."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


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
    """The process's store and flusher (an error is not cached: the next session tries the database again)."""
    return workspace.get_store(), workspace.get_flusher()


def services() -> tuple:
    """(store, flusher), or (None, None) while the database cannot be opened."""
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
        store, flusher = _services()
    except workspace.StoreUnavailable as err:
        s.save_error = f"Saving is off ({err}): your work stays in this browser tab only."
        return
    token = st.query_params.get(PARAM)
    if token:
        try:
            queued = flusher.queued_fields(token)  # first: a write finishing meanwhile is then in what open() reads
            restore(s, store.open(token), store, flusher, queued)
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


def restore(s, ws, store, flusher, queued: dict | None = None) -> None:
    """Fill a new session's state from a stored workspace: network, settings, model and runs.

    ``queued``: the workspace's fields changed a moment ago and not written yet (a reload right after a change:
    this process still has them), laid over the stored ones.
    """
    from ui import train_ui  # the Train page's widgets take their values from the stored settings

    queued = queued or {}
    weights = queued.get("model_weights")
    ws = dataclasses.replace(ws, **{k: v for k, v in queued.items() if k in ("spec", "settings", "model",
                                                                             "pushed_version")},
                             has_model_weights=ws.has_model_weights if "model_weights" not in queued else bool(weights))
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
        s.weights_source = (lambda: weights) if weights else lambda: store.model_weights(ws.token)
    s.pushed_version = ws.pushed_version
    runs = []
    for record in ws.runs:
        try:
            runs.append(_run_of(record, ws.token, store, flusher))
        except (engine.SpecError, engine.InputError, ValueError, TypeError):
            s.notice = f"Run {record.number} ({record.label}) could not be read back and is not shown."
    # A lab keeps one experiment: its runs share one context, as when started. A run this process still trains
    # keeps its own (another tab may be drawing it), and the stored ones join it.
    experiments = {r.group: r.shared for r in runs if r.group != "train" and not isinstance(r.trainer, SavedRun)}
    for run in runs:
        if run.group != "train" and isinstance(run.trainer, SavedRun):
            run.shared = experiments.setdefault(run.group, run.shared)
        s.book.restore(run)
    take_push(s, ws.new_push, flusher)


def _run_of(record: RunRecord, token: str, store, flusher):
    """The session's Run for a stored one: the live run this process still holds, else a SavedRun."""
    from ui.session import Run

    live = _live_run(flusher, token, record.number)
    if live is not None:
        return live
    spec = engine.ModelSpec.from_dict(record.spec)
    config = TrainConfig.from_dict(record.config)
    state = record.state if record.state in engine.training.TERMINAL else "interrupted"
    weights = (lambda: store.run_blobs(token, record.number)[0]) if record.has_weights else None
    checkpoint = None
    if state == "interrupted" and record.has_weights and record.has_optimizer:
        checkpoint = lambda: Checkpoint.from_blobs(*store.run_blobs(token, record.number))  # noqa: E731
    context = record.context if isinstance(record.context, dict) else {}
    message = "the server stopped while it trained; Resume continues from its last checkpoint" if checkpoint else \
        "the server stopped while it trained" if state == "interrupted" else str(context.get("message") or "")
    saved = SavedRun(spec, config, state, record.records, weights, message=message, checkpoint=checkpoint,
                     end=context.get("end") if state != "interrupted" else None)
    key, shared = context.get("key"), workspace.from_jsonable(context.get("shared") or {})
    return Run(record.number, record.group, saved, spec, config, label=record.label, results=_results(record.results),
               key=_tuples(key) if isinstance(key, list) else None, shared=shared if isinstance(shared, dict) else {})


PUSH_POLL = 5.0  # seconds between a class member's checks for a network pushed by the teacher


def poll_push(s) -> None:
    """A class member's open session takes a teacher's push within a few seconds, without a reload."""
    if not s.class_name or s.read_only or time.monotonic() - s.extras.get("push_polled", 0.0) < PUSH_POLL:
        return
    s.extras["push_polled"] = time.monotonic()
    store, flusher = services()
    if store is None:
        return
    try:
        push = store.new_push(s.token)
    except engine.InputError:
        return
    if push is not None and push.version > s.pushed_version:
        take_push(s, push, flusher)


def take_push(s, push, flusher) -> None:
    """A network and settings the class's teacher pushed since this workspace last looked: open them."""
    from ui import train_ui

    if push is None or s.read_only or push.version <= s.pushed_version:
        return
    try:
        s.set_spec(engine.ModelSpec.from_dict(push.spec))
    except (engine.SpecError, engine.InputError):
        return
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith("arg-")]:
        del st.session_state[key]  # the Build page's argument widgets show the new network's values
    if push.settings and push.settings.get("train"):
        s.settings["train"] = push.settings["train"]
        st.session_state.update(train_ui.widget_state(push.settings["train"]))
    s.pushed_version = push.version
    s.notice = f"Your teacher sent the class a network ({s.spec.name or 'custom'}) and training settings."
    flusher.save_fields(s.token, pushed_version=push.version, spec=s.spec.to_dict(), settings=dict(s.settings))


def sync(s) -> None:
    """Queue what changed in the session since the last call (cheap: flags only; the flusher writes)."""
    if s.token is None or s.read_only or not (s.dirty or s.book.changed):
        return
    _, flusher = services()
    if flusher is None:
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
        if run is None:  # deleted in the flusher's next round, off this thread
            flusher.delete_run(s.token, number)
            with _live_lock:
                _live.pop((s.token, number), None)
        else:
            _watch(flusher, s.token, run)
    s.dirty.clear()
    s.book.changed.clear()
    if values:
        flusher.save_fields(s.token, **values)


def save_error(s) -> str | None:
    """Why this session's work is not being saved, if it is not."""
    if s.save_error:
        return s.save_error
    _, flusher = services()
    if flusher is None:
        return "Saving is off: the database cannot be reached. Your work stays in this browser tab for now."
    error = flusher.error_for(s.token) if s.token else None
    if error is None and flusher.last_error is not None:
        return f"Saving is paused ({flusher.last_error}); it resumes when the database is back."
    return None if error is None else f"Not saved: {error}"


def _store():
    store, flusher = services()
    if store is None:
        raise workspace.StoreUnavailable("the database cannot be reached right now; try again in a minute")
    return store, flusher


def share(s) -> str:
    """A read-only snapshot of the workspace as it is now (network, runs, weights); returns its token."""
    store, flusher = _store()
    sync(s)
    flusher.flush(10.0)  # the snapshot copies what is stored: store everything first
    return store.snapshot(s.token)


def copy(s) -> str:
    """A writable copy of this (snapshot) workspace for the visitor; returns its token."""
    store, _ = _store()
    return store.copy(s.token, _ip())


def export_file(s) -> bytes:
    """The whole workspace as one .zip (JSON and safetensors, never pickle)."""
    store, flusher = _store()
    sync(s)
    flusher.flush(10.0)
    return store.export_zip(s.token)


def import_file(data: bytes) -> str:
    """A new workspace from a .zip made by ``export_file``, checked member by member; returns its token."""
    store, _ = _store()
    return store.import_zip(data, _ip())


def join_class(s, code: str, name: str) -> None:
    """Join a teacher's class under a display name: the teacher sees this workspace's network and runs."""
    store, flusher = _store()
    store.join_class(code, name, s.token)
    ws = store.open(s.token)
    s.class_name, s.display_name = ws.class_name, ws.display_name
    take_push(s, ws.new_push, flusher)


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
