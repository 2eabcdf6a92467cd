"""The sidebar while the SQLite file is gone: "Saved as you work" gives way to saving is off (work kept in memory),
and comes back once the file is back and the queued state is written (issue 17)."""
import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engine.workspace import Flusher, Store
from ui.core import database

TRAIN = str(Path(__file__).resolve().parents[3] / "views" / "3_Train.py")
SAVED = "Saved as you work"


def _sidebar(at) -> str:
    return " ".join(e.value for e in [*at.sidebar.caption, *at.sidebar.warning])


def test_the_sidebar_says_saving_is_off_while_the_database_file_is_gone(tmp_path, monkeypatch):
    path = tmp_path / "playground.db"
    store = Store(f"sqlite:///{path}")
    flusher = Flusher(store, interval=0.05)
    monkeypatch.setattr(database, "_services", lambda: (store, flusher))
    try:
        at = AppTest.from_file(TRAIN, default_timeout=60)
        at.run()
        assert not at.exception and SAVED in _sidebar(at)
        os.rename(path, tmp_path / "away.db")
        at.run()
        assert not at.exception and SAVED not in _sidebar(at)
        assert any("gone" in w.value and "in memory" in w.value for w in at.sidebar.warning), _sidebar(at)
        os.rename(tmp_path / "away.db", path)
        assert flusher.flush(10.0)
        at.run()
        assert not at.exception and SAVED in _sidebar(at)
    finally:
        flusher.close(2.0)
        store.db.dispose()
