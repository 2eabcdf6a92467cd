"""A SQLite file deleted (or moved away) under a running server: saving says it is off at once, nothing is written
to the old file meanwhile, and once the file is back the server reconnects and writes the newest state (issue 17)."""
import os

import pytest
from run_helpers import wait_for

from engine.workspace import Flusher, RunRecord, Store, StoreUnavailable

SPEC = {"input": [2], "layers": []}


def _run(n, state="running"):
    return RunRecord(1, label=f"v{n}", state=state, spec=SPEC,
                     records=[{"kind": "step", "step": i, "train_loss": 1.0 / (i + 1)} for i in range(n)])


def _files(folder):
    """Every file of the database (main, -wal, -shm, wherever it lies now): (size, mtime) by name."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture
def served(tmp_path):
    """A store and flusher on a SQLite file, one run already written (its connections open, as on a server)."""
    path = tmp_path / "db" / "playground.db"
    store = Store(f"sqlite:///{path}")
    flusher = Flusher(store, interval=0.05)
    token = store.create(spec=SPEC)
    flusher.submit(token, _run(3))
    assert flusher.flush(120.0) and flusher.last_error is None
    yield path, store, flusher, token
    flusher.close(2.0)
    store.db.dispose()


def test_a_moved_away_file_turns_saving_off_and_the_queued_run_is_written_when_it_is_back(served, tmp_path):
    path, store, flusher, token = served
    away = tmp_path / "away.db"
    os.rename(path, away)  # as `rm` would, but kept to be put back (the same inode)
    assert isinstance(flusher.last_error, StoreUnavailable)  # at once, before anything is written
    assert "gone" in str(flusher.last_error) and "in memory" in str(flusher.last_error)
    before = _files(path.parent), _files(tmp_path)
    flusher.submit(token, _run(7))
    flusher.submit(token, _run(9, state="finished"))
    assert not flusher.flush(0.5)  # kept queued, not written to the old file
    assert isinstance(flusher.last_error, StoreUnavailable) and flusher.pending == 1
    with pytest.raises(StoreUnavailable):
        store.open(token)  # pages are told too, and no new empty file is made in its place
    assert (_files(path.parent), _files(tmp_path)) == before
    os.rename(away, path)
    assert flusher.flush(120.0) and flusher.last_error is None
    (stored,) = store.open(token).runs
    assert (stored.label, stored.state, len(stored.records)) == ("v9", "finished", 9)
    fresh = Store(f"sqlite:///{path}")  # a restarted server reads the same file
    assert fresh.open(token).runs[0].label == "v9"
    fresh.db.dispose()


def test_a_file_restored_from_a_copy_is_reopened(served, tmp_path):
    path, store, flusher, token = served
    backup = tmp_path / "backup.db"
    store.db.dispose()  # a consistent copy: the WAL folded into the file first
    backup.write_bytes(path.read_bytes())
    for name in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{name}"):
            os.remove(f"{path}{name}")
    flusher.submit(token, _run(5, state="finished"))
    assert wait_for(lambda: flusher.pending == 1 and flusher.last_error is not None, timeout=120)
    os.rename(backup, path)  # another inode: the server's old connections must not be used
    assert flusher.flush(120.0) and flusher.last_error is None
    assert store.open(token).runs[0].label == "v5"


def test_a_server_database_has_no_file_to_lose():
    store = Store("sqlite://")  # in memory, as any database without a file here (PostgreSQL)
    assert store.db.file_error() is None
    store.create(spec=SPEC)
    store.db.dispose()
