"""Writes off the hot path: one background thread per process saves submitted runs about once a second.

The page (or anything holding a run) calls ``submit`` as often as it likes, on every poll of a live run: it is
O(1) and never waits on the database. Only the newest version of each run is written. A live run submitted with
nothing new is only marked alive (``Store.touch_run``), which keeps other servers from reporting it interrupted.
``watch`` hands the thread a run to read by itself each round until it has ended (so a run keeps being saved after
its browser tab closed), and ``save_fields`` queues a workspace's own fields (network, settings, model).
"""
from __future__ import annotations

import atexit
import copy
import dataclasses
import logging
import threading
import time
from typing import Callable

from engine.workspace.errors import StoreUnavailable, WorkspaceError
from engine.workspace.records import LIVE, RunRecord, newer, unchanged
from engine.workspace.store import get_store

_log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0  # seconds between retries while the database stays down
# Seconds between "still alive" marks of a live run with nothing new (a queued run): well inside the store's
# ``interrupt_after``, and not one write per queued run per second when a whole class waits for a slot.
TOUCH_EVERY = 10.0


class Flusher:
    """A queue of runs to save, drained by one daemon thread started on the first ``submit``.

    Args:
        store: a ``Store``, or a function returning one (called at each write, so a database that could not be
            opened at first is retried); None uses ``get_store``.
        interval: seconds between writes (each write saves everything submitted meanwhile).
    """

    def __init__(self, store=None, interval: float = 1.0):
        self._store = store
        self.interval = interval
        self._lock = threading.Lock()
        self._submitted = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._hurry = threading.Event()
        self._pending: dict[tuple[str, int], RunRecord] = {}
        self._queued_at: dict[tuple[str, int], float] = {}  # when each run was last submitted
        self._writing: dict[tuple[str, int], RunRecord] = {}
        self._written: dict[tuple[str, int], RunRecord] = {}  # live runs as last written: "nothing new" is cheap
        self._touched: dict[tuple[str, int], float] = {}  # when each live run was last written or marked alive
        self._errors: dict[str, WorkspaceError] = {}
        self._watched: dict[tuple[str, int], Callable] = {}  # (token, number) -> snapshot()
        self._fields: dict[str, dict] = {}  # token -> workspace fields waiting to be saved
        self._deletes: set[tuple[str, int]] = set()  # runs to delete, off the page's thread
        self._deleting: set[tuple[str, int]] = set()
        self._closed = False
        self._writing_fields: dict[str, dict] = {}
        # Tokens given a newer network or model while a run that was to become their model was being written: if
        # that write fails, its retry no longer adopts (it would be written over the newer fields).
        self._superseded: set[str] = set()
        self._rounds = 0  # write rounds completed (flush waits for a round that read the watched runs)
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._last_error: StoreUnavailable | None = None
        self._opened = None if store is None or callable(store) else store  # the store last written to

    @property
    def last_error(self) -> StoreUnavailable | None:
        """The database's last failure, None once it answers again; at once while its SQLite file is gone (even
        with nothing to write: the page must not say "saved" meanwhile)."""
        check = getattr(getattr(self._opened, "db", None), "file_error", None)  # a Store's; a stand-in has none
        return self._last_error or (check() if callable(check) else None)

    @last_error.setter
    def last_error(self, error: StoreUnavailable | None) -> None:
        self._last_error = error

    def submit(self, token: str, run: RunRecord) -> None:
        """Queue ``run`` for saving in workspace ``token``, replacing any version still waiting (never blocks).

        Hand over a RunRecord you no longer change (build a new one for the next submit).
        """
        with self._lock:
            key = (token, run.number)
            self._pending[key] = newer(self._pending.get(key), run)
            self._queued_at[key] = time.monotonic()
            self._start_locked()

    def watch(self, token: str, number: int, snapshot: Callable[[], tuple[RunRecord | None, bool]]) -> None:
        """Save run ``number`` each round from ``snapshot() -> (record, done)`` until ``done`` has been written.

        ``record`` None means nothing new to write this round.

        ``snapshot`` runs on the flusher's thread: it must be safe to call there (a Trainer's ``records`` and
        ``weights`` are). Watching a run again replaces its snapshot.
        """
        with self._lock:
            self._watched[(token, number)] = snapshot
            self._start_locked()

    def unwatch(self, token: str, number: int) -> None:
        """Stop saving a run; what was queued for it is dropped."""
        with self._lock:
            self._unwatch_locked((token, number))

    def _unwatch_locked(self, key: tuple[str, int]) -> None:
        self._watched.pop(key, None)
        self._pending.pop(key, None)
        self._queued_at.pop(key, None)
        self._written.pop(key, None)
        self._touched.pop(key, None)

    def delete_run(self, token: str, number: int) -> None:
        """Stop saving a run and delete its stored copy in the next round (never blocks; retried while the
        database is down)."""
        with self._lock:
            self._unwatch_locked((token, number))
            self._deletes.add((token, number))
            self._start_locked()

    def watching(self, token: str, number: int) -> bool:
        """Whether this process still saves that run (it trains here, or its last write is pending)."""
        with self._lock:
            return (token, number) in self._watched

    def save_fields(self, token: str, **fields) -> None:
        """Queue ``Store.save(token, **fields)``; newer values of a field replace queued ones (never blocks).

        A queued run of ``token`` that was to become its model (``RunRecord.adopt``, a retry) no longer does, nor
        does one being written if that write fails: the network or model given here is newer."""
        with self._lock:
            self._fields.setdefault(token, {}).update(fields)
            if fields.keys() & {"spec", "model", "model_weights"}:
                for key, run in self._pending.items():
                    if key[0] == token and run.adopt is not None:
                        self._pending[key] = dataclasses.replace(run, adopt=None)
                if any(key[0] == token and run.adopt is not None for key, run in self._writing.items()):
                    self._superseded.add(token)
            self._start_locked()

    def queued_fields(self, token: str) -> dict:
        """``token``'s fields given to ``save_fields`` and not yet written, newest last (a reload a moment after
        a change opens the stored workspace with these over it). A run waiting to be written as the workspace's
        model (``RunRecord.adopt``) counts as its spec, model and model weights, under the fields queued since."""
        with self._lock:
            adopted = {}
            for queue in (self._writing, self._pending):
                for (owner, _), run in sorted(queue.items()):
                    if owner == token and run.adopt is not None:
                        adopted = {"spec": run.spec, "model": run.adopt, "model_weights": run.weights}
            return {**adopted, **self._writing_fields.get(token, {}), **self._fields.get(token, {})}

    def _start_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="workspace-flusher", daemon=True)
            self._thread.start()
            atexit.register(self.close, 5.0)
        self._submitted.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is written; False if ``timeout`` passed first (database down)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            # Watched runs are read at the start of a round: wait for a whole round begun after this call.
            target = self._rounds + (2 if self._watched else 0)
            while (self._pending or self._writing or self._fields or self._writing_fields or self._deletes
                   or self._deleting or (self._rounds < target and self._watched)):
                self._hurry.set()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(0.05 if left is None else min(left, 0.05))
        return True

    @property
    def pending(self) -> int:
        """Runs submitted and not yet written."""
        with self._lock:
            return len(self._pending.keys() | self._writing.keys())

    def error_for(self, token: str) -> WorkspaceError | None:
        """Why the last write to this workspace was refused and dropped (a cap, a snapshot, an expired token).

        None once a write to it succeeds. Refusals are not retried; database failures are (see ``last_error``).
        """
        with self._lock:
            return self._errors.get(token)

    # -------------------------------------------------------------------------------------- the thread
    def close(self, timeout: float = 5.0) -> None:
        """Write what is pending, then end the thread (at interpreter exit: a daemon thread killed inside the
        database driver or torch can abort the process)."""
        self.flush(timeout)
        with self._lock:
            self._closed = True
            self._watched.clear()
            self._submitted.notify_all()
        self._hurry.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _drain(self) -> None:
        while not self._closed:
            with self._lock:
                while not (self._pending or self._watched or self._fields or self._deletes or self._closed):
                    self._submitted.wait()
                if self._closed:
                    return
                watched = list(self._watched.items())
                fields, self._fields = self._fields, {}
                self._writing_fields = fields
                deletes, self._deletes = self._deletes, set()
                self._deleting = deletes
            done = self._read_watched(watched)
            with self._lock:
                batch, self._pending = self._pending, {}
                self._writing = batch
            started = time.monotonic()
            # Fields first: they were queued before this round read its runs, so a run that becomes the model now
            # (RunRecord.adopt) is newer than a model or network queued by a page before it ended.
            failed_fields = self._write_fields(fields)
            failed = self._write(batch)
            failed_deletes = self._write_deletes(deletes)
            with self._lock:
                self._deletes |= failed_deletes
                self._deleting = set()
                for key, run in failed.items():
                    if key[0] in self._superseded and run.adopt is not None:
                        run = dataclasses.replace(run, adopt=None)
                    # A newer submit meanwhile wins, taking on the blobs it leaves stored (they never were).
                    self._pending[key] = newer(run, self._pending[key]) if key in self._pending else run
                self._superseded.clear()
                for token, values in failed_fields.items():
                    self._fields[token] = values | self._fields.get(token, {})
                for key in done - failed.keys():  # its final version is written: nothing more to watch
                    if self._watched.get(key) is dict(watched).get(key):
                        self._watched.pop(key, None)
                self._writing, self._writing_fields = {}, {}
                self._rounds += 1
                self._idle.notify_all()
            failed = failed or failed_fields or failed_deletes
            if not failed and (batch or fields or deletes):
                self.last_error = None  # the database answered every write of the round
            self._failures = self._failures + 1 if failed else 0
            pause = min(self.interval * 2 ** min(self._failures, 16), MAX_BACKOFF) if failed else self.interval
            if failed:  # hurried by a waiting flush or not, a failing database is retried at most once an interval
                time.sleep(max(0.0, self.interval - (time.monotonic() - started)))
            self._hurry.wait(max(0.0, pause - (time.monotonic() - started)))
            self._hurry.clear()

    def _read_watched(self, watched: list) -> set:
        """Queue each watched run's current version (unless a newer submit waits); returns the keys that are done."""
        done = set()
        for key, snapshot in watched:
            read_at = time.monotonic()
            try:
                record, finished = snapshot()
            except Exception:  # noqa: BLE001 - one broken run must not stop the others being saved
                _log.exception("reading a watched run failed")
                done.add(key)
                continue
            if record is not None:
                with self._lock:  # newer than a version whose write failed: after an outage the newest is written
                    # (unless it was unwatched or deleted while being read: its stored copy is no longer ours)
                    if self._watched.get(key) is snapshot and self._queued_at.get(key, -1.0) <= read_at:
                        self._pending[key] = newer(self._pending.get(key), record)
            if finished:
                done.add(key)
        return done

    def _write_deletes(self, deletes: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Delete each run; returns those to retry (the database was unavailable)."""
        if not deletes:
            return set()
        try:
            store = self._open_store()
        except StoreUnavailable as exc:
            self.last_error = exc
            return deletes
        failed = set()
        for token, number in deletes:
            try:
                store.delete_run(token, number)
            except StoreUnavailable as exc:
                failed.add((token, number))
                self.last_error = exc
            except WorkspaceError as exc:  # a snapshot, an expired workspace: retrying cannot help
                with self._lock:
                    self._errors[token] = exc
        return failed

    def _write_fields(self, fields: dict[str, dict]) -> dict[str, dict]:
        """Save each workspace's queued fields; returns those to retry (the database was unavailable)."""
        if not fields:
            return {}
        try:
            store = self._open_store()
        except StoreUnavailable as exc:
            self.last_error = exc
            return fields
        failed = {}
        for token, values in fields.items():
            try:
                store.save(token, **values)
            except StoreUnavailable as exc:
                failed[token], self.last_error = values, exc
            except WorkspaceError as exc:  # a snapshot, a cap, an expired workspace: retrying cannot help
                with self._lock:
                    self._errors[token] = exc
        return failed

    def _write(self, batch: dict[tuple[str, int], RunRecord]) -> dict[tuple[str, int], RunRecord]:
        """Save each run; returns the ones to retry (the database was unavailable)."""
        if not batch:  # nothing asked of the database: it has not answered either
            return {}
        try:
            store = self._open_store()
        except StoreUnavailable as exc:
            self.last_error = exc
            return batch
        failed = {}
        for key, run in batch.items():
            token = key[0]
            try:
                self._save(store, key, run)
                error = None
            except StoreUnavailable as exc:
                failed[key], self.last_error = run, exc
                continue
            except WorkspaceError as exc:  # a cap, a snapshot, an expired workspace: retrying cannot help
                _log.info("a run was not saved: %s", exc)
                error = exc
            except Exception as exc:  # noqa: BLE001 - the thread must survive anything one run brings
                _log.exception("saving a run failed")
                error = WorkspaceError(f"Saving run {run.number} failed ({type(exc).__name__}).")
            with self._lock:
                if error is None:
                    self._errors.pop(token, None)
                else:
                    self._errors[token] = error
        return failed

    def _save(self, store, key: tuple[str, int], run: RunRecord) -> None:
        last, now = self._written.get(key), time.monotonic()
        if last is not None and unchanged(last, run):
            every = min(TOUCH_EVERY, getattr(store, "interrupt_after", TOUCH_EVERY * 6) / 3)  # a lowered one too
            if run.state in LIVE and now - self._touched.get(key, 0.0) >= every:
                store.touch_run(key[0], run.number)
                self._touched[key] = now
        else:
            store.save_run(key[0], run)
            self._touched[key] = now
        if run.state in LIVE:  # a copy: a page that appends to the same list must still look changed
            self._written[key] = dataclasses.replace(run, records=list(run.records), spec=copy.deepcopy(run.spec),
                                                     config=copy.deepcopy(run.config),
                                                     results=copy.deepcopy(run.results),
                                                     context=copy.deepcopy(run.context))
        else:
            self._written.pop(key, None)
            self._touched.pop(key, None)

    def _open_store(self):
        if self._store is None:
            self._opened = get_store()
        else:
            self._opened = self._store() if callable(self._store) else self._store
        return self._opened


_flusher: Flusher | None = None
_flusher_lock = threading.Lock()


def get_flusher() -> Flusher:
    """The process-wide Flusher, writing to ``get_store()``."""
    global _flusher
    with _flusher_lock:
        if _flusher is None:
            _flusher = Flusher()
        return _flusher
