"""The process's workspace store and flusher, shared by opening a workspace, saving it and a teacher's push."""
from __future__ import annotations

import os
import socket

import streamlit as st

from engine import workspace


@st.cache_resource(show_spinner=False)
def _services() -> tuple:
    """The process's store and flusher (an error is not cached: the next session tries the database again)."""
    store = workspace.get_store()
    store.server_id = server_id()  # written with each run this process saves: replicas tell theirs apart
    return store, workspace.get_flusher()


def server_id() -> str:
    """This server's id, the same after a restart: PLAYGROUND_SERVER_ID, else hostname:port (a replica's own)."""
    given = os.environ.get("PLAYGROUND_SERVER_ID", "").strip()
    return given[:200] or f"{socket.gethostname()}:{st.config.get_option('server.port')}"


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
