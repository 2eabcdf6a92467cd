"""Class: a teacher makes a class, sees every student's network and runs live, and sends them a network; the class
board shows the same read-only, for a projector."""
import streamlit as st

from ui import class_ui, layout, workspace_ui
from ui.session import state

st.set_page_config(page_title="Class · NN playground", page_icon=":material/groups:", layout="wide")
board = st.query_params.get(class_ui.BOARD)
if board:  # no workspace is opened here: no workspace link to sit in a projected address bar
    layout.narrow_window_css()  # the sidebar panel that sets it elsewhere is not drawn here
    st.title("Class board")
    class_ui.board_ui(board)
else:
    s = state()
    workspace_ui.sidebar_ui(s)
    st.title("Class")
    token = st.query_params.get(class_ui.PARAM)
    if token:
        class_ui.class_ui(s, token)
    else:
        class_ui.create_ui()
