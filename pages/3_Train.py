"""Train: press start, watch the curves move, pause, step, stop; compare runs side by side."""
import streamlit as st

import engine
from ui import text, train_controls_ui, train_runs_ui, train_ui, train_upload_ui, workspace_ui
from ui.session import page_link, state

st.set_page_config(page_title="Train · NN playground", layout="wide")
s = state()
workspace_ui.sidebar_ui(s)
p = train_ui.page(s)
st.title("Train")
try:
    summary = engine.summarize(s.spec)
    st.markdown(f"Network **{text.plain(s.spec.name)}**: {len(s.spec.layers)} layers, "
                f"{summary.total_params:,} parameters, "
                f"input {'×'.join(map(str, s.spec.input))} · compute: {engine.device.describe()}")
except engine.SpecError as err:
    st.error(f"The network on the Build page is invalid: {text.message(err)}")
page_link("pages/1_Build.py", "Change the network on the Build page")

with st.expander("Data and training settings", expanded=not train_ui.runs(s)):
    config = train_ui.settings_ui(s)
train_controls_ui.controls_ui(s, config)

run = train_ui.active(s)
if run is None:
    st.info("Choose the data and settings, then press **Start new run**. Training runs in the background: "
            "the page stays responsive and you can pause, step or stop at any time.")
else:
    live = run.live
    train_ui.live_ui(s)
    if not live:
        st.subheader("Results")
        train_ui.results_ui(s, run)
    elif run.state == "paused" and run.trainer.dataset.task == "char":
        train_ui.sample_ui(run.trainer)

if train_ui.runs(s):
    st.subheader("Compare runs")
    train_runs_ui.compare_ui(s)
with st.expander("Load trained weights"):
    train_upload_ui.weights_ui(s, p)
