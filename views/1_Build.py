"""Build: assemble a network layer by layer; shapes, parameters and the graph follow every edit."""
import streamlit as st

from ui.core import present, sidebar, text
from ui.core.page import keep_alive, state
from ui.build import editor, summary

st.set_page_config(page_title="Build · NN playground", page_icon="🧱", layout="wide")
s = state()
sidebar.sidebar_ui(s)
keep_alive()  # a Train run keeps its heartbeat while the student reads this page
st.title("Build a network")
editor.url_sync_ui(s)
st.caption(f"**{text.plain(s.spec.name)}** · input {' × '.join(map(str, s.spec.input))}"
           + (f" token ids, vocabulary {s.spec.vocab_size}" if s.spec.vocab_size else "")
           + " · the Train and Inspect pages use this network (the Gradients page runs its own experiments).")
editor.start_ui(s)

table, error = summary.summary_or_error(s.spec)
rows = {r.index: r.output_shape for r in table.rows}
with present.step_beside("Build"):  # in presenter mode, a lesson step's explanation beside the network's table
    left, right = st.columns([2, 3], gap="medium")
    with left:
        st.subheader("Layers")
        editor.layers_ui(s, rows)
    with right:
        st.subheader("Shapes and parameters")
        summary.summary_ui(table, error)
with present.fold("Export, import and share", key="build-share-fold"):  # folded away in presenter mode
    editor.export_ui(s, valid=error is None)
    editor.url_write(s)
    editor.network_link_ui(s)
