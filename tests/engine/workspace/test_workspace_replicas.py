"""Two servers on one database: a live run another server flushes is its own until it stops flushing for
``interrupt_after``; a run this server's previous life left live is interrupted at once (a restart)."""
import pytest

from engine.workspace import Flusher, RunElsewhere, Store
from tests.engine.workspace.ws_helpers import run


@pytest.fixture
def replicas(db_url):
    """Store and Flusher pairs of servers "a" and "b" on the same database."""
    pairs = {}
    for name in ("a", "b"):
        store = Store(db_url)
        store.server_id = f"host-{name}:8501"
        pairs[name] = (store, Flusher(store, interval=0.05))
    yield pairs
    for store, flusher in pairs.values():
        flusher.close(5.0)
        store.db.dispose()


def test_another_servers_live_run_is_its_own_until_it_stops_flushing(replicas, trained):
    a, a_flusher = replicas["a"]
    b, _ = replicas["b"]
    token = a.create(spec=trained.spec)
    a_flusher.submit(token, run(1, trained, state="running", weights=None))
    assert a_flusher.flush(10.0)

    seen = b.open(token).runs[0]
    assert seen.state == "running" and seen.server == "host-a:8501"
    assert seen.elsewhere(b.server_id)  # B must not show it interrupted nor resume it
    assert seen.records  # with what A flushed so far
    assert not a.open(token).runs[0].elsewhere(a.server_id)  # A's own (a restart of A resumes it at once)
    assert b.open(token).runs[0].state == "running"  # B's look did not mark it

    b.interrupt_after = 0.0  # A stopped sending news long enough ago
    late = b.open(token).runs[0]
    assert late.state == "interrupted" and not late.elsewhere(b.server_id)
    assert a.open(token).runs[0].state == "interrupted"  # stored so


def test_each_write_and_touch_names_its_server(replicas, trained):
    a, _ = replicas["a"]
    b, _ = replicas["b"]
    token = a.create(spec=trained.spec)
    a.save_run(token, run(1, trained, state="paused"))
    assert b.open(token).runs[0].server == "host-a:8501"
    b.touch_run(token, 1)  # B took it over (resumed it after A stopped)
    stored = a.open(token).runs[0]
    assert stored.server == "host-b:8501" and stored.elsewhere(a.server_id)


def test_a_run_stored_without_a_server_id_is_this_servers(store, trained):
    token = store.create(spec=trained.spec)
    store.save_run(token, run(1, trained, state="running"))  # a store without an id (written before the column)
    stored = store.open(token).runs[0]
    assert stored.server is None and not stored.elsewhere("host-a:8501")


def test_delete_refuses_a_run_another_server_trains_until_it_stops_flushing(replicas, trained):
    a, _ = replicas["a"]
    b, _ = replicas["b"]
    token = a.create(spec=trained.spec)
    a.save_run(token, run(1, trained, state="running"))  # A trains run 1
    a.save_run(token, run(2, trained, state="finished"))  # A finished run 2
    with pytest.raises(RunElsewhere, match=r"Run 1 is training on another server.*reload"):
        b.delete_run(token, 1)  # B's Delete or run-count cleanup
    assert [r.number for r in a.open(token).runs] == [1, 2]  # nothing deleted
    b.delete_run(token, 2)  # an ended run is anyone's to delete
    b.interrupt_after = 0.0  # A sent no news of run 1 for long enough: cut off, B may delete it
    b.delete_run(token, 1)
    assert a.open(token).runs == []


def test_a_server_deletes_its_own_live_run(replicas, trained):
    a, _ = replicas["a"]
    token = a.create(spec=trained.spec)
    a.save_run(token, run(1, trained, state="running"))
    a.delete_run(token, 1)  # its own Delete (the run's thread was stopped first)
    assert a.open(token).runs == []


def test_a_refused_delete_through_the_flusher_is_reported_and_not_retried(replicas, trained):
    """Pages delete through the flusher: the refusal reaches the page (``error_for``) and the run stays."""
    a, _ = replicas["a"]
    _, b_flusher = replicas["b"]
    token = a.create(spec=trained.spec)
    a.save_run(token, run(1, trained, state="running"))
    b_flusher.delete_run(token, 1)
    assert b_flusher.flush(60.0)  # done with it: a refusal is not retried
    assert isinstance(b_flusher.error_for(token), RunElsewhere)
    assert [r.number for r in a.open(token).runs] == [1]
