"""The Train page's saved settings and the widget values that show them, also after a restore or a teacher's push."""
from __future__ import annotations

import streamlit as st

import engine
from engine import data
from engine.training import TrainConfig
from ui.core.session import CHOSEN_SETTING, SessionState

SHOWN = "tr-shown-outside"  # the session's ``outside`` count this page last showed in its widgets
CHOSEN = "tr-dataset-chosen"  # the dataset picked by hand, pushed, or restored as such (a plain key: kept across pages)


# TrainConfig field -> (widget key, smallest, largest value the widget takes); the widgets below use these keys.
_WIDGETS = {"seed": ("tr-seed", 0, 10**6), "momentum": ("tr-momentum", 0.0, 0.99), "alpha": ("tr-alpha", 0.0, 0.9999),
            "batch_size": ("tr-batch", 1, 4096), "epochs": ("tr-epochs", 1, 500), "weight_decay": ("tr-wd", 0.0, 1.0),
            "l1": ("tr-l1", 0.0, 1.0), "clip_norm": ("tr-clip", 0.0, 1e6), "patience": ("tr-patience", 1, 100),
            "shift": ("tr-shift", 0, 4), "rotate": ("tr-rotate", 0.0, 45.0), "erase": ("tr-erase", 0.0, 1.0),
            "mixup": ("tr-mixup", 0.0, 5.0), "bptt": ("tr-bptt", 0, 1000), "noise": ("tr-noise", 0.0, 1.0)}
_CHOICES = {"optimizer": "tr-opt", "loss": "tr-loss", "init": "tr-init", "early_stopping": "tr-early", "flip": "tr-flip"}


def widget_state(config: dict | None) -> dict:
    """The settings widgets' values that show a stored ``TrainConfig`` dict (a reopened workspace, a teacher's push).

    Values outside a widget's range are brought inside it; unknown datasets and bad values are left out, so the
    widget keeps its default.
    """
    try:
        config = TrainConfig.from_dict(config) if config else None
    except (engine.InputError, TypeError, ValueError):
        return {}
    if config is None:
        return {}
    out = {key: getattr(config, name) for name, key in _CHOICES.items()}
    for name, (key, lo, hi) in _WIDGETS.items():
        value = min(max(getattr(config, name), lo), hi)
        out[key] = type(lo)(value)
    out[f"tr-lr-{config.optimizer}"] = float(min(max(config.learning_rate, 1e-6), 1e6))
    out["tr-beta1"], out["tr-beta2"] = (float(b) for b in config.betas)
    if config.dataset in data.names():  # whether it was chosen is not in the config: see ``chosen_state``
        out["tr-dataset"] = config.dataset
        for opt, value in config.dataset_options.items():
            if opt in data.options(config.dataset):
                out[f"tr-ds-{config.dataset}-{opt}"] = value
    return out


def chosen_state(settings: dict, spec) -> dict:
    """``{CHOSEN: dataset}`` when the saved Train settings' dataset was the student's (or a teacher's) choice, else
    ``{}``: a dataset ``data.fit`` picked for the network follows the next network.

    Settings saved before the flag existed: the dataset counts as chosen only if it is not ``data.fit``'s for the
    saved network, since the automatic choice is always that one (a chosen one equal to it is indistinguishable;
    taking it as automatic costs at most a dataset the next network would change anyway).
    """
    try:
        name = TrainConfig.from_dict(settings.get("train")).dataset
    except (engine.InputError, TypeError, ValueError):
        return {}
    if name not in data.names():
        return {}
    chosen = settings.get(CHOSEN_SETTING)
    if chosen is None:
        chosen = name != data.fit(spec)
    return {CHOSEN: name} if chosen is True else {}


def show_outside(s: SessionState) -> None:
    """A restored workspace or a teacher's push since the page last drew: its settings reach the widgets (here only;
    call before any widget)."""
    if st.session_state.get(SHOWN, 0) == s.outside:
        return
    st.session_state[SHOWN] = s.outside
    st.session_state.update(widget_state(s.settings.get("train")))
    st.session_state.pop(CHOSEN, None)
    st.session_state.update(chosen_state(s.settings, s.outside_spec or s.spec))  # judged for the network it came with
