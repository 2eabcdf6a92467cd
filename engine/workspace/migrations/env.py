"""Alembic's entry point for the workspace store: upgrades the connection ``Database.upgrade`` hands it.

Run from the command line it uses ``sqlalchemy.url`` if given, else the store's default URL; offline (``--sql``)
it prints the DDL for that URL's dialect.
"""
from alembic import context
from sqlalchemy import create_engine

from engine.workspace.database import default_url
from engine.workspace.schema import Base

# One number shared by every replica: concurrent upgrades of one PostgreSQL database take turns on it.
_UPGRADE_LOCK = 0x706C6179  # "play"


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK})")
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():  # `--sql`: print the DDL for a dialect, no database needed
        context.configure(url=context.config.get_main_option("sqlalchemy.url") or default_url(),
                          target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or default_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


main()
