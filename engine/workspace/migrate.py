"""``python -m engine.workspace.migrate``: bring the workspace database to the newest schema, then exit.

Each server also upgrades at start (replicas take turns on a PostgreSQL advisory lock); a deployment runs this
once first (the Kubernetes Job, Compose's ``migrate`` service) so no replica starts on an old schema. It reads
``PLAYGROUND_DATABASE_URL`` (else the SQLite file in ``PLAYGROUND_DATA_DIR``), prints one line and exits 0, or
prints why not and exits 1.
"""
from __future__ import annotations

import sys

from sqlalchemy import text

from engine.workspace.database import Database
from engine.workspace.errors import StoreUnavailable


def main(url: str | None = None) -> int:
    """Upgrade the database at ``url`` (``default_url()`` when None); returns the process's exit status."""
    try:
        database = Database(url)
        with database.reading() as session:
            revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except StoreUnavailable as exc:
        print(f"migration failed: {exc}", file=sys.stderr)
        return 1
    print(f"workspace database {database.shown} is at revision {revision}")
    database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
