"""The Flusher: submit never blocks, versions coalesce, writes are paced, a database outage is retried."""
import sqlite3
import threading
import time

import pytest
from run_helpers import wait_for

from engine.workspace import Flusher, ReadOnlyWorkspace, RunRecord, Store, StoreUnavailable
from engine.workspace import flusher as flusher_module
from engine.workspace import records as records_module

SPEC = {"input": [2], "layers": []}


class Spy:
    """A Store that records which writes the Flusher made, and when."""

    def __init__(self, store):
        self.store, self.saves, self.touches, self.passes = store, [], [], []

    def save_run(self, token, run):
        self.saves.append((run.number, run.label, time.monotonic()))
        self.store.save_run(token, run)

    def touch_run(self, token, number):
        self.touches.append(number)
        self.store.touch_run(token, number)


def live(number, n, state="running"):
    return RunRecord(number, label=f"v{n}", state=state, spec=SPEC,
                     records=[{"kind": "step", "step": i, "train_loss": 1.0 / (i + 1)} for i in range(n)])


@pytest.fixture
def flusher():
    made = []

    def make(store, interval=0.05):
        made.append(Flusher(store, interval=interval))
        return made[-1]

    yield make
    for f in made:
        f.flush(2.0)


def test_only_the_newest_version_is_written(store, flusher):
    token = store.create(spec=SPEC)
    spy = Spy(store)
    f = flusher(spy, interval=0.2)
    for n in range(1, 201):
        f.submit(token, live(1, n))
        f.submit(token, live(2, n))
    assert f.flush(5.0) and f.pending == 0 and f.last_error is None
    assert len(spy.saves) <= 6  # 400 submits, a couple of passes
    runs = store.open(token).runs
    assert [(r.label, len(r.records)) for r in runs] == [("v200", 200), ("v200", 200)]


def test_writes_are_paced(store, flusher):
    token = store.create(spec=SPEC)
    spy = Spy(store)
    f = flusher(spy, interval=0.1)
    end, n = time.monotonic() + 0.55, 0
    while time.monotonic() < end:
        n += 1
        f.submit(token, live(1, n))
        time.sleep(0.002)
    times = [t for _, _, t in spy.saves]  # before flush(), which hurries the last write
    f.flush(5.0)
    assert 2 <= len(times) <= 7 and all(b - a >= 0.09 for a, b in zip(times, times[1:]))
    assert store.open(token).runs[0].label == f"v{n}"


def test_a_live_run_with_nothing_new_is_only_marked_alive(store, flusher, monkeypatch):
    token = store.create(spec=SPEC)
    spy = Spy(store)
    f = flusher(spy)
    version = live(1, 5, state="paused")
    f.submit(token, version)
    f.flush(5.0)
    same = RunRecord(**{**version.__dict__, "records": list(version.records)})  # the page's next poll
    f.submit(token, same)
    f.flush(5.0)
    assert (len(spy.saves), spy.touches) == (1, [])  # written just now: no need to say it is alive yet
    monkeypatch.setattr(flusher_module, "TOUCH_EVERY", 0.0)  # as if TOUCH_EVERY seconds had passed
    f.submit(token, same)
    f.flush(5.0)
    assert (len(spy.saves), spy.touches) == (1, [1])
    same.records.append({"kind": "step", "step": 5, "train_loss": 0.1})  # appended in place, then resubmitted
    f.submit(token, same)
    f.flush(5.0)
    assert len(spy.saves) == 2 and len(store.open(token).runs[0].records) == 6
    f.submit(token, RunRecord(**{**same.__dict__, "state": "stopped"}))  # the state changed: written again
    f.flush(5.0)
    assert len(spy.saves) == 3 and store.open(token).runs[0].state == "stopped"


def test_a_database_outage_is_reported_retried_and_never_blocks_submit(tmp_path, flusher):
    path = tmp_path / "playground.db"
    store = Store(f"sqlite:///{path}", busy_timeout=0.05)
    token = store.create(spec=SPEC)
    f = flusher(store)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        slowest = 0.0
        for n in range(1, 2001):
            started = time.perf_counter()
            f.submit(token, live(1, n % 50))
            slowest = max(slowest, time.perf_counter() - started)
        # While every write fails behind the lock: a submit that waited for the write would take the 5 s busy
        # timeout. The margin is for a loaded 2-core machine, where one submit once took 20 ms.
        assert slowest < 0.5
        assert not f.flush(0.3)
        assert isinstance(f.last_error, StoreUnavailable) and "saving is off" in str(f.last_error)
        assert f.pending == 1  # kept for the retry, not dropped
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert f.flush(10.0) and f.last_error is None
    assert store.open(token).runs[0].label == f"v{2000 % 50}"


def test_a_deleted_run_is_deleted_off_the_callers_thread_and_retried_while_the_database_is_locked(tmp_path, flusher):
    path = tmp_path / "playground.db"
    store = Store(f"sqlite:///{path}", busy_timeout=0.05)
    token = store.create(spec=SPEC)
    f = flusher(store)
    f.submit(token, live(1, 3))
    f.submit(token, live(2, 3, state="stopped"))
    assert f.flush(10.0) and [r.number for r in store.open(token).runs] == [1, 2]
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.perf_counter()
        f.submit(token, live(1, 4))  # a save still queued for it is dropped with it
        f.delete_run(token, 1)
        assert time.perf_counter() - started < 0.01  # never waits on the database
        assert not f.flush(0.3) and isinstance(f.last_error, StoreUnavailable)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert f.flush(10.0) and f.last_error is None
    assert [r.number for r in store.open(token).runs] == [2]


def test_a_flush_during_an_outage_retries_once_an_interval_not_in_a_busy_loop(flusher):
    """A database that fails at once (its file gone): a page waiting in flush must not make the thread retry
    thousands of times a second (which also overflowed its backoff and ended the thread)."""
    attempts = []

    def down():
        attempts.append(1)
        raise StoreUnavailable("The workspace database file is gone: saving is off.")

    f = flusher(down, interval=0.05)
    f.submit("t" * 32, live(1, 3))
    assert not f.flush(1.0) and not f.flush(0.5)
    assert 3 <= len(attempts) <= 40  # about one a 0.05 s interval over 1.5 s
    assert f._thread.is_alive() and f.pending == 1


def test_a_store_that_cannot_open_yet_is_retried(store, flusher):
    attempts = []
    token = store.create(spec=SPEC)

    def get_store():
        attempts.append(1)
        if len(attempts) < 3:
            raise StoreUnavailable("The workspace database could not open: saving is off.")
        return store

    f = flusher(get_store, interval=0.02)
    f.submit(token, live(1, 3))
    assert f.flush(10.0) and len(attempts) >= 3 and store.open(token).runs[0].label == "v3"


def test_a_refused_write_is_dropped_and_reported_for_its_workspace(store, flusher):
    token = store.create(spec=SPEC)
    snapshot = store.snapshot(token)
    f = flusher(store)
    f.submit(snapshot, live(1, 2))
    f.submit(token, live(1, 2))
    assert f.flush(5.0) and f.pending == 0
    assert isinstance(f.error_for(snapshot), ReadOnlyWorkspace) and f.error_for(token) is None
    assert f.last_error is None  # the database itself is fine
    assert store.open(snapshot).runs == [] and store.open(token).runs[0].label == "v2"


def test_submitting_from_many_threads(store, flusher):
    token = store.create(spec=SPEC)
    f = flusher(store)

    def page(number):
        for n in range(1, 101):
            f.submit(token, live(number, n))

    threads = [threading.Thread(target=page, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert f.flush(10.0)
    assert [(r.number, r.label) for r in store.open(token).runs] == [(n, "v100") for n in range(4)]


def test_a_watched_run_is_read_each_round_until_it_is_done(store, flusher):
    """watch: the flusher reads the run itself (a closed tab cannot submit); None rounds write nothing."""
    token = store.create(spec=SPEC)
    spy = Spy(store)
    f = flusher(spy)
    rounds = iter([(live(1, 1), False), (None, False), (live(1, 3), False), (live(1, 4, "finished"), True)])
    reads = []

    def snapshot():
        reads.append(time.monotonic())
        return next(rounds)

    f.watch(token, 1, snapshot)
    assert f.watching(token, 1)
    deadline = time.monotonic() + 10
    while f.watching(token, 1) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not f.watching(token, 1) and len(reads) == 4  # done once its final version was written
    assert [label for _, label, _ in spy.saves] == ["v1", "v3", "v4"]
    (saved,) = store.open(token).runs
    assert saved.state == "finished" and len(saved.records) == 4


def test_fields_are_queued_and_unwatch_drops_a_run(store, flusher):
    token = store.create(spec=SPEC)
    f = flusher(store)
    f.save_fields(token, settings={"train": {"epochs": 3}})
    f.save_fields(token, settings={"train": {"epochs": 4}}, spec={"input": [3], "layers": []})  # newest wins
    f.watch(token, 2, lambda: (live(2, 1), False))
    f.unwatch(token, 2)
    assert f.flush(5.0)
    ws = store.open(token)
    assert ws.settings == {"train": {"epochs": 4}} and ws.spec == {"input": [3], "layers": []}
    assert not f.watching(token, 2)


def test_close_writes_what_is_pending_and_ends_the_thread(store, flusher):
    token = store.create(spec=SPEC)
    f = Flusher(store, interval=0.05)
    f.submit(token, live(1, 2, "finished"))
    f.close(5.0)
    assert not f._thread.is_alive() and len(store.open(token).runs) == 1


def test_a_watched_run_that_ends_adopted_saves_the_workspace_model_with_it(store, flusher):
    """The run's final write carries the session's model: no page has to queue it (a closed tab cannot)."""
    token = store.create(spec=SPEC)
    f = flusher(Spy(store))
    model = {"trained": True, "dataset": None, "adopted": [1]}
    final = RunRecord(1, label="v4", state="finished", spec={"input": [2], "layers": []}, weights=b"w" * 8,
                      adopt=model)
    rounds = iter([(live(1, 3), False), (final, True)])
    f.watch(token, 1, lambda: next(rounds))
    deadline = time.monotonic() + 10
    while f.watching(token, 1) and time.monotonic() < deadline:
        time.sleep(0.02)
    ws = store.open(token)
    assert ws.model == model and store.model_weights(token) == b"w" * 8 and ws.runs[0].state == "finished"


def test_queued_fields_include_an_adoption_not_yet_written(store):
    """A reload in this process between the run's end and its write opens the adopted model already."""
    f = Flusher(store, interval=60.0)
    f._pending[("tok", 1)] = RunRecord(1, state="finished", spec=SPEC, weights=b"w", adopt={"trained": True})
    f.save_fields("tok", settings={"a": 1})
    assert f.queued_fields("tok") == {"spec": SPEC, "model": {"trained": True}, "model_weights": b"w",
                                      "settings": {"a": 1}}


def test_a_model_queued_before_a_run_ends_does_not_undo_its_adoption(store):
    """One round holds a page's older model (queued when the network was set) and the run that ended since."""
    token = store.create(spec=SPEC)
    f = Flusher(store, interval=0.05)
    final = RunRecord(1, state="finished", spec=SPEC, weights=b"w", adopt={"trained": True})
    with f._lock:  # both queued before the thread's first round: that round reads the run and writes the fields
        f._fields[token] = {"model": {"trained": False}, "model_weights": None}
        f._watched[(token, 1)] = lambda: (final, True)
        f._start_locked()
    assert f.flush(10.0)
    assert store.open(token).model == {"trained": True} and store.model_weights(token) == b"w"
    f.close()


def test_a_newer_model_queued_after_an_adoption_wins_over_its_retry(store):
    f = Flusher(store, interval=60.0)
    token = store.create(spec=SPEC)
    f._pending[(token, 1)] = RunRecord(1, state="finished", spec=SPEC, weights=b"w", adopt={"trained": True})
    f.save_fields(token, model={"trained": False}, model_weights=None)  # the student changed the network since
    assert f._pending[(token, 1)].adopt is None and f.flush(10.0)
    assert store.open(token).model == {"trained": False} and store.model_weights(token) is None
    f.close()


def test_a_newer_model_queued_while_an_adoption_is_written_wins_when_that_write_fails(store):
    """The adoption's write fails once (database down) after the page queued a newer model: its retry no longer
    adopts, else it would be written over that newer model."""
    token = store.create(spec=SPEC)

    class FailsOnce:
        def __init__(self):
            self.failed = False

        def __getattr__(self, name):
            return getattr(store, name)

        def save_run(self, token_, run):
            if not self.failed:
                self.failed = True
                f.save_fields(token, model={"trained": False}, model_weights=None)  # queued during this write
                raise StoreUnavailable("the database is locked")
            store.save_run(token_, run)

    f = Flusher(FailsOnce(), interval=0.05)
    f.submit(token, RunRecord(1, state="finished", spec=SPEC, weights=b"w", adopt={"trained": True}))
    assert f.flush(10.0)
    assert store.open(token).model == {"trained": False} and store.model_weights(token) is None
    assert store.open(token).runs[0].state == "finished"  # the run itself is still saved
    f.close()


def test_after_an_outage_the_newest_version_of_a_watched_run_is_written(tmp_path, flusher):
    """A watched run checkpoints, the database locks, the run goes on and ends meanwhile (its final version read
    once): once the database answers, the stored run is the ended one with its weights, never an older failed
    write; and a checkpoint whose write failed is not dropped by the next version, which leaves blobs stored."""
    path = tmp_path / "playground.db"
    store = Store(f"sqlite:///{path}", busy_timeout=0.05)
    token = store.create(spec=SPEC)
    versions = [RunRecord(1, label="v1", state="running", spec=SPEC, weights=b"w1", optimizer=b"o1")]
    f = flusher(store)
    ended = []

    def snapshot():  # like saved_runs.watch: each version read once, done from its final one on
        record = versions.pop(0) if versions else None
        ended.extend([1] if record is not None and record.state == "finished" else [])
        return record, bool(ended)

    f.watch(token, 1, snapshot)
    assert f.flush(5.0) and store.run_blobs(token, 1) == (b"w1", b"o1")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        versions += [RunRecord(1, label="v2", state="running", spec=SPEC, weights=b"w2", optimizer=b"o2"),
                     RunRecord(1, label="v3", state="running", spec=SPEC, has_weights=True, has_optimizer=True)]
        assert wait_for(lambda: not versions and f.last_error is not None)
        versions.append(RunRecord(1, label="v4", state="finished", spec=SPEC, weights=b"w4",
                                  results={"accuracy": 0.9}))
        assert wait_for(lambda: not versions)
        time.sleep(0.3)  # more failed rounds
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert f.flush(10.0) and f.last_error is None and not f.watching(token, 1)
    (run,) = store.open(token).runs
    assert (run.label, run.state, run.results) == ("v4", "finished", {"accuracy": 0.9})
    assert store.run_blobs(token, 1) == (b"w4", None)


def test_a_failed_checkpoint_write_is_kept_by_the_next_version():
    """Merging a newer version over an unwritten one: blobs the newer one leaves stored come from the older."""
    older = RunRecord(1, label="a", state="running", weights=b"w", optimizer=b"o")
    newer = RunRecord(1, label="b", state="running", has_weights=True, has_optimizer=True)
    merged = records_module.newer(older, newer)
    assert (merged.label, merged.weights, merged.optimizer) == ("b", b"w", b"o")
    cleared = RunRecord(1, label="c", state="running")  # a reset run: the older checkpoint is not its own
    assert records_module.newer(older, cleared).weights is None
