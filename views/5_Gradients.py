"""Gradients: where they vanish or explode, through the layers of a deep network and through the steps of an RNN."""
import streamlit as st

from ui.core import present, sidebar
from ui.core.page import keep_alive, state
from ui.gradients import depth, settings, through_time

st.set_page_config(page_title="Gradients · NN playground", page_icon=":material/trending_down:", layout="wide")
sidebar.sidebar_ui(state())
settings.seed()  # the widgets' values from the settings table (a set-up, the saved workspace), before any widget
keep_alive()  # a Train run keeps its heartbeat while the student reads this page
st.title("Vanishing and exploding gradients")
st.caption("The per-layer and per-step curves are measured on a seeded network and one fixed batch with PyTorch's "
           "autograd, in float64 (in float32 the smallest norms round to 0); the live per-layer and clipping charts "
           "come from the training loop itself. The y-axes are logarithmic, so a straight downward line means a "
           "constant factor lost per layer or step. Training runs in the background and the charts redraw as it goes.")

# A stateful tab (kept in the address too): a button's rerun or a live run's redraw never shows the first tab
# again. Only the open tab computes; the closed one draws its settings only, and its other widgets, forgotten by
# Streamlit meanwhile, come back from the settings table (settings.seed).
depth_tab, time_tab = st.tabs(["Through depth", "Through time"], key="gradients_tab", on_change="rerun",
                              bind="query-params")

with depth_tab:
    st.markdown("A deep MLP on 8×8 handwritten digits, or the session's own network. The norm of each layer's "
                "weight gradient ∂L/∂W, from the input layer to the output layer: where it collapses, the early "
                "layers stop learning.")
    with present.fold("Settings: network, activation, initialisation", key="depth-settings-fold", heading=False):
        depth_settings = depth.depth_settings_ui()  # folded away in presenter mode: the chart is what is shown
    if depth_tab.open:
        with present.step_beside("Gradients", "Through depth"):  # presenter mode: a lesson step beside its chart
            depth.depth_ui(depth_settings)

with time_tab:
    st.markdown("A recurrent network reads a long sequence and answers at the end (many-to-one). The loss reaches "
                "an early step t only through every later step, so ‖∂L/∂h_t‖ shows how far back it can learn.")
    with present.fold("Settings: cell, task, T, W_hh, clipping", key="time-settings-fold", heading=False):
        time_settings = through_time.time_settings_ui()
    if time_tab.open:
        with present.step_beside("Gradients", "Through time"):
            through_time.time_ui(time_settings)
    else:
        through_time.background_ui()

settings.save()  # a reopened workspace shows these settings, and its saved runs with them
