"""Fixtures for the workspace store: a fresh SQLite file per test, and one short real training run."""
import os

import pytest
from run_helpers import toy_mlp, wait_for
from ws_helpers import Trained

from engine import data
from engine.training import TERMINAL, RunLimiter, TrainConfig, Trainer
from engine.workspace import Store
from engine.workspace.schema import Base
from sqlalchemy import create_engine, text


@pytest.fixture
def store(tmp_path):
    """A Store on a new SQLite file, or on an emptied ``PLAYGROUND_TEST_DATABASE_URL`` (e.g. PostgreSQL) if set."""
    url = os.environ.get("PLAYGROUND_TEST_DATABASE_URL")
    if url:
        emptied = create_engine(url)
        with emptied.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        emptied.dispose()
    store = Store(url or f"sqlite:///{tmp_path / 'playground.db'}")
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
