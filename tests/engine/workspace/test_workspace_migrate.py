"""``python -m engine.workspace.migrate``: the deployments' one-off migration (deploy/)."""
import os
import subprocess
import sys

from sqlalchemy import create_engine, inspect
from test_workspace_migrations import head

from engine.workspace import Store
from engine.workspace.migrate import main

EMPTY_DATABASE = True  # db_url: a new, empty PostgreSQL database, as a first deployment has


def test_it_creates_the_schema_at_head_and_is_idempotent(db_url, capsys):
    assert main(db_url) == 0
    assert main(db_url) == 0  # the Job run again, or after the replicas upgraded: nothing to do
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0] == out[1] and out[0].endswith(f"is at revision {head()}")
    engine = create_engine(db_url)
    assert {"workspaces", "runs", "classes", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    store = Store(db_url)  # a replica starting afterwards finds it current
    assert store.open(store.create(spec={"input": [2], "layers": []})).runs == []
    store.db.dispose()


def test_a_database_it_cannot_reach_exits_1_with_one_line(postgres, capsys):
    assert main(postgres.url(password="wrong")) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("migration failed:") and "password authentication failed" in line


def test_the_module_runs_from_the_command_line_with_the_environment(tmp_path):
    url = f"sqlite:///{tmp_path / 'job.db'}"
    done = subprocess.run([sys.executable, "-m", "engine.workspace.migrate"], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PLAYGROUND_DATABASE_URL=url))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"workspace database {url} is at revision {head()}"
