"""How a workspace's runs are saved and come back: the flusher reads each run by itself until it has ended, and a
stored run returns as the live run this process still trains, else as a ``SavedRun`` with its context.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

import engine
from engine import workspace
from engine.training import Checkpoint, SavedRun, TrainConfig
from engine.workspace import RunRecord
from ui.core.session import Run

_log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 15.0  # seconds between a live run's checkpoints in the database (weights and optimiser state)
RESULTS_WAIT = 30.0  # seconds an ended Train run is kept watched for its test results (the page computes them)
ABANDONED = "stopped: no heartbeat from the page before it started (was it closed?)"
CHECKPOINTED = ("train",)  # run groups that can be resumed (the Gradients labs' runs are started again instead)


_live: dict[tuple[str, int], object] = {}  # (token, number) -> the Run this process trains (a reload finds it)
_live_lock = threading.Lock()


def watch(flusher, token: str, run, adopt=None) -> None:
    """Have the flusher save the run each round, from its own thread, until it has ended with its results.

    ``adopt() -> dict | None``, asked on the flusher's thread when the run has ended: the session's model it
    becomes (``RunRecord.adopt``), written with the run's final weights, so no page has to be drawn for it.
    """
    if getattr(run.trainer, "elsewhere", False):
        return  # another server trains and writes it: a write from here would overwrite its news
    with _live_lock:
        for key in [k for k in _live if not flusher.watching(*k)]:  # saved for good: the database has them now
            del _live[key]
        _live[(token, run.number)] = run

    last = {"at": time.monotonic(), "ended": None, "ended_at": None, "idle": None, "adopted": False}

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
            record = _record(run, with_weights=True)
            if adopt is not None and not last["adopted"] and record.weights is not None:
                last["adopted"] = True  # once: a later write (its test results) must not undo a newer change
                try:
                    record.adopt = adopt()
                except Exception:  # noqa: BLE001 - the run's own final write must still happen
                    _log.exception("choosing the model a run becomes failed")
            return record, done
        last["ended"] = last["ended_at"] = None  # a reset run trains again
        last["adopted"] = False
        record = _record(run, with_weights=False)
        if run.group not in CHECKPOINTED or isinstance(trainer, SavedRun):
            return record, False
        if trainer.state in ("running", "paused") and time.monotonic() - last["at"] >= CHECKPOINT_EVERY:
            last["at"] = time.monotonic()  # a server restart resumes from here (weights, optimiser, place)
            checkpoint = trainer.checkpoint()
            record.weights, record.optimizer = checkpoint.weights, checkpoint.state_blob()
            # Read after the checkpoint: the stored records reach at least its records, which a resume keeps.
            record.records = trainer.records()
            last["kept"] = (trainer, trainer.generation)
        elif _keeps_checkpoint(last.get("kept"), trainer):
            pass  # blobs None with their flags set: the stored checkpoint stays until a newer one replaces it
        else:
            return record, False  # a new or reset run: an older training's checkpoint must not be resumed
        record.has_weights = record.has_optimizer = True
        return record, False

    flusher.watch(token, run.number, snapshot)


def _keeps_checkpoint(kept, trainer) -> bool:
    """Whether the stored checkpoint belongs to this training: one it wrote, or the one it was resumed from."""
    if kept is not None and kept[0] is trainer and kept[1] == trainer.generation:
        return True
    return getattr(trainer, "resumed", False) and trainer.generation == 0  # Reset starts a new training


def forget(token: str, number: int) -> None:
    """A deleted run: this process no longer hands it to a reload."""
    with _live_lock:
        _live.pop((token, number), None)


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
    # the initial weights kept too: Inspect's loss line starts from them after a reload (downloads drop them)
    weights = trainer.weights(with_initial=True) if with_weights and not saved else None
    return RunRecord(number=run.number, group=run.group, label=run.label, spec=trainer.spec.to_dict(),
                     config=run.config.to_dict(), state=trainer.state, records=trainer.records(),
                     results=_jsonable(run.results), context=_context(run), weights=weights,
                     has_weights=saved and trainer.has_weights,
                     has_optimizer=saved and trainer.resumable)  # a reopened run's checkpoint stays resumable


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
    if getattr(run.trainer, "imported", False):  # a restored imported run keeps it; training it here drops it
        context["imported"] = True
    return context or None


def _tuples(value):
    """JSON lists back to the tuples a settings key was made of."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


SHOWN_WRONG = workspace.MAX_WRONG  # misclassified samples the Train page shows: all that is kept of the predictions
MAX_SAMPLE = 1 << 20  # a kept sample's index past this is dropped: predictions are rebuilt as an array that long


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
    if len(wrong) and wrong.max() >= MAX_SAMPLE:
        wrong = wrong[:0]
    predictions = np.zeros(int(wrong.max()) + 1 if len(wrong) else 0, dtype=np.int64)
    if len(stored.get("predicted", [])) == len(wrong):
        predictions[wrong] = stored.get("predicted", [])
    confusion = stored.get("confusion")
    return {"loss": stored["loss"], "accuracy": stored.get("accuracy"),
            "confusion": None if confusion is None else np.asarray(confusion), "misclassified": wrong,
            "predictions": predictions}


def elsewhere_text(store) -> str:
    """Why a run another server trains cannot be resumed or reset here, and when it can."""
    after = round(getattr(store, "interrupt_after", 60.0))
    return (f"training on another server: reload the page to follow it. If that server sends no news "
            f"of it for {after} s, it shows as interrupted here and Resume continues it from its last checkpoint")


def stored_run(record: RunRecord, token: str, store, flusher):
    """The session's Run for a stored one: the live run this process still holds, else a SavedRun."""
    live = _live_run(flusher, token, record.number)
    if live is not None:
        return live
    spec = engine.ModelSpec.from_dict(record.spec)
    config = TrainConfig.from_dict(record.config)
    # A live run another server flushed within interrupt_after is its own (Store.open marked the older ones); one
    # this server's previous life left live (a restart, a kill) is interrupted at once and resumes here.
    elsewhere = record.elsewhere(getattr(store, "server_id", None))
    state = record.state if record.state in engine.training.TERMINAL else "interrupted"
    weights = (lambda: store.run_blobs(token, record.number)[0]) if record.has_weights else None
    checkpoint = None
    if state == "interrupted" and not elsewhere and record.has_weights and record.has_optimizer:
        checkpoint = lambda: Checkpoint.from_blobs(*store.run_blobs(token, record.number))  # noqa: E731
    context = workspace.readable_context(record.context, record.number) or {}  # never raise on it
    message = elsewhere_text(store) if elsewhere else \
        "the server stopped while it trained; Resume continues from its last checkpoint" if checkpoint else \
        "the server stopped while it trained, before a checkpoint was saved: Reset trains it again" \
        if state == "interrupted" else str(context.get("message") or "")
    saved = SavedRun(spec, config, state, record.records, weights, message=message, checkpoint=checkpoint,
                     end=context.get("end") if state != "interrupted" else None)
    saved.imported = context.get("imported") is True
    saved.elsewhere = elsewhere
    key, shared = context.get("key"), workspace.from_jsonable(context.get("shared") or {})
    results = _results(workspace.readable_results(record.results, record.number))  # never raise on them
    return Run(record.number, record.group, saved, spec, config, label=record.label, results=results,
               key=_tuples(key) if isinstance(key, list) else None, shared=shared if isinstance(shared, dict) else {})
