"""Caps, expiry, tokens, runs cut off by a restart, concurrent writers, and a database that is down."""
import importlib
import os
import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select, update
from ws_helpers import run

from engine import limits
from engine.workspace import (CapReached, MalformedToken, RunRecord, Store, StoreUnavailable, UnknownToken,
                              WorkspaceError)
from engine.workspace.checks import digest, ip_digest
from engine.workspace.schema import ClassRow, RunRow, WorkspaceRow

SPEC = {"input": [2], "layers": [{"type": "Linear", "out_features": 2}]}
DAY = 86400.0


def count(store, table) -> int:
    with store.db.reading() as session:
        return session.scalar(select(func.count()).select_from(table))


def test_workspaces_per_address_per_hour(store, monkeypatch):
    monkeypatch.setattr(limits, "MAX_WORKSPACES_PER_IP_HOUR", 3)
    first = store.create("10.1.1.1", spec=SPEC)
    store.copy(first, ip="10.1.1.1")
    store.import_zip(store.export_zip(first), ip="10.1.1.1")
    for make in (lambda: store.create("10.1.1.1", spec=SPEC), lambda: store.copy(first, ip="10.1.1.1"),
                 lambda: store.snapshot(first, ip="10.1.1.1")):
        with pytest.raises(CapReached, match="PLAYGROUND_MAX_WORKSPACES_PER_IP_HOUR") as caught:
            make()
        assert caught.value.variable == "PLAYGROUND_MAX_WORKSPACES_PER_IP_HOUR" and caught.value.limit == 3
    store.create("10.1.1.2", spec=SPEC)  # another address, and no address, are not held back
    store.create(spec=SPEC)
    with store.db.writing() as session:  # an hour later the address may start again
        session.execute(update(WorkspaceRow).values(created_at=WorkspaceRow.created_at - 3601))
    store.create("10.1.1.1", spec=SPEC)


@pytest.fixture
def default_caps(monkeypatch):
    """``engine.limits`` as a server without any PLAYGROUND_ variables has it (the tests' conftest raises some)."""
    for name in [n for n in os.environ if n.startswith("PLAYGROUND_MAX_")]:
        monkeypatch.delenv(name)
    importlib.reload(limits)
    yield
    monkeypatch.undo()
    importlib.reload(limits)


def test_a_classroom_behind_one_nat_is_not_held_back_by_the_default_cap(store, default_caps):
    """Forty students behind one address, each with a few new tabs, copies or imports (200 in the hour)."""
    first = store.create("10.9.9.9", spec=SPEC)
    with store.db.writing() as session:
        session.add_all([WorkspaceRow(digest=f"{i:064x}", kind="workspace", spec=SPEC, own_size=0, pushed_version=0,
                                      ip_digest=ip_digest("10.9.9.9"), created_at=time.time(),
                                      updated_at=time.time(), touched_at=time.time()) for i in range(199)])
    store.copy(first, ip="10.9.9.9")


def test_runs_per_workspace(store, trained, monkeypatch):
    monkeypatch.setattr(limits, "MAX_RUNS_PER_WORKSPACE", 2)
    token = store.create(spec=SPEC)
    store.save_run(token, run(1, trained))
    store.save_run(token, run(2, trained))
    with pytest.raises(CapReached, match="already holds 2 runs.*PLAYGROUND_MAX_RUNS_PER_WORKSPACE"):
        store.save_run(token, run(3, trained))
    store.save_run(token, run(2, trained, label="replaced"))  # replacing a run adds none
    assert [r.label for r in store.open(token).runs] == ["run 1", "replaced"]


def test_bytes_per_workspace(store, trained, monkeypatch):
    token = store.create(spec=SPEC)
    store.save_run(token, run(1, trained))
    monkeypatch.setattr(limits, "MAX_WORKSPACE_BYTES", 60_000)
    with pytest.raises(CapReached, match="PLAYGROUND_MAX_WORKSPACE_BYTES"):
        store.save_run(token, run(2, trained, weights=bytes(70_000)))
    with pytest.raises(CapReached, match="PLAYGROUND_MAX_WORKSPACE_BYTES"):
        store.save(token, model_weights=bytes(70_000))
    with pytest.raises(WorkspaceError, match="over the 59 KiB.*PLAYGROUND_MAX_WORKSPACE_BYTES"):
        store.import_zip(_big_file(store, trained))
    assert [r.number for r in store.open(token).runs] == [1] and store.model_weights(token) is None
    store.save(token, model_weights=bytes(1000))  # what fits is still saved


def _big_file(store, trained):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(limits, "MAX_WORKSPACE_BYTES", 10 ** 9)
        token = store.create(spec=trained.spec)
        for n in range(1, 4):
            store.save_run(token, run(n, trained, records=trained.records * 40))
        return store.export_zip(token)


def age(store, token, days):
    """Make a workspace look untouched for ``days`` days."""
    with store.db.writing() as session:
        session.execute(update(WorkspaceRow).where(WorkspaceRow.digest == digest(token))
                        .values(touched_at=time.time() - days * DAY))


def test_expiry_deletes_untouched_workspaces_snapshots_runs_and_empty_classes(store, trained):
    old, fresh = store.create(spec=SPEC), store.create(spec=SPEC)
    store.save_run(old, run(1, trained))
    store.save_run(fresh, run(1, trained))
    snapshot = store.snapshot(old)
    teacher, code = store.create_class("last year")
    store.join_class(code, "Ola", old)
    in_use, _ = store.create_class("this year")
    assert store.expire() == 0
    for token in (old, fresh, snapshot):
        age(store, token, limits.WORKSPACE_DAYS + 1)
    with store.db.writing() as session:
        session.execute(update(ClassRow).where(ClassRow.name == "last year")
                        .values(touched_at=time.time() - 40 * DAY))
    store.open(fresh)  # opening a workspace restarts its clock
    assert store.expire() == 2  # the old workspace and the snapshot
    for gone in (old, snapshot):
        with pytest.raises(UnknownToken, match="expired"):
            store.open(gone)
    assert store.open(fresh).runs[0].number == 1 and count(store, RunRow) == 1
    with pytest.raises(UnknownToken):
        store.class_view(teacher)  # untouched and without members
    assert store.class_view(in_use).member_keys == []
    assert store.expire(now=time.time() + (limits.WORKSPACE_DAYS + 1) * DAY) == 1 and count(store, RunRow) == 0


@pytest.mark.parametrize("token", ["", "short", "x" * 31, "a" * 32 + "/", "../../etc/passwd" * 3, None, 123,
                                   "ünïcödé" * 8, "a b" * 20])
def test_malformed_tokens(store, token):
    for call in (lambda: store.open(token), lambda: store.save(token, settings={}),
                 lambda: store.save_run(token, RunRecord(1)), lambda: store.run_blobs(token, 1),
                 lambda: store.export_zip(token), lambda: store.copy(token), lambda: store.snapshot(token)):
        with pytest.raises(MalformedToken, match="link is damaged"):
            call()


def test_unknown_tokens_match_exactly_or_not_at_all(store):
    token = store.create(spec=SPEC)
    near = [token[:-1] + ("A" if token[-1] != "A" else "B"), token.swapcase(), token + "x", token[1:] + token[0]]
    for other in near:
        with pytest.raises(UnknownToken, match="No workspace has this link"):
            store.open(other)
    assert not hasattr(store.open(token), "id")


def test_a_live_run_nothing_flushes_is_reported_interrupted_and_stays_so(db_url):
    url = db_url
    before_restart = Store(url)
    token = before_restart.create(spec=SPEC)
    records = [{"kind": "step", "step": n, "train_loss": 1.0 / n} for n in range(1, 6)]
    before_restart.save_run(token, RunRecord(1, state="running", records=records))
    before_restart.save_run(token, RunRecord(2, state="paused", records=records))
    before_restart.save_run(token, RunRecord(3, state="finished", records=records))
    before_restart.db.dispose()

    after_restart = Store(url)
    assert [r.state for r in after_restart.open(token).runs] == ["running", "paused", "finished"]  # within grace
    after_restart.interrupt_after = 0.05
    other_replica = Store(url)  # still training run 2 somewhere else: it keeps flushing
    time.sleep(0.1)
    other_replica.touch_run(token, 2)
    ws = after_restart.open(token)
    assert [r.state for r in ws.runs] == ["interrupted", "paused", "finished"]
    assert ws.runs[0].records == records  # up to the last flush
    after_restart.interrupt_after = 60.0
    assert [r.state for r in Store(url).open(token).runs] == ["interrupted", "paused", "finished"]  # persisted


def test_two_writers_on_one_workspace_last_write_wins_per_field(db_url, trained):
    url = db_url
    first, second = Store(url), Store(url)  # two server processes
    token = first.create(spec=SPEC)
    errors = []

    def writer(store, field, name):
        try:
            for i in range(25):
                store.save(token, **{field: {name: i}})
                store.save_run(token, run(1, trained, label=f"{name} {i}"))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=args) for args in
               ((first, "settings", "first"), (second, "model", "second"), (second, "settings", "third"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ws = first.open(token)
    assert ws.model == {"second": 24} and ws.settings in ({"first": 24}, {"third": 24}) and ws.spec == SPEC
    assert ws.runs[0].label in ("first 24", "second 24", "third 24") and len(ws.runs) == 1


def test_a_locked_database_makes_writes_unavailable_not_broken(tmp_path):
    path = tmp_path / "playground.db"
    store = Store(f"sqlite:///{path}", busy_timeout=0.1)
    token = store.create(spec=SPEC)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match="database is locked.*saving is off"):
            store.save(token, settings={"x": 1})
        assert isinstance(StoreUnavailable("x"), WorkspaceError)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.save(token, settings={"x": 1})
    assert store.open(token).settings == {"x": 1}


def test_a_run_that_fits_is_saved_when_its_copy_as_the_model_would_not(store, trained, monkeypatch):
    token = store.create(spec=SPEC)
    monkeypatch.setattr(limits, "MAX_WORKSPACE_BYTES", 60_000)
    with pytest.raises(CapReached, match="PLAYGROUND_MAX_WORKSPACE_BYTES"):
        store.save_run(token, run(1, trained, weights=bytes(40_000), adopt={"trained": True}))
    ws = store.open(token)
    assert [r.number for r in ws.runs] == [1] and ws.model is None and store.model_weights(token) is None
