"""The workspace panel in every page's sidebar: saved or not, share a snapshot, download or open a file, join a
class."""
from __future__ import annotations

import streamlit as st

import engine
from ui.core import layout, present, pushes, text, workspace
from ui.core.session import KEY, SessionState


def sidebar_ui(s: SessionState) -> None:
    """Where the student's work is kept, and what they can do with it."""
    layout.narrow_window_css()  # every page draws this panel: one place for the page-wide style
    present.apply()  # its toggle heads this panel; on, it restyles the page and collapses the sidebar
    with st.sidebar:
        _push_watch_ui(s)  # first: a push it opens is drawn by this same run
    if s.notice:
        st.info(s.notice)  # made as markdown: user strings in it are escaped where it is written
        s.notice = None
    if (push := pushes.offered_push(s)) is not None:
        st.warning(pushes.offer_text(s, push))
        live = len(s.book.live())
        stop = "Stop my runs and open" if live > 1 else "Stop my run and open" if live else "Open"
        st.button(f"{stop} the teacher's network", key="ws-take-push", on_click=pushes.accept_push, args=(s,))
    with st.sidebar:
        st.markdown("**Your workspace**")
        error = workspace.save_error(s)
        if s.read_only:
            st.warning("A read-only snapshot: look at everything; nothing you change here is saved.")
            st.button("Make my own copy", key="ws-copy", type="primary", on_click=_copy, args=(s,))
        elif error:
            st.warning(text.message(error))
        else:
            st.caption("Saved as you work. This page's address is your workspace's link: bookmark it to come "
                       "back, on any page. Whoever has the link can open it.")
        if s.class_name:
            st.caption(f"Class **{text.plain(s.class_name)}** as {text.plain(s.display_name)}.")
        if s.token is None:
            return
        with st.expander("Share, download, join a class"):  # leaving one is in here too
            _share_ui(s)
            _file_ui(s)
            if not s.read_only and not s.class_name:
                _join_ui(s)
            elif not s.read_only:
                st.button("Leave the class", key="ws-leave", on_click=_attempt,
                          args=(s, "leave the class", workspace.leave_class),
                          help="your teacher no longer sees this workspace; your network and runs stay here")
        if error := s.extras.pop("workspace_error", None):
            st.error(text.message(error))


def _push_watch_ui(s: SessionState) -> None:
    """A class member's open page looks for a teacher's push every few seconds, also with nothing else going on."""
    if not s.class_name or s.read_only or s.token is None:
        return
    drawing = [True]

    @st.fragment(run_every=pushes.PUSH_POLL or None)
    def watch():
        if pushes.poll_push(s) and not drawing[0]:  # a tick: only a full run redraws the network and notice
            st.rerun()

    watch()
    drawing[0] = False


def _share_ui(s: SessionState) -> None:
    st.button("Share a read-only copy", key="ws-share", on_click=_share, args=(s,))
    st.caption("A frozen copy of the network, its runs and weights: whoever opens the link can look and make "
               "their own copy, never change yours.")
    if link := s.extras.get("workspace_share"):
        st.code(link, language=None)


def _file_ui(s: SessionState) -> None:
    if st.button("Prepare a workspace file", key="ws-export"):
        try:
            s.extras["workspace_file"] = workspace.export_file(s)
        except engine.InputError as err:
            s.extras["workspace_error"] = f"Cannot export: {err}"
    if data := s.extras.get("workspace_file"):
        st.download_button("Download workspace (.zip)", data, "workspace.zip", "application/zip", key="ws-download")
    upload = st.file_uploader("Open a workspace file", type=["zip"], key="ws-upload",
                              help="a .zip made by Download: its network, runs and weights open as a new workspace")
    if upload is not None and st.button("Open it", key="ws-open"):
        try:
            token = workspace.import_file(upload.getvalue())
        except engine.InputError as err:
            st.error(f"Cannot open this file: {text.message(err)}")
            return
        _switch(s, token)


def _join_ui(s: SessionState) -> None:
    code = st.text_input("Class code", key="ws-join-code", max_chars=16, placeholder="from your teacher")
    name = st.text_input("Your name", key="ws-join-name", max_chars=60, help="what your teacher sees")
    if st.button("Join the class", key="ws-join", disabled=not (code and name)):
        try:
            workspace.join_class(s, code, name)
        except engine.InputError as err:
            st.error(f"Cannot join: {text.message(err)}")
            return
        st.rerun()


def _attempt(s: SessionState, doing: str, action):
    """``action(s)``, or None with the reason kept for the panel (callbacks cannot draw)."""
    try:
        return action(s)
    except engine.InputError as err:
        s.extras["workspace_error"] = f"Cannot {doing}: {err}"
        return None


def _share(s: SessionState) -> None:
    if token := _attempt(s, "share", workspace.share):
        s.extras["workspace_share"] = workspace.link(token)


def _copy(s: SessionState) -> None:
    if token := _attempt(s, "copy", workspace.copy):
        _switch(s, token, rerun=False)


def _switch(s: SessionState, token: str, rerun: bool = True) -> None:
    """Open another workspace in this tab: its link in the address, a fresh session state restored from it."""
    for run in s.book.live():
        run.trainer.stop()  # they belong to the workspace being left, which keeps what they saved
    st.query_params[workspace.PARAM] = token
    del st.session_state[KEY]
    if rerun:
        st.rerun()
