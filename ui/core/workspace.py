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

import streamlit as st

import engine
from engine import workspace
from engine.training import SavedRun, save_weights
from ui.core import database, pushes, saved_runs, text

PARAM = "ws"


def attach(s) -> None:
    """A new browser session: open the workspace its address names (``?ws=``), or make a new one and name it."""
    try:
        store, flusher = database.opened()
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
            s.notice = f"{text.message(err)} A new, empty workspace was opened instead."
    try:
        s.token = store.create(database.client_ip(), spec=s.spec.to_dict(), settings=s.settings or None)
    except engine.InputError as err:  # the hourly cap, or the database went away
        s.save_error = f"Saving is off: {err} Your work stays in this browser tab only."
        return
    st.query_params[PARAM] = s.token


def restore(s, ws, store, flusher, queued: dict | None = None) -> None:
    """Fill a new session's state from a stored workspace: network, settings, model and runs.

    ``queued``: the workspace's fields changed a moment ago and not written yet (a reload right after a change:
    this process still has them), laid over the stored ones.
    """
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
        s.notice = f"The stored network could not be read ({text.message(err)}); the default one is shown."
    s.settings = dict(ws.settings or {})
    s.outside, s.outside_spec = s.outside + 1, s.spec  # each page shows them in its widgets when it next draws
    model = workspace.readable_model(ws.model)  # an old import's odd model opens as untrained
    s.adopted = list(model.get("adopted", []))
    if model.get("trained") and ws.has_model_weights:
        s.trained, s.dataset = True, model.get("dataset")
        s.weights_source = (lambda: weights) if weights else lambda: store.model_weights(ws.token)
    s.pushed_version = ws.pushed_version
    runs = []
    for record in ws.runs:
        try:
            runs.append(saved_runs.stored_run(record, ws.token, store, flusher))
        except (engine.SpecError, engine.InputError, ValueError, TypeError):
            s.notice = f"Run {record.number} ({text.plain(record.label)}) could not be read back and is not shown."
    # A lab keeps one experiment: its runs share one context, as when started. A run this process still trains
    # keeps its own (another tab may be drawing it), and the stored ones join it.
    experiments = {r.group: r.shared for r in runs if r.group != "train" and not isinstance(r.trainer, SavedRun)}
    for run in runs:
        if run.group != "train" and isinstance(run.trainer, SavedRun):
            run.shared = experiments.setdefault(run.group, run.shared)
        s.book.restore(run)
    pushes.take_push(s, ws.new_push, flusher)


def sync(s) -> None:
    """Queue what changed in the session since the last call (cheap: flags only; the flusher writes)."""
    if s.token is None or s.read_only or not (s.dirty or s.book.changed):
        return
    _, flusher = database.services()
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
            saved_runs.forget(s.token, number)
        else:
            saved_runs.watch(flusher, s.token, run, adopt=lambda run=run: adoption(s, run))
    s.dirty.clear()
    s.book.changed.clear()
    if values:
        flusher.save_fields(s.token, **values)


def adoption(s, run) -> dict | None:
    """The session's model (``model`` field) once ``run`` has ended, if it becomes it: the Train page's active run,
    started on the network still on Build (as the Train page's ``results_ui`` adopts). Read on the flusher's thread."""
    if not run.auto_adopt or s.book.active(run.group) is not run or run.spec != s.spec or run.live:
        return None  # only Train's runs are started with auto_adopt
    config = run.config
    return {"trained": True, "dataset": {"name": config.dataset, "seed": config.seed,
                                         "options": dict(config.dataset_options)},
            "adopted": [n for n in s.adopted if n != run.number] + [run.number]}


def save_error(s) -> str | None:
    """Why this session's work is not being saved, if it is not."""
    if s.save_error:
        return s.save_error
    _, flusher = database.services()
    if flusher is None:
        return "Saving is off: the database cannot be reached. Your work stays in this browser tab for now."
    error = flusher.error_for(s.token) if s.token else None
    if error is None and flusher.last_error is not None:
        return f"Saving is paused ({flusher.last_error}); it resumes when the database is back."
    return None if error is None else f"Not saved: {error}"


def share(s) -> str:
    """A read-only snapshot of the workspace as it is now (network, runs, weights); returns its token."""
    store, flusher = database.reachable()
    sync(s)
    flusher.flush(10.0)  # the snapshot copies what is stored: store everything first
    return store.snapshot(s.token)


def copy(s) -> str:
    """A writable copy of this (snapshot) workspace for the visitor; returns its token."""
    store, _ = database.reachable()
    return store.copy(s.token, database.client_ip())


def export_file(s) -> bytes:
    """The whole workspace as one .zip (JSON and safetensors, never pickle)."""
    store, flusher = database.reachable()
    sync(s)
    flusher.flush(10.0)
    return store.export_zip(s.token)


def import_file(data: bytes) -> str:
    """A new workspace from a .zip made by ``export_file``, checked member by member; returns its token."""
    store, _ = database.reachable()
    return store.import_zip(data, database.client_ip())


def join_class(s, code: str, name: str) -> None:
    """Join a teacher's class under a display name: the teacher sees this workspace's network and runs."""
    store, flusher = database.reachable()
    store.join_class(code, name, s.token, database.client_ip())
    ws = store.open(s.token)
    s.class_name, s.display_name, s.pushed_version = ws.class_name, ws.display_name, ws.pushed_version
    pushes.take_push(s, ws.new_push, flusher)


def leave_class(s) -> None:
    """Take this workspace out of its class: the teacher no longer sees it; its work stays."""
    store, _ = database.reachable()
    store.leave_class(s.token)
    s.class_name = s.display_name = None
    s.pushed_version = 0  # a class joined later counts its pushes from 1


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
    store, _ = database.reachable()
    return store.create_class(name, database.client_ip())


def class_view(teacher_token: str, since: float | None):
    """The class's members changed since ``since`` (all when None), for the teacher's live view."""
    store, _ = database.reachable()
    return store.class_view(teacher_token, since)


def push(teacher_token: str, s) -> int:
    """The teacher's network and Train settings to every member; returns the push's version."""
    store, _ = database.reachable()
    return store.push(teacher_token, s.spec.to_dict(), {"train": s.settings.get("train")})


def class_board(teacher_token: str) -> str:
    """The token of the class's read-only board (for a projector: it holds no teacher key)."""
    store, _ = database.reachable()
    return store.class_board(teacher_token)


def board_view(board_token: str, since: float | None):
    """``class_view`` through the board's token."""
    store, _ = database.reachable()
    return store.board_view(board_token, since)


def remove_member(teacher_token: str, member_key: str) -> None:
    """The teacher takes a member out of the class; their workspace stays theirs."""
    store, _ = database.reachable()
    store.remove_member(teacher_token, member_key)


def member_snapshot(teacher_token: str, member_key: str) -> str:
    """A read-only snapshot of a class member's workspace, for their teacher; its token (capped per address)."""
    store, _ = database.reachable()
    return store.member_snapshot(teacher_token, member_key, database.client_ip())
