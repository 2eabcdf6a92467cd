"""A wrong PLAYGROUND_DATABASE_URL: the pages still open and work, the sidebar says saving is off.

The store's own messages and its one start-up line per bad URL are in tests/engine/workspace/test_workspace_faults.py.
"""
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from engine.workspace import store as store_module

ROOT = Path(__file__).resolve().parents[2]
BAD = {
    "closed port": "postgresql+psycopg://user:secret@127.0.0.1:1/playground",
    "unknown host": "postgresql+psycopg://user:secret@no-such-host.invalid/playground",
    "not a URL": "postgres//user:secret@host/playground",
}


@pytest.fixture
def bad_url(request, monkeypatch):
    """The process's store forgotten, PLAYGROUND_DATABASE_URL set to a bad one; the cached services dropped."""
    monkeypatch.setenv("PLAYGROUND_DATABASE_URL", request.param)
    monkeypatch.setattr(store_module, "_store", None)
    monkeypatch.setattr(store_module, "_failure", None)
    st.cache_resource.clear()  # a store cached by an earlier test would hide the bad URL
    yield request.param
    st.cache_resource.clear()  # the next test opens the test database again


@pytest.mark.parametrize("bad_url", BAD.values(), ids=BAD.keys(), indirect=True)
@pytest.mark.parametrize("page", ["views/0_Home.py", "views/1_Build.py", "views/3_Train.py"])
def test_the_pages_serve_with_saving_off(bad_url, page):
    at = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
    assert not at.exception
    warnings = [w.value for w in at.sidebar.warning]
    assert any("Saving is off" in w for w in warnings), warnings
    assert not any("secret" in w for w in warnings)
