"""PostgreSQL restarting under a run: the flusher keeps what is queued and writes all of it once the server is back."""
import threading
import time

from run_helpers import wait_for

from engine.workspace import Flusher, RunRecord, Store

SPEC = {"input": [2], "layers": [{"type": "Linear", "out_features": 2}]}
DOWN = 10.0  # seconds the server stays stopped (the outage)
WAIT = 120.0  # deadline of each wait on a state (the suite runs on a loaded 2-core machine: never a speed)


def step(n: int) -> dict:
    return {"kind": "step", "step": n, "train_loss": 1.0 / (n + 1), "lr": 0.01}


def test_stopping_postgresql_for_ten_seconds_loses_nothing_queued(postgres):
    url = postgres.create_database()
    store = Store(url)
    live, done = store.create(spec=SPEC), store.create(spec=SPEC)
    flusher = Flusher(store, interval=0.1)
    records, finished, lock = [], threading.Event(), threading.Lock()

    def snapshot():  # a run producing records as a trainer does; the page's watch reads it each round
        with lock:
            ended = finished.is_set()
            return RunRecord(1, label="live", state="finished" if ended else "running", spec=SPEC,
                             records=list(records), weights=b"final" if ended else None), ended

    def train():  # a record every 50 ms until the run ends
        while not finished.is_set():
            with lock:
                records.append(step(len(records)))
            time.sleep(0.05)

    trainer = threading.Thread(target=train, daemon=True)
    trainer.start()
    flusher.watch(live, 1, snapshot)
    assert wait_for(lambda: len(records) > 10, timeout=WAIT) and flusher.flush(WAIT)
    postgres.stop()
    try:
        stopped = time.monotonic()
        with lock:
            at_stop = len(records)
        assert wait_for(lambda: flusher.last_error is not None, timeout=WAIT)  # it noticed, and goes on queueing
        flusher.submit(done, RunRecord(1, label="ended while down", state="finished", spec=SPEC,
                                       records=[step(n) for n in range(50)], weights=b"w", results={"loss": 0.1}))
        flusher.save_fields(done, settings={"lr": 0.5})
        time.sleep(max(0.0, DOWN - (time.monotonic() - stopped)))
        assert flusher.last_error is not None and not flusher.flush(0.2)  # still down: nothing written
        assert wait_for(lambda: len(records) > at_stop, timeout=WAIT)  # the run went on while it was down
    finally:
        postgres.start()
    time.sleep(0.5)
    with lock:
        finished.set()
    trainer.join()
    assert flusher.flush(WAIT) and flusher.last_error is None
    (run,) = store.open(live).runs
    assert run.state == "finished" and run.records == records  # those made while it was down too
    assert store.run_blobs(live, 1)[0] == b"final"
    ws = store.open(done)
    assert ws.settings == {"lr": 0.5} and [(r.label, len(r.records), r.results) for r in ws.runs] == [
        ("ended while down", 50, {"loss": 0.1})]
    flusher.close()
    store.db.dispose()
