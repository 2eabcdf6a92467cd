"""A throwaway PostgreSQL cluster for the tests: ``initdb`` in a temporary folder, ``pg_ctl`` on 127.0.0.1.

Run as root (CI), the server runs as the ``postgres`` system user Debian's package creates (initdb refuses root).
``PLAYGROUND_TEST_PG_BINDIR`` names the folder holding ``initdb`` and ``pg_ctl`` when they are elsewhere.
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

PASSWORD = "playground-test"
USER = "postgres"
# A throwaway cluster: durability off (faster CREATE DATABASE and commits), room for many tests' pools.
SETTINGS = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200"]


class ClusterError(RuntimeError):
    """PostgreSQL could not be found or started."""


def bindir() -> Path:
    """The folder holding initdb and pg_ctl: the environment's, Debian's newest, pg_config's, or the PATH's."""
    candidates = [os.environ.get("PLAYGROUND_TEST_PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(found.stdout.strip())
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise ClusterError("PostgreSQL's initdb and pg_ctl were not found (install Debian's postgresql package, "
                       "or set PLAYGROUND_TEST_PG_BINDIR)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """One PostgreSQL server in a temporary folder; ``url(database)`` names a database on it.

    Args:
        settings: more ``name=value`` server settings (e.g. ``log_statement=all``).
    """

    def __init__(self, settings: list[str] = ()):
        self.settings = [*SETTINGS, *settings]
        self.bin = bindir()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="playground-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.owner = None
        if os.geteuid() == 0:  # initdb refuses root: the package's system user owns and runs the cluster
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ClusterError("running as root and there is no 'postgres' user to run PostgreSQL as") from None
            os.chown(self.folder, self.owner.pw_uid, self.owner.pw_gid)
        self._counter = 0
        self._migrated = None
        atexit.register(self.remove)
        (self.folder / "password").write_text(PASSWORD)
        if self.owner is not None:
            os.chown(self.folder / "password", self.owner.pw_uid, self.owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth-local=trust",
                  "--auth-host=scram-sha-256", f"--pwfile={self.folder / 'password'}", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        self.start()

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        user = {} if self.owner is None else {"user": self.owner.pw_uid, "group": self.owner.pw_gid,
                                              "extra_groups": []}
        done = subprocess.run([str(self.bin / program), *args], capture_output=True, text=True, timeout=timeout,
                              cwd=self.folder, check=False, **user)
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise ClusterError(f"{program} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}{log}")

    def start(self) -> None:
        """Start the server (again) on its port; returns once it accepts connections."""
        options = " ".join([f"-p {self.port}", "-h 127.0.0.1", f"-k {self.folder}"]
                           + [f"-c {setting}" for setting in self.settings])
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as a crash would, no shutdown checkpoint)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres", password: str = PASSWORD, port: int | None = None) -> str:
        """A SQLAlchemy URL for ``database`` on this server."""
        return f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{port or self.port}/{database}"

    def _admin(self):
        return psycopg.connect(host="127.0.0.1", port=self.port, user=USER, password=PASSWORD, dbname="postgres",
                               autocommit=True, connect_timeout=10)

    def create_database(self) -> str:
        """A new empty database's URL."""
        self._counter += 1
        name = f"test_{self._counter}"
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def migrated(self, migrate) -> str:
        """A database ``migrate(url)`` brought to the newest schema once, its tables emptied: its URL.

        Emptying it (0.02 s) is what makes PostgreSQL's half of the store's tests cheap: a new database per test
        took 0.5-1 s on a busy 2-core machine, CREATE DATABASE copying and checkpointing a template.
        """
        if self._migrated is None:
            self._migrated = self.create_database()
            migrate(self._migrated)
        name = self._migrated.rsplit("/", 1)[1]
        with self._admin() as connection:
            # what an earlier test left connected (an undisposed store's pool, a flusher) goes: TRUNCATE needs
            # its tables to itself, and none of it may write into this test's rows
            connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        with psycopg.connect(self._migrated.replace("postgresql+psycopg", "postgresql"), autocommit=True,
                             connect_timeout=10) as connection:
            tables = [row[0] for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
            if tables:
                names = ", ".join(f'"{table}"' for table in tables)
                connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        return self._migrated

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``create_database``, closing whatever is still connected to it."""
        name = url.rsplit("/", 1)[1]
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def remove(self) -> None:
        """Stop the server at once and delete its folder (a finalizer and atexit: also when tests fail)."""
        if not self.folder.exists():
            return
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except (ClusterError, subprocess.TimeoutExpired):
                pass  # removed below anyway; a server left running dies with its deleted folder's files
        shutil.rmtree(self.folder, ignore_errors=True)
