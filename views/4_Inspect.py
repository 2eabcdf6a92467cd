"""Inspect: what the current model predicts, its filters, every layer's activations and Captum attributions; an
autoencoder's reconstructions and codes; the loss landscape around the trained weights."""
import streamlit as st

from engine import SpecError, data, inspect
from ui.core import present, sidebar, text
from ui.core.page import keep_alive, state
from ui.inspect import codes, inputs, landscape, sequence, widgets

st.set_page_config(page_title="Inspect · NN playground", page_icon=":material/visibility:", layout="wide")
st.title("Inspect the network")
s = state()
sidebar.sidebar_ui(s)
keep_alive()  # a Train run keeps its heartbeat while the student reads this page
try:
    model = widgets.model_copy(s, s.get_model())  # once per version; nothing below touches the session's own
except SpecError as err:
    st.error(f"The network on the Build page is invalid: {text.message(err)}")
    st.stop()
st.caption(f"Model **{text.plain(s.spec.name or 'custom')}**, version {s.version}. Results are computed on a "
           "private copy "
           "and kept until the model changes.")
if not s.trained:
    st.info("This model is untrained: its weights are random (seed 0), so predictions are near chance and the "
            "filters are noise. Everything below still works; train it on the Train page to see it learn.")

sample = inputs.input_ui(s, model)
if sample is None:
    st.stop()
for note in sample.notes:
    st.sidebar.caption(note)

# An autoencoder has no class to explain: its codes take the Attribution tab's place.
autoencoder = data.autoencodes(s.spec)
names = ["Prediction", "Filters", "Activations", "Codes" if autoencoder else "Attribution"]
recurrent = bool(inspect.recurrent_layers(model))
if recurrent:
    names.append("Sequence")
names.append("Loss landscape")
# Switching tabs reruns the page; only the open tab computes and draws, the closed ones their widgets only, so their
# choices are kept (Streamlit forgets a widget a rerun does not draw). The address keeps the open tab for a reload.
tabs = dict(zip(names, st.tabs(names, key="inspect_tab", on_change="rerun", bind="query-params")))
# In presenter mode the lesson step set up for a tab shows beside that tab's content (the open tab only).
beside = {name: present.step_beside("Inspect", name, drawn=tab.open) for name, tab in tabs.items()}
if tabs["Prediction"].open:
    with tabs["Prediction"], beside["Prediction"]:
        if autoencoder:
            codes.reconstruction_ui(s, model, sample)
        else:
            widgets.prediction_ui(s, model, sample)
with tabs["Filters"], beside["Filters"]:
    widgets.filters_ui(s, model, draw=tabs["Filters"].open)
with tabs["Activations"], beside["Activations"]:
    widgets.activations_ui(s, model, sample, draw=tabs["Activations"].open)
if autoencoder:
    with tabs["Codes"], beside["Codes"]:
        codes.codes_ui(s, model, sample.dataset, draw=tabs["Codes"].open)
else:
    with tabs["Attribution"], beside["Attribution"]:
        if sample.vocab is None:
            widgets.attribution_ui(s, model, sample, draw=tabs["Attribution"].open)
        else:
            st.info("For character models, see per-character attribution in the Sequence tab.")
if recurrent:
    with tabs["Sequence"], beside["Sequence"]:
        sequence.sequence_ui(s, model, sample, draw=tabs["Sequence"].open)
with tabs["Loss landscape"]:
    landscape.landscape_ui(s, model, sample, draw=tabs["Loss landscape"].open)
if not tabs["Loss landscape"].open:
    landscape.leave(s)  # a plane still computing stops when its tab is left
