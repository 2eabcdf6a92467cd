"""The process's workspace store and flusher, shared by opening a workspace, saving it and a teacher's push."""
from __future__ import annotations

import streamlit as st

from engine import workspace


@st.cache_resource(show_spinner=False)
def _services() -> tuple:
    """The process's store and flusher (an error is not cached: the next session tries the database again)."""
    return workspace.get_store(), workspace.get_flusher()


def opened() -> tuple:
    """(store, flusher); raises ``engine.workspace.StoreUnavailable`` while the database cannot be opened."""
    return _services()


def services() -> tuple:
    """(store, flusher), or (None, None) while the database cannot be opened."""
    try:
        return _services()
    except workspace.StoreUnavailable:
        return None, None


def reachable() -> tuple:
    """(store, flusher); raises ``StoreUnavailable`` with words for the page while the database is down."""
    store, flusher = services()
    if store is None:
        raise workspace.StoreUnavailable("the database cannot be reached right now; try again in a minute")
    return store, flusher


def client_ip() -> str | None:
    """The browser's address (for the per-address caps), when Streamlit knows it."""
    try:
        return st.context.ip_address
    except (AttributeError, RuntimeError):
        return None
