"""Build: assemble a network layer by layer; shapes, parameters and the graph follow every edit."""
import streamlit as st

from ui import build_summary_ui, build_ui, text, workspace_ui
from ui.session import keep_alive, state

st.set_page_config(page_title="Build · NN playground", page_icon="🧱", layout="wide")
s = state()
workspace_ui.sidebar_ui(s)
keep_alive()  # a Train run keeps its heartbeat while the student reads this page
st.title("Build a network")
build_ui.url_sync_ui(s)
st.caption(f"**{text.plain(s.spec.name)}** · input {' × '.join(map(str, s.spec.input))}"
           + (f" token ids, vocabulary {s.spec.vocab_size}" if s.spec.vocab_size else "")
           + " · the Train and Inspect pages use this network (the Gradients page runs its own experiments).")
build_ui.start_ui(s)

summary, error = build_summary_ui.summary_or_error(s.spec)
rows = {r.index: r.output_shape for r in summary.rows}
left, right = st.columns([2, 3], gap="medium")
with left:
    st.subheader("Layers")
    build_ui.layers_ui(s, rows)
with right:
    st.subheader("Shapes and parameters")
    build_summary_ui.summary_ui(summary, error)
st.subheader("Export, import and share")
build_ui.export_ui(s, valid=error is None)
build_ui.url_write(s)
build_ui.network_link_ui(s)
