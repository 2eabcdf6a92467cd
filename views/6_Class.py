"""Class: a teacher makes a class, sees every student's network and runs live, and sends them a network; the class
board shows the same read-only, for a projector."""
import streamlit as st

from ui import classroom
from ui.core import layout, sidebar
from ui.core.page import state

st.set_page_config(page_title="Class · NN playground", page_icon=":material/groups:", layout="wide")
board = st.query_params.get(classroom.BOARD)
if board:  # no workspace is opened here: no workspace link to sit in a projected address bar
    layout.narrow_window_css()  # the sidebar panel that sets it elsewhere is not drawn here
    st.title("Class board")
    classroom.board_ui(board)
else:
    s = state()
    sidebar.sidebar_ui(s)
    st.title("Class")
    token = st.query_params.get(classroom.PARAM)
    if token:
        classroom.class_ui(s, token)
    else:
        classroom.create_ui()
