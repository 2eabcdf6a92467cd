"""How a run becomes a database row and comes back, and how a run cut off by a server restart is recognised."""
from __future__ import annotations

from sqlalchemy import select, update

from engine import limits
from engine.workspace import checks, columns
from engine.workspace.errors import WorkspaceError
from engine.workspace.records import LIVE, RunRecord
from engine.workspace.schema import RunRow

EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")


def run_values(run: RunRecord) -> tuple[dict, int]:
    """A run's column values and their size without the blobs.

    ``weights``/``optimizer`` are among the values only when they are given, or cleared (None with the ``has_``
    flag False); otherwise the stored ones stay.

    Raises:
        WorkspaceError: a field of the wrong type, records holding values that cannot be stored.
    """
    size = checks.run(run)
    try:
        records = columns.pack(run.records)
    except TypeError as exc:
        raise WorkspaceError(f"Run {run.number}'s records cannot be saved: {exc}.") from None
    values = {"group": run.group, "label": run.label, "spec": run.spec, "config": run.config, "state": run.state,
              "records": records, "record_count": len(run.records), "epochs": epoch_curves(run.records),
              "results": run.results, "context": run.context}
    weights, optimizer = checks.blob(run.weights, "weights"), checks.blob(run.optimizer, "optimizer state")
    if weights is not None or not run.has_weights:
        values["weights"] = weights
    if optimizer is not None or not run.has_optimizer:
        values["optimizer"] = optimizer
    return values, size + len(records)


def epoch_curves(records: list[dict]) -> dict | None:
    """Loss and accuracy per epoch from a run's epoch records, for views that skip the records themselves; thinned
    to ``limits.MAX_CLASS_POINTS`` epochs (the class view draws no more)."""
    epochs = [r for r in records if r.get("kind") == "epoch"]
    if not epochs:
        return None
    epochs = [epochs[i] for i in _evenly(len(epochs), limits.MAX_CLASS_POINTS)]
    return {key: [r.get(key) if isinstance(r.get(key), int | float) else None for r in epochs]
            for key in EPOCH_KEYS}


def thin_curves(curves) -> dict | None:
    """Stored per-epoch curves at most ``limits.MAX_CLASS_POINTS`` long (rows written before thinning are not);
    None for anything that is not curves of equal length."""
    if not isinstance(curves, dict) or not all(isinstance(curves.get(k), list) for k in EPOCH_KEYS):
        return None
    n = len(curves["epoch"])
    if any(len(curves[k]) != n for k in EPOCH_KEYS):
        return None
    if n <= limits.MAX_CLASS_POINTS:
        return curves
    kept = _evenly(n, limits.MAX_CLASS_POINTS)
    return {k: [curves[k][i] for i in kept] for k in EPOCH_KEYS}


def _evenly(n: int, most: int) -> list[int]:
    """At most ``most`` evenly spaced indices of ``range(n)``, the first and the last among them."""
    most = max(most, 2)
    if n <= most:
        return list(range(n))
    stride = (n - 1) / (most - 1)
    return sorted({round(i * stride) for i in range(most)})


def to_record(row: RunRow, has_weights: bool, has_optimizer: bool) -> RunRecord:
    """A stored run without its blobs."""
    return RunRecord(number=row.number, group=row.group, label=row.label, spec=row.spec, config=row.config,
                     state=row.state, records=columns.unpack(row.records), results=row.results, context=row.context,
                     updated_at=row.updated_at, server=row.server, has_weights=bool(has_weights),
                     has_optimizer=bool(has_optimizer))


def mark_interrupted(session, run_ids: list[int], stale_before: float, now: float) -> set[int]:
    """Mark these runs "interrupted" if they are still live and unflushed since ``stale_before``; returns those.

    The condition is checked again in the UPDATE itself: a run another server flushed meanwhile stays live.
    """
    if not run_ids:
        return set()
    where = (RunRow.id.in_(run_ids), RunRow.state.in_(LIVE), RunRow.updated_at < stale_before)
    marked = set(session.scalars(select(RunRow.id).where(*where)))
    session.execute(update(RunRow).where(*where).values(state="interrupted", updated_at=now),
                    execution_options={"synchronize_session": False})
    return marked
