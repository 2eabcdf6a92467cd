"""The workspace store: students' networks, settings and runs in a database, found again from a link's token."""
from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy import exc as sa_exc

from engine import limits
from engine.workspace import checks, copies, files
from engine.workspace.database import Database
from engine.workspace.errors import (CapReached, ReadOnlyWorkspace, RunElsewhere, StoreUnavailable, UnknownToken,
                                     WorkspaceError)
from engine.workspace.records import LIVE, Push, RunRecord, Workspace
from engine.workspace.runs import mark_interrupted, run_values, to_record
from engine.workspace.schema import ClassRow, RunRow, WorkspaceRow
from engine.workspace.store_classes import ClassMethods
from engine.workspace.store_lessons import LessonMethods
from engine.workspace.throttle import Throttle

_log = logging.getLogger(__name__)
_UNSET = object()
HOUR = 3600.0
TOUCH_EVERY = HOUR  # an open() refreshes the expiry clock at most this often (a write per open would be wasteful)
EXPIRE_EVERY = HOUR  # create() sweeps expired workspaces at most this often


class Store(ClassMethods, LessonMethods):
    """Workspaces, their runs, snapshots, copies, workspace files, classes and lesson progress, in one database.

    Every method opens its own short session; a Store is safe to share between threads (``get_store()``).

    Args:
        url: a SQLAlchemy URL; None reads ``PLAYGROUND_DATABASE_URL``, else
            ``sqlite:///<PLAYGROUND_DATA_DIR or ./data>/playground.db``. The schema is created or upgraded here.
        busy_timeout: seconds a SQLite writer waits for another writer.

    Raises:
        StoreUnavailable: the database cannot be opened (every method raises it too while the database is down).
    """

    interrupt_after = float(limits.INTERRUPT_AFTER)  # a live run not flushed for this long was cut off
    # This server's id, written with each run it saves (``RunRecord.server``): the app sets it (hostname and port,
    # or PLAYGROUND_SERVER_ID), so a replica tells a run another server trains from one its own last life left.
    server_id: str | None = None

    def __init__(self, url: str | None = None, busy_timeout: float = 5.0):
        self.db = Database(url, busy_timeout)
        self._expired_at = 0.0
        self.throttle = Throttle()  # wrong join codes and classes made, in this process's memory

    # ------------------------------------------------------------------------------------ workspaces
    def create(self, ip: str | None = None, spec: dict | None = None, settings: dict | None = None) -> str:
        """A new writable workspace holding ``spec``; returns its token.

        Args:
            ip: the visitor's address, for ``limits.MAX_WORKSPACES_PER_IP_HOUR`` (None: not capped).
            spec: the network (a ``ModelSpec`` dict). settings: the pages' settings, opaque here.

        Raises:
            CapReached: too many workspaces from this address in the last hour. WorkspaceError: no spec.
        """
        now = time.time()
        self._sweep(now)
        spec, spec_size = checks.json_value(spec, "network", optional=False)
        settings, settings_size = checks.json_value(settings, "settings")
        token = checks.new_token()
        with self.db.writing() as session:
            ip_digest = self._check_ip(session, ip, now)
            session.add(WorkspaceRow(digest=checks.digest(token), kind="workspace", spec=spec, settings=settings,
                                     own_size=spec_size + settings_size, pushed_version=0, ip_digest=ip_digest,
                                     created_at=now, updated_at=now, touched_at=now))
        return token

    def open(self, token: str) -> Workspace:
        """The workspace behind a token, its runs' records included but no weights.

        Live runs ("queued", "running", "paused") that nothing has flushed for ``interrupt_after`` seconds are
        reported, and stored, as "interrupted": their server stopped (a restart), keeping the records it flushed.

        Raises:
            MalformedToken, UnknownToken.
        """
        key = checks.token_digest(token)
        now = time.time()
        with self.db.reading() as session:
            row = self._row(session, key)
            has_weights = session.scalar(select(WorkspaceRow.model_weights.is_not(None))
                                         .where(WorkspaceRow.id == row.id))
            klass = session.get(ClassRow, row.class_id) if row.class_id is not None else None
            runs = session.execute(select(RunRow, RunRow.weights.is_not(None), RunRow.optimizer.is_not(None))
                                   .where(RunRow.workspace_id == row.id).order_by(RunRow.number)).all()
        stale = [r.id for r, _, _ in runs if r.state in LIVE and r.updated_at < now - self.interrupt_after]
        if stale or row.touched_at < now - TOUCH_EVERY:
            with self.db.writing() as session:
                marked = mark_interrupted(session, stale, now - self.interrupt_after, now)
                session.execute(update(WorkspaceRow).where(WorkspaceRow.id == row.id)
                                .values(touched_at=now, **({"updated_at": now} if marked else {})))
            for run, _, _ in runs:
                if run.id in marked:
                    run.state, run.updated_at = "interrupted", now
        push = None
        if klass is not None and klass.pushed_version:
            push = Push(klass.pushed_version, klass.pushed_spec, klass.pushed_settings)
        return Workspace(token=token, kind=row.kind, spec=row.spec, settings=row.settings, model=row.model,
                         has_model_weights=bool(has_weights), runs=[to_record(*r) for r in runs],
                         class_name=klass.name if klass else None, display_name=row.display_name, push=push,
                         pushed_version=row.pushed_version, created_at=row.created_at, updated_at=row.updated_at)

    def save(self, token: str, *, spec=_UNSET, settings=_UNSET, model=_UNSET, model_weights=_UNSET,
             pushed_version=_UNSET) -> None:
        """Store only the fields given (the last write wins per field).

        Args:
            spec: the network. settings: the pages' settings. model: which network is the session's model
                (e.g. {"run": 3, "dataset": {...}}), or None. model_weights: its safetensors bytes, or None.
            pushed_version: the class push the student has taken (``Workspace.push.version``).

        Raises:
            MalformedToken, UnknownToken, ReadOnlyWorkspace, CapReached (``limits.MAX_WORKSPACE_BYTES``).
        """
        values, sizes = {}, {}
        for field, value in (("spec", spec), ("settings", settings), ("model", model)):
            if value is not _UNSET:
                values[field], sizes[field] = checks.json_value(value, field, optional=field != "spec")
        if model_weights is not _UNSET:
            values["model_weights"] = checks.blob(model_weights, "model weights")
            sizes["model_weights"] = len(values["model_weights"] or b"")
        if pushed_version is not _UNSET:
            if not isinstance(pushed_version, int) or isinstance(pushed_version, bool) or pushed_version < 0:
                raise WorkspaceError(f"pushed_version should be a whole number from 0, not {pushed_version!r}.")
            values["pushed_version"] = pushed_version
        key, now = checks.token_digest(token), time.time()
        with self.db.writing() as session:
            self._set_fields(session, self._writable(session, key), values, sizes, now)

    def _set_fields(self, session, row: WorkspaceRow, values: dict, sizes: dict, now: float) -> None:
        """Write the workspace's own fields in ``values`` (their sizes in ``sizes``), within its size cap."""
        old = session.execute(select(func.length(WorkspaceRow.model_weights))
                              .where(WorkspaceRow.id == row.id)).scalar() or 0
        current = {"spec": checks.json_value(row.spec, "spec", False)[1],
                   "settings": checks.json_value(row.settings, "settings")[1],
                   "model": checks.json_value(row.model, "model")[1], "model_weights": old}
        own = sum({**current, **sizes}.values())
        if own > row.own_size:
            self._check_size(session, row.id, own - row.own_size)
        session.execute(update(WorkspaceRow).where(WorkspaceRow.id == row.id)
                        .values(**values, own_size=own, updated_at=now, touched_at=now))

    def model_weights(self, token: str) -> bytes | None:
        """The session model's weights saved with ``save(model_weights=...)``, or None."""
        key = checks.token_digest(token)
        with self.db.reading() as session:
            row = self._row(session, key)
            return session.scalar(select(WorkspaceRow.model_weights).where(WorkspaceRow.id == row.id))

    # ------------------------------------------------------------------------------------ runs
    def save_run(self, token: str, run: RunRecord) -> None:
        """Insert or replace run ``run.number`` (see ``RunRecord`` for blobs left None); with ``run.adopt``, the
        run becomes the workspace's model (spec, model, model weights) in the same transaction; when that copy of
        its weights would take the workspace over its size cap, the run alone is saved and CapReached raised.

        Raises:
            MalformedToken, UnknownToken, ReadOnlyWorkspace, WorkspaceError (a field of the wrong type),
            CapReached (``limits.MAX_RUNS_PER_WORKSPACE`` for a new run, ``limits.MAX_WORKSPACE_BYTES``).
        """
        values, size = run_values(run)
        adopt = None
        if run.adopt is not None:  # the workspace's model follows from this same write (checks.run checked it)
            fields = {"spec": run.spec, "model": run.adopt, "model_weights": values["weights"]}
            adopt = (fields, {"spec": checks.json_value(run.spec, "spec", False)[1],
                              "model": checks.json_value(run.adopt, "model")[1],
                              "model_weights": len(values["weights"])})
        key = checks.token_digest(token)
        try:
            self._upsert_run(key, run.number, values, size, adopt)
        except CapReached:
            if adopt is None:
                raise
            self._upsert_run(key, run.number, values, size, None)  # the run itself may still fit: keep it
            raise

    def _upsert_run(self, key: str, number: int, values: dict, size: int, adopt: tuple | None) -> None:
        for attempt in range(2):  # a concurrent first save of the same number: the second one updates
            try:
                return self._save_run(key, number, values, size, adopt)
            except sa_exc.IntegrityError:
                if attempt:
                    raise WorkspaceError(f"Run {number} could not be saved: another save kept colliding.")

    def _save_run(self, key: str, number: int, values: dict, size: int, adopt: tuple | None) -> None:
        now = time.time()
        with self.db.writing() as session:
            row = self._writable(session, key)
            old = session.execute(select(RunRow.id, RunRow.size, func.length(RunRow.weights),
                                         func.length(RunRow.optimizer))
                                  .where(RunRow.workspace_id == row.id, RunRow.number == number)).first()
            for blob_field, index in (("weights", 2), ("optimizer", 3)):
                size += len(values[blob_field] or b"") if blob_field in values else (old[index] or 0) if old else 0
            if old is None:
                count = session.scalar(select(func.count()).where(RunRow.workspace_id == row.id))
                if count >= limits.MAX_RUNS_PER_WORKSPACE:
                    raise CapReached(f"This workspace already holds {count} runs: delete some to save new ones",
                                     "PLAYGROUND_MAX_RUNS_PER_WORKSPACE", limits.MAX_RUNS_PER_WORKSPACE)
            if size > (old.size if old else 0):
                self._check_size(session, row.id, size - (old.size if old else 0))
            if old is None:
                session.add(RunRow(workspace_id=row.id, number=number, size=size, updated_at=now,
                                   server=self.server_id, **values))
            else:
                session.execute(update(RunRow).where(RunRow.id == old.id)
                                .values(**values, size=size, updated_at=now, server=self.server_id))
            if adopt is not None:
                self._set_fields(session, row, *adopt, now)
            else:
                session.execute(update(WorkspaceRow).where(WorkspaceRow.id == row.id)
                                .values(updated_at=now, touched_at=now))

    def touch_run(self, token: str, number: int) -> None:
        """Mark a live run as still alive without rewriting it (the Flusher, for a run with nothing new)."""
        key, now = checks.token_digest(token), time.time()
        with self.db.writing() as session:
            row = self._writable(session, key)
            session.execute(update(RunRow).where(RunRow.workspace_id == row.id, RunRow.number == number)
                            .values(updated_at=now, server=self.server_id))

    def delete_run(self, token: str, number: int) -> None:
        """Delete run ``number`` with its records and blobs (nothing happens if there is none).

        Raises:
            RunElsewhere: another server is training it (``RunRecord.elsewhere``, flushed within
                ``interrupt_after``): a Delete or run-count cleanup on one replica never removes it under the other.
        """
        key, now = checks.token_digest(token), time.time()
        with self.db.writing() as session:
            row = self._writable(session, key)
            # checked in the deleting transaction: a resume on another server a moment ago is seen here
            found = session.execute(select(RunRow.state, RunRow.server, RunRow.updated_at)
                                    .where(RunRow.workspace_id == row.id, RunRow.number == number)).first()
            if found is not None and RunRecord(number, state=found.state, server=found.server).elsewhere(
                    self.server_id) and found.updated_at >= now - self.interrupt_after:
                raise RunElsewhere(f"Run {number} is training on another server, so it was not deleted: reload the "
                                   "page to follow it, and delete it once it has ended (or stop it there first).")
            session.execute(delete(RunRow).where(RunRow.workspace_id == row.id, RunRow.number == number))
            session.execute(update(WorkspaceRow).where(WorkspaceRow.id == row.id)
                            .values(updated_at=now, touched_at=now))

    def run_blobs(self, token: str, number: int) -> tuple[bytes | None, bytes | None]:
        """Run ``number``'s (weights, optimizer state), each None when not stored.

        Raises:
            MalformedToken, UnknownToken, WorkspaceError (no such run).
        """
        key = checks.token_digest(token)
        with self.db.reading() as session:
            row = self._row(session, key)
            found = session.execute(select(RunRow.weights, RunRow.optimizer)
                                    .where(RunRow.workspace_id == row.id, RunRow.number == number)).first()
        if found is None:
            raise WorkspaceError(f"This workspace has no run number {number}.")
        return found[0], found[1]

    # ------------------------------------------------------------------------------------ copies and files
    def snapshot(self, token: str, numbers: list[int] | None = None, ip: str | None = None) -> str:
        """A read-only frozen copy: the network, settings, model, and the chosen runs with their weights.

        Args:
            numbers: the runs to include (None: all). ip: counts towards the hourly cap like ``create``.

        Returns:
            The snapshot's token. Runs still live in the source are "interrupted" in the snapshot.
        """
        return copies.clone(self, token, "snapshot", numbers, ip)

    def copy(self, token: str, ip: str | None = None) -> str:
        """A writable copy of any workspace or snapshot, every run with its weights and optimiser state."""
        return copies.clone(self, token, "workspace", None, ip)

    def export_zip(self, token: str) -> bytes:
        """The workspace as a file: ``workspace.json`` plus ``.safetensors`` weights (see ``files``)."""
        return files.write(copies.load(self, checks.token_digest(token)))

    def import_zip(self, data: bytes, ip: str | None = None) -> str:
        """A new writable workspace from a workspace file, after checking all of it; returns its token.

        Raises:
            BadWorkspaceFile: what is wrong with the file (nothing is stored). CapReached.
        """
        return copies.insert_file(self, files.read(data), ip)

    # ------------------------------------------------------------------------------------ expiry
    def expire(self, now: float | None = None) -> int:
        """Delete workspaces and snapshots untouched for ``limits.WORKSPACE_DAYS`` days, with their runs.

        Classes go too once untouched by their teacher that long and left without members. Addresses kept for
        the hourly cap are forgotten after the hour. Returns the number of workspaces deleted.
        """
        now = time.time() if now is None else now
        cutoff = now - limits.WORKSPACE_DAYS * 86400.0
        old = select(WorkspaceRow.id).where(WorkspaceRow.touched_at < cutoff)
        with self.db.writing() as session:
            session.execute(delete(RunRow).where(RunRow.workspace_id.in_(old)),
                            execution_options={"synchronize_session": False})
            deleted = session.execute(delete(WorkspaceRow).where(WorkspaceRow.touched_at < cutoff),
                                      execution_options={"synchronize_session": False}).rowcount
            session.execute(delete(ClassRow).where(ClassRow.touched_at < cutoff,
                                                   ~exists().where(WorkspaceRow.class_id == ClassRow.id)),
                            execution_options={"synchronize_session": False})
            session.execute(update(WorkspaceRow).where(WorkspaceRow.created_at < now - HOUR,
                                                       WorkspaceRow.ip_digest.is_not(None)).values(ip_digest=None),
                            execution_options={"synchronize_session": False})
        return deleted

    def _sweep(self, now: float) -> None:
        """Expire now and then, from the path that adds workspaces (a failure only waits for the next sweep)."""
        if now - self._expired_at < EXPIRE_EVERY:
            return
        self._expired_at = now
        try:
            self.expire(now)
        except WorkspaceError as exc:
            _log.warning("expiring old workspaces failed: %s", exc)

    # ------------------------------------------------------------------------------------ shared by the modules
    def _row(self, session, key: str) -> WorkspaceRow:
        row = session.scalar(select(WorkspaceRow).where(WorkspaceRow.digest == key))
        if row is None:
            raise UnknownToken(f"No workspace has this link: it may have expired after {limits.WORKSPACE_DAYS} "
                               f"days untouched, or been mistyped. Start a new workspace.")
        return row

    def _writable(self, session, key: str) -> WorkspaceRow:
        row = self._row(session, key)
        if row.kind == "snapshot":
            raise ReadOnlyWorkspace("This is a read-only snapshot: make your own copy to change it.")
        return row

    def _check_ip(self, session, ip: str | None, now: float) -> str | None:
        """The address's digest, once it is under the hourly creation cap."""
        key = checks.ip_digest(ip)
        if key is not None:
            count = session.scalar(select(func.count()).where(WorkspaceRow.ip_digest == key,
                                                              WorkspaceRow.created_at > now - HOUR))
            if count >= limits.MAX_WORKSPACES_PER_IP_HOUR:
                raise CapReached(f"{count} workspaces were started from your network in the last hour; "
                                 f"try again later", "PLAYGROUND_MAX_WORKSPACES_PER_IP_HOUR",
                                 limits.MAX_WORKSPACES_PER_IP_HOUR)
        return key

    def _check_size(self, session, workspace_id: int, growth: int) -> None:
        """CapReached when growing the workspace by ``growth`` bytes takes it over its cap."""
        own = session.scalar(select(WorkspaceRow.own_size).where(WorkspaceRow.id == workspace_id)) or 0
        runs = session.scalar(select(func.coalesce(func.sum(RunRow.size), 0))
                              .where(RunRow.workspace_id == workspace_id)) or 0
        if own + runs + growth > limits.MAX_WORKSPACE_BYTES:
            raise CapReached(f"This workspace would hold {checks.size_text(own + runs + growth)} of weights and records: "
                             f"delete some runs first", "PLAYGROUND_MAX_WORKSPACE_BYTES", limits.MAX_WORKSPACE_BYTES)


_store: Store | None = None
_store_lock = threading.Lock()
_failure: tuple[float, StoreUnavailable] | None = None
RETRY_AFTER = 10.0  # seconds a failed open is remembered: pages stay quick while the database is down


def get_store() -> Store:
    """The process-wide Store, opened on first use.

    Raises:
        StoreUnavailable: the database cannot be opened (tried again at most every ``RETRY_AFTER`` seconds).
    """
    global _store, _failure
    with _store_lock:
        if _store is None:
            if _failure is not None and time.monotonic() - _failure[0] < RETRY_AFTER:
                raise _failure[1]
            try:
                _store = Store()
            except StoreUnavailable as exc:
                _failure = (time.monotonic(), exc)
                raise
            _failure = None
        return _store
