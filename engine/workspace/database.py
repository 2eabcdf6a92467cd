"""The database connection: one SQLAlchemy Engine, SQLite tuned for one writer and many readers, migrations at open.

SQLite (the default) gets WAL (readers do not block the writer), a busy timeout and foreign keys on every
connection, and write transactions that take the write lock at BEGIN (``BEGIN IMMEDIATE``), so two writers queue
on the busy timeout instead of failing when a read turns into a write. PostgreSQL (``postgresql+psycopg://...``)
runs the same statements: nothing here is SQLite-only beyond these connection settings.
"""
from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from engine.workspace.errors import StoreUnavailable

_log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UNAVAILABLE = "saving is off, your work stays in memory"
MISSING = ("The workspace database file is gone (deleted or moved away): saving is off, your work stays in memory "
           "and is saved when the file is back")

# Seconds a PostgreSQL connection may take (unless the URL sets connect_timeout): a host that drops packets
# would otherwise hold a page, or the flusher, for the operating system's minutes.
CONNECT_TIMEOUT = 5
URL_HELP = ("not a database URL this server can use: write postgresql+psycopg://user:password@host:5432/name "
            "or sqlite:////absolute/path/playground.db")


def default_url() -> str:
    """``PLAYGROUND_DATABASE_URL``, else a SQLite file ``playground.db`` in ``PLAYGROUND_DATA_DIR`` (or ./data)."""
    url = os.environ.get("PLAYGROUND_DATABASE_URL")
    if url:
        return url
    folder = Path(os.environ.get("PLAYGROUND_DATA_DIR") or "data").resolve()
    return f"sqlite:///{folder / 'playground.db'}"


class Database:
    """An Engine, sessions per operation, and errors turned into ``StoreUnavailable``.

    Args:
        url: a SQLAlchemy URL (``default_url()`` when None).
        busy_timeout: seconds a SQLite writer waits for another one before giving up.

    Raises:
        StoreUnavailable: the database cannot be opened or upgraded.
    """

    def __init__(self, url: str | None = None, busy_timeout: float = 5.0):
        self.url = _parse(url or default_url())
        self.sqlite = self.url.get_backend_name() == "sqlite"
        options = {"pool_pre_ping": not self.sqlite}  # a server's connection can drop; a SQLite file's cannot
        if self.sqlite:
            options["connect_args"] = {"timeout": busy_timeout, "check_same_thread": False}
        elif "connect_timeout" not in self.url.query:
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
        with self.unavailable_as_error("open"):
            if self.sqlite and self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            try:
                self.engine = create_engine(self.url, **options)
            except (sa_exc.NoSuchModuleError, ImportError):  # a dialect or driver that is not installed
                _log.warning("Saving is off: PLAYGROUND_DATABASE_URL %s is %s", self.shown, URL_HELP)
                raise StoreUnavailable(f"The workspace database URL is {URL_HELP}: {UNAVAILABLE}.") from None
            if self.sqlite:
                _tune_sqlite(self.engine, busy_timeout)
            self._writer = self.engine.execution_options(begin="IMMEDIATE")
            self._read = sessionmaker(self.engine, expire_on_commit=False)
            self._write = sessionmaker(self._writer, expire_on_commit=False)
            self.upgrade()
        # The SQLite file this server opened: deleted or moved while open, its connections would go on writing
        # to the old file (lost, or split from the one put back); checked before every session.
        self._path = Path(self.url.database) if self.sqlite and self.url.database not in (None, "", ":memory:") \
            else None
        self._file = _identity(self._path)
        self._lost = False
        self._file_lock = threading.Lock()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (creates it in an empty database; nothing when current)."""
        from alembic import command  # only needed once per process: kept off ``import engine.workspace``
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False))
        with self._writer.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def reading(self):
        """A session for reads (SQLite: readers never wait for the writer)."""
        self.check_file()
        with self.unavailable_as_error("read"), self._read() as session:
            yield session

    @contextmanager
    def writing(self):
        """A session that commits at the end, or rolls back on any error."""
        self.check_file()
        with self.unavailable_as_error("write"), self._write() as session, session.begin():
            yield session

    def file_error(self) -> StoreUnavailable | None:
        """``StoreUnavailable`` while the SQLite file this server opened is gone from its path, else None (one stat)."""
        if self._path is None or _identity(self._path) is not None:
            return None
        return StoreUnavailable(f"{MISSING}.")

    def check_file(self) -> None:
        """Refuse sessions while the SQLite file is gone; reconnect once a file is at its path again.

        A file put back (moved back, or restored from a copy) is reopened: the pooled connections to the old one
        are closed and the schema brought up to date. A server never makes a new empty file in its place (that
        happens only when it starts without one, as at first start).

        Raises:
            StoreUnavailable: the file is gone.
        """
        if self._path is None:
            return
        found = _identity(self._path)
        if found is None:
            if not self._lost:
                _log.warning("the workspace database file %s is gone: saving is off until it is back", self._path)
            self._lost = True
            raise StoreUnavailable(f"{MISSING}.")
        if found == self._file and not self._lost:
            return
        with self._file_lock:  # one thread reconnects; the others find it done
            if found == self._file and not self._lost:
                return
            _log.warning("the workspace database file %s is back: reconnecting", self._path)
            with self.unavailable_as_error("reopen"):
                self.engine.dispose()  # the option engine shares this pool: both reconnect to the file now there
                self.upgrade()
            self._file, self._lost = _identity(self._path), False

    @contextmanager
    def unavailable_as_error(self, doing: str):
        """Turn the database's own failures (down, locked, full, damaged) into ``StoreUnavailable``."""
        try:
            yield
        except sa_exc.IntegrityError:
            raise  # a constraint, not an outage: the caller decides (a concurrent insert, say)
        except (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.DisconnectionError, OSError) as exc:
            # the driver's own words ("database is locked"), never a server path from an OSError
            reason = exc.strerror if isinstance(exc, OSError) else str(getattr(exc, "orig", None) or exc)
            reason = (reason or type(exc).__name__).splitlines()[0][:200]
            if doing == "open":  # once per start (get_store remembers it): which database, and what is wrong
                reason = self._open_problem() or reason
                _log.warning("Saving is off: the workspace database %s could not open (%s)", self.shown, reason)
            else:
                _log.warning("workspace database could not %s: %s", doing, reason)
            raise StoreUnavailable(f"The workspace database could not {doing} ({reason}): {UNAVAILABLE}.") from None

    @property
    def shown(self) -> str:
        """The URL as a log line may show it: the password hidden."""
        return self.url.render_as_string(hide_password=True)

    def _open_problem(self) -> str | None:
        """What SQLite's "unable to open database file" means here, when it is a folder or file we cannot write."""
        if not self.sqlite or not self.url.database or self.url.database == ":memory:":
            return None
        path = Path(self.url.database)
        if path.parent.is_dir() and not os.access(path.parent, os.W_OK | os.X_OK):
            return "its folder is not writable"  # WAL keeps two files beside the database
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            return "the file is read-only"
        return None

    def dispose(self) -> None:
        """Close every pooled connection (tests, shutdown)."""
        self.engine.dispose()


def _identity(path: Path | None) -> tuple[int, int] | None:
    """The file's (device, inode), or None when nothing is at ``path``."""
    if path is None:
        return None
    try:
        found = os.stat(path)
    except OSError:  # not there, or its folder cannot be reached: either way not the file this server opened
        return None
    return found.st_dev, found.st_ino


def _parse(url: str):
    """The URL as SQLAlchemy reads it; a string it cannot read is ``StoreUnavailable`` (never echoed: a password)."""
    try:
        return make_url(url)
    except sa_exc.ArgumentError:
        _log.warning("Saving is off: PLAYGROUND_DATABASE_URL is %s", URL_HELP)
        raise StoreUnavailable(f"The workspace database URL is {URL_HELP}: {UNAVAILABLE}.") from None


def _tune_sqlite(engine, busy_timeout: float) -> None:
    """WAL, busy timeout and foreign keys on connect; BEGIN issued by us so writers can ask for IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the driver's own implicit BEGIN would hide ours
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: safe if the app crashes; fewer fsyncs
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql(f"BEGIN {connection.get_execution_options().get('begin', 'DEFERRED')}")

