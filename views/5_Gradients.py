"""Gradients: where they vanish or explode, through the layers of a deep network and through the steps of an RNN."""
import streamlit as st

from ui.gradients import depth, lab_setup, through_time
from ui.core import sidebar
from ui.core.page import keep_alive, state

st.set_page_config(page_title="Gradients · NN playground", page_icon=":material/trending_down:", layout="wide")
sidebar.sidebar_ui(state())
lab_setup.apply_pending()  # a lesson step's lab settings, when the Lessons page just set them up
through_time.restore_widgets()  # the settings this workspace last had here, before any widget is drawn
keep_alive()  # a Train run keeps its heartbeat while the student reads this page
st.title("Vanishing and exploding gradients")
st.caption("The per-layer and per-step curves are measured on a seeded network and one fixed batch with PyTorch's "
           "autograd, in float64 (in float32 the smallest norms round to 0); the live per-layer and clipping charts "
           "come from the training loop itself. The y-axes are logarithmic, so a straight downward line means a "
           "constant factor lost per layer or step. Training runs in the background and the charts redraw as it goes.")

# A stateful tab (kept in the address too): a button's rerun or a live run's redraw never shows the first tab
# again. Only the open tab computes; the closed one draws its settings only, and its other widgets, forgotten by
# Streamlit meanwhile, come back from the saved settings (restore_widgets).
depth_tab, time_tab = st.tabs(["Through depth", "Through time"], key="gradients_tab", on_change="rerun",
                              bind="query-params")

with depth_tab:
    st.markdown("A deep MLP on 8×8 handwritten digits, or the session's own network. The norm of each layer's "
                "weight gradient ∂L/∂W, from the input layer to the output layer: where it collapses, the early "
                "layers stop learning.")
    depth_settings = depth.depth_settings_ui()
    if depth_tab.open:
        depth.depth_ui(depth_settings)

with time_tab:
    st.markdown("A recurrent network reads a long sequence and answers at the end (many-to-one). The loss reaches "
                "an early step t only through every later step, so ‖∂L/∂h_t‖ shows how far back it can learn.")
    time_settings = through_time.time_settings_ui()
    if time_tab.open:
        through_time.time_ui(time_settings)
    else:
        through_time.background_ui()

through_time.save_widgets()  # a reopened workspace shows these settings, and its saved runs with them
