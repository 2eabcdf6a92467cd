"""Alembic migrations: an empty database is created at head, reopening changes nothing, models match migrations."""
import io
import json

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement
from ws_helpers import run

from engine.workspace import Store, StoreUnavailable
from engine.workspace.columns import pack as columns_pack
from engine.workspace.database import MIGRATIONS
from engine.workspace.schema import Base

SPEC = {"input": [2], "layers": [{"type": "Linear", "out_features": 2}]}
EMPTY_DATABASE = True  # db_url: PostgreSQL databases start empty here, not copied from a migrated one


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def migrate(url: str, revision: str) -> None:
    """Downgrade the database at ``url`` to ``revision`` (an older schema, as an earlier release left it)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(url)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()
    engine.dispose()


def columns(url: str, table: str) -> set:
    engine = create_engine(url)
    names = {column["name"] for column in inspect(engine).get_columns(table)}
    engine.dispose()
    return names


def version(store) -> str:
    with store.db.reading() as session:
        return session.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_an_empty_database_is_created_at_head_from_any_folder(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the migrations are found from the package, not the working folder
    url = db_url.replace("playground.db", "new/playground.db")  # SQLite: a folder that does not exist yet
    store = Store(url)
    assert version(store) == head()
    with store.db.engine.connect() as connection:  # the tables are exactly what the ORM models describe
        assert compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                Base.metadata) == []
        if store.db.sqlite:  # the connection settings SQLite needs for one writer and many readers
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    store.db.dispose()


def test_reopening_is_idempotent_and_keeps_the_data(db_url):
    url = db_url
    first = Store(url)
    token = first.create(spec=SPEC)
    first.db.dispose()
    for _ in range(2):
        again = Store(url)
        assert version(again) == head() and again.open(token).spec == SPEC
        again.db.dispose()


def test_an_older_database_is_upgraded_at_open(db_url):
    url = db_url
    Store(url).db.dispose()
    migrate(url, "base")  # as old as a database gets: no tables
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()
    upgraded = Store(url)
    assert version(upgraded) == head()
    assert upgraded.open(upgraded.create(spec=SPEC)).spec == SPEC
    upgraded.db.dispose()


def test_a_database_with_runs_from_the_first_schema_keeps_them_through_the_upgrade(db_url, trained):
    """0001 -> head on real data: the runs and their blobs stay, the column added since reads as None."""
    url = db_url
    store = Store(url)
    token = store.create(spec=trained.spec)
    store.db.dispose()
    migrate(url, "0001")  # the schema the first release wrote
    assert "context" not in columns(url, "runs")
    engine = create_engine(url)
    with engine.begin() as connection:
        workspace_id = connection.execute(text("SELECT id FROM workspaces")).scalar()
        connection.execute(text(  # a run as the first release stored it
            "INSERT INTO runs (workspace_id, number, \"group\", label, spec, config, state, records, record_count, "
            "size, updated_at, weights) VALUES (:workspace, 1, 'train', 'old', :spec, '{}', 'finished', :records, "
            "0, 0, 0, :weights)"),
            {"workspace": workspace_id, "spec": json.dumps(trained.spec), "records": columns_pack([]),
             "weights": trained.weights})
    engine.dispose()
    upgraded = Store(url)
    assert version(upgraded) == head()
    ws = upgraded.open(token)
    assert [(r.number, r.label, r.context) for r in ws.runs] == [(1, "old", None)]
    assert upgraded.run_blobs(token, 1)[0] == trained.weights
    upgraded.save_run(token, run(1, trained, context={"key": [1]}))
    assert upgraded.open(token).runs[0].context == {"key": [1]}
    upgraded.db.dispose()


def test_the_default_url_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PLAYGROUND_DATABASE_URL", raising=False)
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    store = Store()
    assert (tmp_path / "data" / "playground.db").exists()
    store.db.dispose()
    monkeypatch.setenv("PLAYGROUND_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    store = Store()
    assert (tmp_path / "elsewhere.db").exists()
    store.db.dispose()


def test_a_database_that_cannot_be_opened_says_saving_is_off(tmp_path):
    (tmp_path / "blocked").write_text("a file where the data folder should be")
    with pytest.raises(StoreUnavailable, match="saving is off"):
        Store(f"sqlite:///{tmp_path / 'blocked' / 'playground.db'}")
    (tmp_path / "garbage.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreUnavailable, match="saving is off"):
        Store(f"sqlite:///{tmp_path / 'garbage.db'}")


def test_the_schema_and_every_statement_are_valid_postgresql(store, trained):
    """PostgreSQL by construction: the migration's DDL and each statement the store runs compile for it."""
    out = io.StringIO()
    config = Config(output_buffer=out)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", "postgresql://")
    command.upgrade(config, "head", sql=True)
    ddl = out.getvalue()
    assert "CREATE TABLE runs" in ddl and "BYTEA" in ddl and "DOUBLE PRECISION" in ddl and "BLOB" not in ddl

    compiled = []

    @event.listens_for(store.db.engine, "before_execute")
    def compile_for_postgresql(connection, statement, *args):
        if isinstance(statement, ClauseElement):
            compiled.append(str(statement.compile(dialect=postgresql.dialect())))

    token = store.create("10.0.0.1", spec=trained.spec, settings={"a": 1})
    store.save(token, model={"run": 1}, model_weights=trained.weights)
    store.save_run(token, run(1, trained, state="running"))
    store.interrupt_after = 0.0
    store.open(token)
    store.touch_run(token, 1)
    store.run_blobs(token, 1)
    store.copy(store.snapshot(token, [1]))
    store.import_zip(store.export_zip(token))
    teacher, code = store.create_class("PG")
    store.join_class(code, "Pat", token)
    store.push(teacher, trained.spec, None)
    store.class_view(teacher, since=0.0)
    store.board_view(store.class_board(teacher), since=0.0)
    store.member_snapshot(teacher, store.class_view(teacher).member_keys[0])
    store.delete_run(token, 1)
    store.expire()
    assert len(compiled) > 30 and any("INSERT INTO runs" in sql and "SELECT" in sql for sql in compiled)


def test_get_store_is_one_store_per_process_and_remembers_a_failed_open(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from engine.workspace import get_store, store as store_module

    monkeypatch.setattr(store_module, "_store", None)
    monkeypatch.setattr(store_module, "_failure", None)
    (tmp_path / "data").write_text("a file where the data folder should be")
    monkeypatch.setenv("PLAYGROUND_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'playground.db'}")
    with pytest.raises(StoreUnavailable):
        get_store()
    (tmp_path / "data").unlink()
    with pytest.raises(StoreUnavailable):  # not tried again at once: pages stay quick while it is down
        get_store()
    monkeypatch.setattr(store_module, "RETRY_AFTER", 0.0)
    with ThreadPoolExecutor(8) as pool:
        stores = list(pool.map(lambda _: get_store(), range(16)))
    assert all(s is stores[0] for s in stores) and (tmp_path / "data" / "playground.db").exists()
    stores[0].db.dispose()


def test_a_class_from_before_boards_keeps_working_through_the_upgrade(db_url):
    """0002 -> head: classes get a board column, empty until the teacher's page first asks for the board link."""
    url = db_url
    store = Store(url)
    teacher, code = store.create_class("Before boards")
    store.db.dispose()
    migrate(url, "0002")
    assert "board_digest" not in columns(url, "classes")
    upgraded = Store(url)
    assert version(upgraded) == head()
    assert upgraded.class_view(teacher).code == code
    assert upgraded.board_view(upgraded.class_board(teacher)).name == "Before boards"
    upgraded.db.dispose()
