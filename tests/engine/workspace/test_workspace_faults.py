"""A wrong PLAYGROUND_DATABASE_URL: one clear line naming the database and the problem, saving off, no hang."""
import logging
import os
import socket
import subprocess
import sys
import threading

import pytest

from engine.workspace import Store, StoreUnavailable

LOGGER = "engine.workspace.database"


def refused(url: str, caplog) -> tuple[str, str]:
    """(the message a page shows, the one line logged) for a Store that cannot open ``url``."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER), pytest.raises(StoreUnavailable) as err:
        Store(url)
    lines = [r for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 1 and lines[0].exc_info is None  # one line, no traceback
    line = lines[0].getMessage()
    assert "\n" not in line and "saving is off" in str(err.value)
    return str(err.value), line


def test_a_wrong_password_is_named_and_the_password_never_shown(postgres, caplog):
    message, line = refused(postgres.url(password="not-the-password"), caplog)
    assert "password authentication failed" in message and "password authentication failed" in line
    assert f"postgres:***@127.0.0.1:{postgres.port}/postgres" in line and "not-the-password" not in line + message


def test_a_closed_port_is_named(postgres, caplog):
    message, line = refused(postgres.url(port=1), caplog)
    assert "Connection refused" in message and "127.0.0.1:1/" in line


def test_an_unknown_host_is_named(caplog):
    message, line = refused("postgresql+psycopg://user:secret@no-such-host.invalid:5432/playground", caplog)
    assert "no-such-host.invalid" in message and "secret" not in line + message


@pytest.mark.timeout(60)
def test_a_host_that_never_answers_gives_up_after_the_connect_timeout(caplog, monkeypatch):
    """A firewall that drops packets, a server that accepts and says nothing: the open gives up, never hangs."""
    monkeypatch.setattr("engine.workspace.database.CONNECT_TIMEOUT", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        accepted = []
        threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
        message, line = refused(f"postgresql+psycopg://u:p@127.0.0.1:{silent.getsockname()[1]}/x", caplog)
    assert "timeout" in message.lower()


@pytest.mark.parametrize("url, named", [
    ("postgres://user:secret@db.example/playground", "not a database URL"),  # no scheme SQLAlchemy knows
    ("not a url at all", "not a database URL"),
    ("mysql+nodriver://user:secret@db.example/playground", "not a database URL"),
])
def test_a_malformed_url_says_so(url, named, caplog):
    message, line = refused(url, caplog)
    assert named in message and named in line and "secret" not in message + line


def test_a_plain_postgresql_url_uses_the_installed_driver(postgres):
    """``postgresql://`` without a driver works: SQLAlchemy 2.1's default PostgreSQL driver is psycopg (pinned)."""
    store = Store(postgres.url(postgres.create_database().rsplit("/", 1)[1]).replace("+psycopg", ""))
    assert store.open(store.create(spec={"input": [2], "layers": []})).spec == {"input": [2], "layers": []}
    store.db.dispose()


def test_a_sqlite_file_in_a_read_only_folder_is_named(tmp_path):
    """The line says the folder is not writable (as root, CI's user, without the capability to write anywhere)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    code = ("import logging, sys; logging.basicConfig(level=logging.WARNING, format='%(message)s')\n"
            "from engine.workspace import Store, StoreUnavailable\n"
            f"try:\n    Store('sqlite:///{folder}/playground.db')\n"
            "except StoreUnavailable as exc:\n    print(exc)\nelse:\n    sys.exit('opened')\n")
    # util-linux's setpriv: root without CAP_DAC_OVERRIDE obeys the folder's r-x like anyone else
    not_root = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    done = subprocess.run([*not_root, sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "folder is not writable" in done.stdout and str(folder) not in done.stdout  # no server path shown
    (line,) = done.stderr.strip().splitlines()  # the operator's line names it
    assert "folder is not writable" in line and str(folder) in line
