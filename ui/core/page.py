"""What every page calls: its session's state (opened, kept saved and beating), a keep-alive and a page link."""
from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitAPIException

import engine
from ui.core import present, workspace
from ui.core.session import DEFAULT_PRESET, KEY, SessionState


def state() -> SessionState:
    """This browser session's state: its stored workspace opened (or made) on first use, then kept saved."""
    # Every page comes through here, also when a link opens it directly without app.py running first.
    engine.device.configure_threads()
    if KEY not in st.session_state:
        s = SessionState(spec=engine.network.presets.get(DEFAULT_PRESET))
        workspace.attach(s)  # the ?ws= link's workspace, or a new one
        s.dirty.clear()  # what was restored is what is stored
        s.book.changed.clear()
        st.session_state[KEY] = s
    s = st.session_state[KEY]
    s.heartbeat()  # a run keeps going while its student works on another page, not only on Train
    workspace.sync(s)
    if s.token and st.query_params.get(workspace.PARAM) != s.token:
        st.query_params[workspace.PARAM] = s.token  # every page's address names the workspace (navigation drops it)
    return s


def keep_alive(every: float = 10.0) -> None:
    """For pages without a live view: while the tab stays open, a tiny fragment beats the session's live runs.

    state() beats them on every rerun, but a student who only reads a page makes no reruns; without this a run
    would stop itself after its heartbeat timeout (30 s). A closed tab stops ticking, so its runs still end.
    """
    if not state().live_trainers():
        return

    @st.fragment(run_every=every)
    def beat():
        state()  # beats

    beat()


def page_link(path: str, label: str, icon: str | None = None) -> None:
    """st.page_link carrying presenter mode along, or a plain link when the page runs on its own (AppTest starts
    at the page itself)."""
    params = present.link_params()  # st.page_link clears the address's other parameters
    try:
        st.page_link(path, label=label, icon=icon, query_params=params)
    except StreamlitAPIException:
        query = f"?{urlencode(params)}" if params else ""
        st.markdown(f"[{label}](./{path.split('_', 1)[-1].removesuffix('.py')}{query})")
