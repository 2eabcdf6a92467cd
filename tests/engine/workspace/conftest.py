"""Fixtures for the workspace store: every store test on a new SQLite file and on a new PostgreSQL database.

PostgreSQL is a throwaway cluster (``tests/pg_cluster.py``) started once per test session. When it cannot be
found or started the PostgreSQL tests fail; ``PLAYGROUND_TEST_POSTGRES=skip`` skips them instead (a developer
without PostgreSQL; ``make test`` installs it, so CI never skips).
"""
import os

import pytest
from run_helpers import toy_mlp, wait_for
from ws_helpers import Trained

from engine import data
from engine.training import TERMINAL, RunLimiter, TrainConfig, Trainer
from engine.workspace import Store
from tests.pg_cluster import Cluster, ClusterError

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL cluster, stopped and deleted at the end (finalizer; atexit if pytest dies)."""
    if os.environ.get("PLAYGROUND_TEST_POSTGRES") == "skip":
        pytest.skip("PLAYGROUND_TEST_POSTGRES=skip")
    try:
        cluster = Cluster()
    except (ClusterError, OSError) as exc:
        pytest.fail(f"PostgreSQL could not be started for the store's tests: {exc}. Install it (make test does: "
                    f"Debian's postgresql package), or set PLAYGROUND_TEST_POSTGRES=skip to skip these tests.",
                    pytrace=False)
    yield cluster
    cluster.remove()


def _migrate(url: str) -> None:
    Store(url).db.dispose()  # whatever migrations exist, up to their head


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A URL to a new database: a SQLite file, or a database on the session's PostgreSQL cluster.

    PostgreSQL's is one database migrated once per session and emptied before each test (a new database per
    test is 20 times slower); a module that sets ``EMPTY_DATABASE = True`` (the migration tests, which change
    the schema) gets a new empty database instead.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'playground.db'}"
        return
    cluster = request.getfixturevalue("postgres")
    if not getattr(request.module, "EMPTY_DATABASE", False):
        yield cluster.migrated(_migrate)
        return
    url = cluster.create_database()
    yield url
    cluster.drop_database(url)  # WITH (FORCE): a store a failed test left open does not keep it


@pytest.fixture
def store(db_url):
    """A Store on a new database (each backend in turn)."""
    store = Store(db_url)
    yield store
    store.db.dispose()


@pytest.fixture(scope="session")
def trained():
    """Two epochs of toy-mlp on circle, a record every step: real records, weights and optimiser-free state."""
    dataset = data.load("circle", 0, n=200)
    config = TrainConfig(dataset="circle", epochs=2, batch_size=32, device="cpu", metrics_every=1, seed=0)
    trainer = Trainer(toy_mlp(), config, dataset=dataset, limiter=RunLimiter(1))
    trainer.start()
    assert wait_for(lambda: trainer.state in TERMINAL, timeout=30)
    assert trainer.state == "finished"
    return Trained(spec=trainer.spec.to_dict(), config=config.to_dict(), records=trainer.records(),
                               weights=trainer.weights(), model=trainer.model.eval(), x=dataset.x_val)
