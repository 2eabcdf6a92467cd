"""The depth lab's Glorot and Bengio (2010) figure: every hidden layer's activation histogram side by side, for
sigmoid, tanh and ReLU under the chosen initialisation at initialisation, and the lab run's layers at a chosen step."""
from __future__ import annotations

import numpy as np
import streamlit as st

from engine.diagnostics import figures as dfigs
from engine.gradients import glorot
from ui.core import present
from ui.core.page import state
from ui.gradients.settings import DEPTH, SCHEME_NAMES

DEPTH_LAYERS, WIDTH = 5, 64  # Glorot and Bengio's networks: five hidden layers (of 1,000; 64 keep it quick here)


def _panels(layers: list[dict]) -> dict:
    """``layer_histograms``' list as ``step_figure``'s {layer: {"edges", "counts"}}."""
    return {h["name"]: {"edges": np.asarray(h["edges"]), "counts": np.asarray(h["counts"])} for h in layers}


def _grid() -> dict:
    """The nine networks' histograms at initialisation, once per session (seeded: always the same)."""
    store = state().extras.setdefault("gradients", {})
    if "glorot_grid" not in store:
        store["glorot_grid"] = glorot.glorot_grid(DEPTH_LAYERS, WIDTH)
    return store["glorot_grid"]


def init_ui() -> None:
    """Sigmoid, tanh and ReLU networks at initialisation under the chosen scheme, each layer's histogram."""
    st.subheader("Activations through depth at initialisation (Glorot and Bengio 2010)")
    scheme = st.radio("Initialisation", list(glorot.SCHEMES), key=DEPTH.key("glorot_scheme"), horizontal=True,
                      format_func=SCHEME_NAMES.get, help="the same MLP with each activation, initialised this way")
    grid = _grid()
    for activation in glorot.ACTIVATIONS:
        layers = grid[(activation, scheme)]
        fig = dfigs.step_figure((0, _panels(layers)))
        fig.update_layout(title={"text": f"{activation}, {SCHEME_NAMES[scheme].lower()}: activations per layer, "
                                         "at initialisation"})
        st.plotly_chart(present.figure(fig), key=f"glorot-{activation}")
        notes = [f"{h['name']}: " + (f"{100 * h['saturated']:.0f}% saturated" if h["saturated"] is not None else
                                     f"{100 * h['dead']:.0f}% zero" if h["dead"] is not None else
                                     f"std {h['std']:.2g}") for h in layers]
        st.caption(" · ".join(notes))
    st.caption(f"{DEPTH_LAYERS} hidden layers of {WIDTH} units on one batch of 256 digits. With a small Gaussian "
               "every layer's inputs shrink towards 0: sigmoid sits at 0.5, tanh and ReLU collapse. Xavier keeps "
               "tanh's spread through depth; He keeps ReLU's (half of its outputs are exactly 0).")


def run_ui(records: list[dict]) -> None:
    """The lab run's activation histograms at a chosen recorded step, layer by layer (the slider picks the step)."""
    at_end = glorot.run_histograms(records, 1 << 62)
    if at_end is None:
        st.caption("The run's activation histograms appear here after its first recorded step.")
        return
    first = glorot.run_histograms(records, 0)[0]
    last = at_end[0]
    step = last
    if last > first:
        step = st.slider("Step", first, last, last, key="depth-glorot-step",
                         help="the histograms recorded at the last record at or before this step")
    shown = glorot.run_histograms(records, step)
    fig = dfigs.step_figure(shown)
    st.plotly_chart(present.figure(fig), key="depth-glorot-run")
