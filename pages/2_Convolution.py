"""Convolution: a kernel sliding over an input step by step, with the numbers; receptive fields; feature maps."""
import streamlit as st

from engine.errors import InputError, SpecError
from ui import conv_ui
from ui.session import keep_alive

st.set_page_config(page_title="Convolution · NN playground", page_icon=":material/grid_on:", layout="wide")
keep_alive()  # a Train run keeps its heartbeat while the student reads this page
st.title("Convolution, step by step")
st.caption("Any kernel, stride, padding and dilation, with every product and sum written out. "
           "The numbers are computed by the engine and match PyTorch's `torch.nn.functional`.")

settings = conv_ui.settings_ui()
animation_tab, receptive_tab, features_tab = st.tabs(["Animation", "Receptive field", "Feature maps"])

with animation_tab:
    input_col, kernel_col = st.columns(2, gap="large")
    x = w = None
    rgb = False
    with input_col:
        try:
            x, notes, rgb = conv_ui.input_ui(settings)
        except InputError as err:
            notes = []
            st.error(str(err))
        for note in notes:
            st.caption(note)
    if x is not None:
        channels = x.shape[0] if x.ndim == settings.dims + 1 else 1
        with kernel_col:
            w, k = conv_ui.kernel_ui(settings, channels)
        try:
            trace = conv_ui.compute(settings, x, w, k)
        except (InputError, SpecError) as err:
            st.error(str(err), icon="⚠️")
        else:
            conv_ui.animation_ui(trace, x, rgb)
            with st.container(border=True, key="conv_formula"):
                conv_ui.formula_ui(settings, trace, k, channels)

with receptive_tab:
    conv_ui.receptive_ui()

with features_tab:
    conv_ui.feature_maps_ui()
