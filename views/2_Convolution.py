"""Convolution: a kernel sliding over an input step by step, with the numbers; receptive fields; feature maps."""
import streamlit as st

from engine import InputError, SpecError
from ui.core import present, sidebar
from ui.core.page import keep_alive, state
from ui.core.text import message
from ui.convolution import formula, widgets

st.set_page_config(page_title="Convolution · NN playground", page_icon=":material/grid_on:", layout="wide")
sidebar.sidebar_ui(state())
keep_alive()  # a Train run keeps its heartbeat while the student reads this page
st.title("Convolution, step by step")
st.caption("Any kernel, stride, padding and dilation, with every product and sum written out. "
           "The numbers are computed by the engine and match PyTorch's `torch.nn.functional`.")

settings = widgets.settings_ui()
# Switching tabs reruns the page, and only the open tab computes its figures; the closed ones get their widgets
# only, so their choices are kept (Streamlit forgets the state of a widget that a rerun does not draw). The open
# tab is in the address too, so a reload keeps it.
animation_tab, receptive_tab, features_tab = st.tabs(["Animation", "Receptive field", "Feature maps"],
                                                     key="conv_tab", on_change="rerun", bind="query-params")

with animation_tab:
    input_col, kernel_col = st.columns(2, gap="large")
    x = w = None
    rgb = False
    with input_col:
        try:
            x, notes, rgb = widgets.input_ui(settings)
        except InputError as err:
            notes = []
            st.error(message(err))
        for note in notes:
            st.caption(note)
    if x is not None:
        channels = x.shape[0] if x.ndim == settings.dims + 1 else 1
        with kernel_col:
            w, k = widgets.kernel_ui(settings, channels)
        try:
            trace = widgets.compute(settings, x, w, k)
        except (InputError, SpecError) as err:
            st.error(message(err), icon="⚠️")
        else:
            with present.step_beside("Convolution", "Animation", drawn=animation_tab.open):  # presenter mode
                widgets.animation_ui(trace, x, rgb, draw=animation_tab.open)
            if animation_tab.open:
                with st.container(border=True, key="conv_formula"):
                    formula.formula_ui(settings, trace, k, channels)

with receptive_tab, present.step_beside("Convolution", "Receptive field", drawn=receptive_tab.open):
    widgets.receptive_ui(draw=receptive_tab.open)

with features_tab, present.step_beside("Convolution", "Feature maps", drawn=features_tab.open):
    widgets.feature_maps_ui(draw=features_tab.open)
