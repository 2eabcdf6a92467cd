"""Whole-workspace moves: snapshots and copies (inside the database, blobs never pass through Python), loading a
workspace for export, and storing an imported one in a single transaction."""
from __future__ import annotations

import time

from sqlalchemy import String, case, func, insert, literal, null, select
from sqlalchemy.orm import undefer

from engine import limits
from engine.workspace import checks, columns, progress
from engine.workspace.errors import CapReached, WorkspaceError
from engine.workspace.files import WorkspaceFile
from engine.workspace.records import LIVE, RunRecord
from engine.workspace.runs import run_values
from engine.workspace.schema import RunRow, WorkspaceRow

_COPIED = ("spec", "settings", "model", "model_weights", "own_size")
_RUN_COPIED = ("number", "group", "label", "spec", "config", "records", "record_count", "epochs", "results",
               "context", "weights")


def clone(store, token: str, kind: str, numbers: list[int] | None, ip: str | None) -> str:
    """A new workspace of ``kind`` copied from ``token``'s, with runs ``numbers`` (all when None); its token.

    A snapshot leaves the optimiser state behind. Runs still live in the source are "interrupted" in the copy:
    nothing trains them there.
    """
    return clone_digest(store, checks.token_digest(token), kind, numbers, ip)


def clone_digest(store, key: str, kind: str, numbers: list[int] | None, ip: str | None) -> str:
    """``clone`` of the workspace whose token has the digest ``key`` (a teacher's snapshot of a member's)."""
    now = time.time()
    new = checks.new_token()
    with store.db.writing() as session:
        source = store._row(session, key)
        runs = [RunRow.workspace_id == source.id]
        if numbers is not None:
            wanted = _numbers(numbers)
            found = set(session.scalars(select(RunRow.number).where(*runs, RunRow.number.in_(wanted))))
            if set(wanted) - found:
                raise WorkspaceError(f"This workspace has no run number {min(set(wanted) - found)}.")
            runs.append(RunRow.number.in_(wanted))
        ip_digest = store._check_ip(session, ip, now)
        session.execute(insert(WorkspaceRow).from_select(
            ["digest", "kind", *_COPIED, "pushed_version", "ip_digest", "created_at", "updated_at", "touched_at"],
            select(literal(checks.digest(new)), literal(kind), *(getattr(WorkspaceRow, c) for c in _COPIED),
                   literal(0), literal(ip_digest, String), literal(now), literal(now), literal(now))
            .where(WorkspaceRow.id == source.id)))
        new_id = session.scalar(select(WorkspaceRow.id).where(WorkspaceRow.digest == checks.digest(new)))
        keep_optimizer = kind != "snapshot"
        size = RunRow.size if keep_optimizer else RunRow.size - func.coalesce(func.length(RunRow.optimizer), 0)
        session.execute(insert(RunRow).from_select(
            ["workspace_id", *_RUN_COPIED, "state", "optimizer", "size", "updated_at"],
            select(literal(new_id), *(getattr(RunRow, c) for c in _RUN_COPIED),
                   case((RunRow.state.in_(LIVE), "interrupted"), else_=RunRow.state),
                   RunRow.optimizer if keep_optimizer else null(), size, literal(now)).where(*runs)))
        progress.copy_rows(session, source.id, new_id)
    return new


def load(store, key: str) -> WorkspaceFile:
    """Everything a workspace holds, blobs included (for export)."""
    with store.db.reading() as session:
        row = store._row(session, key)
        weights = session.scalar(select(WorkspaceRow.model_weights).where(WorkspaceRow.id == row.id))
        runs = session.scalars(select(RunRow).options(undefer(RunRow.weights), undefer(RunRow.optimizer))
                               .where(RunRow.workspace_id == row.id).order_by(RunRow.number)).all()
        return WorkspaceFile(spec=row.spec, settings=row.settings, model=row.model, model_weights=weights,
                             runs=[RunRecord(number=r.number, group=r.group, label=r.label, spec=r.spec,
                                             config=r.config, state=r.state, records=columns.unpack(r.records),
                                             results=r.results, context=r.context, weights=r.weights,
                                             optimizer=r.optimizer,
                                             updated_at=r.updated_at) for r in runs],
                             progress=progress.load_rows(session, row.id))


def insert_file(store, content: WorkspaceFile, ip: str | None) -> str:
    """Store a checked workspace file as a new writable workspace, all or nothing; returns its token."""
    now = time.time()
    spec, spec_size = checks.json_value(content.spec, "network", optional=False)
    settings, settings_size = checks.json_value(content.settings, "settings")
    model, model_size = checks.json_value(content.model, "model")
    own = spec_size + settings_size + model_size + len(content.model_weights or b"")
    runs = [(values, size + len(run.weights or b"") + len(run.optimizer or b""))
            for run, (values, size) in ((run, run_values(run)) for run in content.runs)]
    total = own + sum(size for _, size in runs)
    if total > limits.MAX_WORKSPACE_BYTES:
        raise CapReached(f"This workspace file holds {checks.size_text(total)} of weights and records",
                         "PLAYGROUND_MAX_WORKSPACE_BYTES", limits.MAX_WORKSPACE_BYTES)
    token = checks.new_token()
    with store.db.writing() as session:
        row = WorkspaceRow(digest=checks.digest(token), kind="workspace", spec=spec, settings=settings, model=model,
                           model_weights=content.model_weights, own_size=own, pushed_version=0,
                           ip_digest=store._check_ip(session, ip, now), created_at=now, updated_at=now,
                           touched_at=now)
        session.add(row)
        session.flush()
        session.add_all(RunRow(workspace_id=row.id, number=run.number, size=size, updated_at=now, **values)
                        for run, (values, size) in zip(content.runs, runs))
        progress.insert_rows(session, row.id, content.progress)
    return token


def _numbers(numbers) -> list[int]:
    if not isinstance(numbers, list | tuple) or not all(isinstance(n, int) and not isinstance(n, bool)
                                                         for n in numbers):
        raise WorkspaceError(f"The runs to include should be a list of run numbers, not {numbers!r}.")
    return list(numbers)
