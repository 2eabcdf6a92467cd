"""Train: press start, watch the curves move, pause, step, stop; compare runs side by side."""
import streamlit as st

import engine
from ui.core import present, sidebar, text
from ui.core.page import page_link, state
from ui.train import compare, controls, diagnostics, lr_find, upload, widgets

st.set_page_config(page_title="Train · NN playground", layout="wide")
s = state()
sidebar.sidebar_ui(s)
p = widgets.page(s)
st.title("Train")
try:
    summary = engine.summarize(s.spec)
    st.markdown(f"Network **{text.plain(s.spec.name)}**: {len(s.spec.layers)} layers, "
                f"{summary.total_params:,} parameters, "
                f"input {'×'.join(map(str, s.spec.input))} · compute: {engine.device.describe()}")
except engine.SpecError as err:
    st.error(f"The network on the Build page is invalid: {text.message(err)}")
page_link("views/1_Build.py", "Change the network on the Build page")

with st.expander("Data and training settings", expanded=not widgets.runs(s) and not present.is_on()):
    config = widgets.settings_ui(s)
controls.controls_ui(s, config)
with st.expander("Find a learning rate (range test)", expanded=lr_find.shown(s)):
    lr_find.lr_find_ui(s, config)

run = widgets.active(s)
with present.step_beside("Train"):  # in presenter mode, a lesson step's explanation beside its curves
    if run is None:
        st.info("Choose the data and settings, then press **Start new run**. Training runs in the background: "
                "the page stays responsive and you can pause, step or stop at any time.")
    else:
        live = run.live
        # The Training tab is always drawn: an ended run's results (test, adoption) come from it, whichever tab
        # shows.
        training_tab, diagnostics_tab = st.tabs(diagnostics.TABS, key=diagnostics.TAB, on_change="rerun",
                                                bind="query-params")
        with training_tab:
            widgets.live_ui(s)
            if not live:
                st.subheader("Results")
                widgets.results_ui(s, run)
            elif run.state == "paused" and run.trainer.dataset.task == "char":
                widgets.sample_ui(run.trainer)
        if diagnostics_tab.open:
            with diagnostics_tab:
                diagnostics.live_ui(s)

if widgets.runs(s):
    st.subheader("Compare runs")
    compare.compare_ui(s)
with st.expander("Load trained weights"):
    upload.weights_ui(s, p)
