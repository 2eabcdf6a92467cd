"""The home page runs without error and names the compute device."""
import ast
import importlib
from pathlib import Path

from streamlit.testing.v1 import AppTest

import engine
from engine.training import TrainConfig
from ui.core.session import KEY, SessionState

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = importlib.import_module("engine.lessons.catalogue")  # engine.lessons.catalogue is also the function


def test_home_runs_and_shows_device():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Neural-network playground"
    shown = " ".join(m.value for m in at.markdown)
    assert "Compute device" in shown
    assert engine.device.describe() in shown


def test_home_links_only_pages_that_exist(tmp_path):
    (tmp_path / "views").mkdir()
    (tmp_path / "app.py").write_text((ROOT / "app.py").read_text())
    (tmp_path / "views" / "0_Home.py").write_text((ROOT / "views" / "0_Home.py").read_text())
    for name in ("1_Build.py", "3_Train.py"):
        (tmp_path / "views" / name).write_text("import streamlit as st\nst.write('stub')\n")
    at = AppTest.from_file(str(tmp_path / "app.py"), default_timeout=30).run()
    assert not at.exception
    links = at.get("page_link")
    assert [link.proto.page for link in links] == ["Build", "Train"]  # url paths of the pages


def test_navigation_names_home_and_keeps_every_page_address():
    """st.navigation, not the pages/ folder: the sidebar's first entry is "Home", each page keeps its old address."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    pages = list(at._registered_pages.values())  # what st.navigation registered (AppTest keeps it for switch_page)
    assert [p["page_name"] for p in pages] == ["Home", "Lessons", "Build", "Convolution", "Train", "Inspect",
                                               "Gradients", "Class"]
    assert [p["url_pathname"] for p in pages] == ["", "Lessons", "Build", "Convolution", "Train", "Inspect",
                                                  "Gradients", "Class"]
    assert all(p["icon"] for p in pages)
    assert not (ROOT / "pages").exists()  # a pages/ folder would switch Streamlit back to scanning it


def test_the_sidebar_groups_the_pages_home_and_lessons_first():
    """st.navigation's dict form: the sidebar's first group is Home then Lessons, the network pages next, the class
    last (the groups as app.py declares them; AppTest keeps the pages, not the groups)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    declared = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                    and getattr(node.targets[0], "id", None) == "SECTIONS")
    groups = {name: [title for _, title, _, _ in entries] for name, entries in ast.literal_eval(declared).items()}
    assert list(groups.values()) == [["Home", "Lessons"], ["Build", "Convolution", "Train", "Inspect", "Gradients"],
                                     ["Class"]]


def test_home_keeps_the_sessions_runs_alive():
    class Run:
        state, beats = "running", 0

        def heartbeat(self):
            self.beats += 1

    session = SessionState(spec=engine.network.presets.get("toy-mlp"))
    session.book.add("train", Run(), session.spec, TrainConfig())
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.session_state[KEY] = session
    at.run()
    trainer = session.book.runs[0].trainer
    assert not at.exception and trainer.beats >= 2  # state() and the keep-alive fragment
    before = trainer.beats
    at.run()  # one poll, as the fragment's timer would make in a browser
    assert trainer.beats > before


def test_the_server_loads_the_lessons_as_it_starts_and_starts_with_a_broken_file(tmp_path, monkeypatch, caplog):
    """app.py loads the catalogue before any page asks for it (the home page does not); a broken lesson file is
    logged with its path and field and the app still runs."""
    (tmp_path / "01-broken.toml").write_text('id = "broken"\ntitle = "T"\n', encoding="utf-8")
    monkeypatch.setattr(CATALOGUE, "FOLDER", tmp_path)
    monkeypatch.setattr(CATALOGUE, "_cached", None)  # restored afterwards: the other tests see the real lessons
    with caplog.at_level("WARNING", logger=CATALOGUE.__name__):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception and at.title[0].value == "Neural-network playground"
    assert CATALOGUE._cached is not None and CATALOGUE._cached.lessons == ()
    assert any("01-broken.toml: topic: missing" in r.getMessage() for r in caplog.records), caplog.records
