"""A lesson step's Gradients lab settings (``engine.lessons`` names: depth, width, cell, radius...) put into this
page's widgets: the Lessons page leaves them in the session (``LAB_SETUP``), this page applies them on load."""
from __future__ import annotations

import streamlit as st

from ui.core.page import state
from ui.core.session import LAB_SETUP
from ui.core.widgets import restorable
from ui.gradients.depth import DEPTH_DEFAULTS, EPOCH_CHOICES, SOURCES, WIDTHS
from ui.gradients.through_time import HIDDEN, SCALES, WIDGETS

# The time tab's widgets as drawn first: a set-up that leaves a field out gets these, not the last lesson's.
TIME_DEFAULTS = {"time-cell": "RNN (tanh)", "time-task": "adding", "time-linear": False, "time-T": 30,
                 "time-hidden": 32, "time-radius-kind": "ρ", "time-radius": 1.0, "time-clip-on": True,
                 "time-clip": 1.0}


def _nearest(value, choices):
    return min(choices, key=lambda c: abs(c - value))


def depth_values(lab: dict) -> dict:
    """The depth tab's widget values for a set-up's ``depth_lab`` (missing fields: the tab's defaults)."""
    values = {**DEPTH_DEFAULTS, "depth-source": SOURCES[0]}
    names = {"depth": "depth-depth", "activation": "depth-activation", "init": "depth-init",
             "batch_norm": "depth-bn", "residual": "depth-residual", "optimizer": "depth-opt"}
    values |= {key: lab[name] for name, key in names.items() if name in lab}
    if "width" in lab:
        values["depth-width"] = _nearest(lab["width"], WIDTHS)  # the slider's steps
    if "epochs" in lab:
        values["depth-epochs"] = _nearest(lab["epochs"], EPOCH_CHOICES)
    return values


def time_values(lab: dict) -> dict:
    """The time tab's widget values for a set-up's ``time_lab`` (missing fields: the tab's defaults)."""
    values = dict(TIME_DEFAULTS)
    names = {"cell": "time-cell", "task": "time-task", "T": "time-T", "linear": "time-linear"}
    values |= {key: lab[name] for name, key in names.items() if name in lab}
    if "hidden" in lab:
        values["time-hidden"] = _nearest(lab["hidden"], HIDDEN)
    if "radius" in lab:
        values["time-radius"] = float(lab["radius"])
    if "scale" in lab:
        values["time-radius-kind"] = next(k for k, v in SCALES.items() if v == lab["scale"])
    if "clip" in lab:  # 0 turns clipping off; the slider starts at 0.1
        values["time-clip-on"] = lab["clip"] > 0
        values["time-clip"] = float(min(max(lab["clip"], 0.1), 10.0)) if lab["clip"] > 0 else 1.0
    return values


def apply_pending() -> None:
    """Before any widget: a lesson's lab settings left for this page, into its widgets (once); values a widget
    cannot take are left out (``restorable``)."""
    pending = state().extras.pop(LAB_SETUP, None)
    if not isinstance(pending, dict):
        return
    values = {}
    if pending.get("depth_lab"):
        values |= depth_values(pending["depth_lab"])
    if pending.get("time_lab"):
        values |= time_values(pending["time_lab"])
    st.session_state.update(restorable(values, WIDGETS))
