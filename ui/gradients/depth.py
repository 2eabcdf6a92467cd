"""Widget groups of the Gradients page, shared helpers and the depth tab: at initialisation and a live run."""
from __future__ import annotations

import json
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from engine import InputError, SpecError
from engine.gradients import activation_stats, derivative_bound, figures, lab
from engine.network import DEPTH_LABS, SCHEMES
from engine.training import SavedRun
from ui.core import present, runs_ui
from ui.core.page import state
from ui.core.runs_ui import status_text
from ui.core.session import Run
from ui.core.text import message, plain
from ui.gradients import glorot
from ui.gradients.settings import (CONTRASTS, DEPTH, EPOCH_CHOICES, OPTIMISERS, SCHEME_NAMES, SOURCES, WIDTHS,
                                   depth_config)

ERRORS = (ValueError, RuntimeError, SpecError, InputError)
SESSION_BATCH = 128  # samples the session's model is measured on
PROBE = 32  # sequences in the fixed batch the ‖∂L/∂h_t‖ curves are measured on (time tab and comparison)
TASK_NAMES = {"adding": "Adding problem", "copy": "Copy task"}
def scratch() -> dict:
    """This session's cache for the page, under state().extras["gradients"]."""
    return state().extras.setdefault("gradients", {})


def cached(name: str, key: tuple, compute: Callable):
    """``compute()`` once per settings ``key`` per session (one entry per ``name``)."""
    store = scratch()
    if name not in store or store[name][0] != key:
        store[name] = (key, compute())
    return store[name][1]


# ---------------------------------------------------------------- background runs (in the session's run book)

# What each experiment's shared context must hold to be drawn (a stored one could lack them: an old or edited file).
NEEDS = {"depth": (), "time": ("snap_steps", "snaps", "clip", "baseline", "cell"),
         "compare": ("at_init", "baseline", "T", "row")}


def run_of(name: str, key: tuple | None = None) -> list[Run]:
    """This session's runs of experiment ``name``; runs started for other settings are stopped and dropped, and so
    are restored runs that cannot be drawn."""
    book = state().book
    runs = book.of(name)
    if runs and ((key is not None and runs[0].key != key) or not _drawable(name, runs[0])):
        book.clear(name)
        return []
    return runs


def _drawable(name: str, run: Run) -> bool:
    shared = run.shared
    if not isinstance(run.key, tuple) or any(k not in shared for k in NEEDS.get(name, ())):
        return False
    return name != "time" or (isinstance(shared["snaps"], list) and isinstance(shared["snap_steps"], list)
                              and 0 < len(shared["snaps"]) == len(shared["snap_steps"]))


def new_run(name: str, key: tuple, trainers: list, **shared) -> list[Run]:
    """Replace experiment ``name`` with runs of these (not yet started) trainers, sharing the context ``shared``."""
    book = state().book
    book.clear(name)
    context = dict(shared)  # one dict for the experiment: snapshots and verdicts are written into it as it goes
    return [book.add(name, t, t.spec, t.config, label=f"{name} {i + 1}", key=key, shared=context)
            for i, t in enumerate(trainers)]


def stop_run(name: str) -> None:
    """Stop every run of experiment ``name`` (their threads end); their records stay to be read."""
    for run in state().book.of(name):
        run.trainer.stop()


def is_live(runs: list[Run]) -> bool:
    """Some run of the experiment is running, queued, or still waiting for its turn."""
    return any(run.live for run in runs)


def live_view(name: str, draw: Callable[[list[Run]], None]) -> None:
    """Draw experiment ``name``, redrawn alone while it trains; a full rerun when it ends."""
    runs_ui.live_view(lambda: run_of(name), draw)


@st.cache_resource(show_spinner=False)
def digits_dataset():
    """The digits Dataset the live depth runs train on (shared, read-only)."""
    return lab.data.load("digits", seed=0)


@st.cache_data(show_spinner=False)
def digits_batches():
    """The digits training set and the fixed batch of 128 the at-initialisation views use (shared, read-only)."""
    x, y = lab.depth_batch(n=10_000)
    return x, y, x[:128], y[:128]


# ---------------------------------------------------------------- depth

def _apply_preset() -> None:
    """Copy the chosen depth-lab preset into the depth widgets (width included: the classic networks are 32 wide)."""
    name = st.session_state[DEPTH.key("preset")]
    if name not in DEPTH_LABS:
        return
    kwargs, scheme = DEPTH_LABS[name]
    values = {"init": scheme} | {name: kwargs.get(name, DEPTH.row(name).default)
                                 for name in ("depth", "width", "activation", "batch_norm", "residual")}
    st.session_state.update(DEPTH.widgets(values))


def _edited() -> None:
    """A control was changed by hand: the settings are no longer the preset's."""
    st.session_state[DEPTH.key("preset")] = "Custom"


def depth_settings_ui() -> dict:
    """Network source, preset, depth, width, activation, initialisation, batch norm and shortcuts; the lab's network
    (``depth_config``), or ``{"source": "session"}``. Their values come from the table (``settings.seed``)."""
    source = st.radio("Network", DEPTH.row("source").choices, horizontal=True, key=DEPTH.key("source"),
                      help="the session's model: the Build page's network, measured on a batch of its data")
    if source != SOURCES[0]:
        return dict(source="session")
    st.selectbox("Preset", DEPTH.row("preset").choices, key=DEPTH.key("preset"), on_change=_apply_preset,
                 help="loads a classic setting into the controls below")
    c1, c2, c3 = st.columns(3)
    r = DEPTH.row("depth")
    values = {"depth": c1.slider("Hidden layers", r.lo, r.hi, key=r.key, on_change=_edited),
              "width": c1.select_slider("Units per layer", WIDTHS, key=DEPTH.key("width"), on_change=_edited),
              "activation": c2.selectbox("Activation", DEPTH.row("activation").choices, key=DEPTH.key("activation"),
                                         on_change=_edited),
              "init": c2.selectbox("Initialisation", list(SCHEME_NAMES), key=DEPTH.key("init"), on_change=_edited,
                                   format_func=SCHEME_NAMES.get,
                                   help="  \n".join(f"{SCHEME_NAMES[k]}: {v}" for k, v in SCHEMES.items()))}
    c2.caption(SCHEMES[values["init"]])
    values["batch_norm"] = c3.toggle("Batch norm", key=DEPTH.key("batch_norm"), on_change=_edited)
    values["residual"] = c3.toggle("Residual shortcuts", key=DEPTH.key("residual"), on_change=_edited,
                                   help="h ← h + act(W h) around layers 2..L")
    return depth_config(values)


def _describe(settings: dict) -> str:
    extras = [x for x, on in (("batch norm", settings["batch_norm"]), ("shortcuts", settings["residual"])) if on]
    return (f"{settings['depth']}×{settings['width']} {settings['activation']}, "
            f"{SCHEME_NAMES[settings['scheme']].lower()}" + "".join(f", {x}" for x in extras))


def depth_ui(settings: dict) -> None:
    """At-initialisation norms, activation histograms, the derivative bound, and a short recorded training run."""
    if settings.get("source") == "session":
        session_model_ui()
        return
    key = tuple(settings.values())
    _, _, xb, yb = digits_batches()
    try:
        model = cached("depth_model", key, lambda: lab.depth_model(**settings))
        labels, norms = cached("depth_norms", key, lambda: lab.layer_norms(model, xb, yb))
        stats = cached("depth_stats", key, lambda: activation_stats(model, xb))
    except ERRORS as err:
        st.error(f"Could not build or measure this network: {err}")
        return
    curves = {f"at initialisation ({_describe(settings)})": (labels, norms)}
    runs = run_of("depth")
    trainer = runs[0].trainer if runs else None
    if runs and runs[0].key[:len(key)] == key and not is_live(runs) and trainer.status.step \
            and (not isinstance(trainer, SavedRun) or trainer.has_weights):  # restored without weights: records only
        try:  # the trained weights on the same fixed batch, weights only, like the curve at initialisation
            after = cached("depth_after", (id(trainer), trainer.status.step),
                           lambda: lab.trained_layer_norms(trainer, xb, yb))
            curves[f"after {trainer.status.step} steps (same batch)"] = after
        except ERRORS as err:
            st.error(f"Could not measure the trained network: {err}")
    chart_col, note_col = st.columns([3, 2], gap="large")
    with chart_col:
        st.subheader("Gradient norm per layer")
        st.plotly_chart(present.figure(figures.layer_norms_figure(curves)), key="depth-norms-chart")
    with note_col, st.container(border=True, key="depth-note"):
        _depth_note(settings, norms)
    contrast_ui()
    st.subheader("Activations on one batch")
    hist_col, table_col = present.columns([3, 2], gap="large")  # stacked in presenter mode: the table is wide
    if stats:
        names = lab.activation_names(labels, stats)  # numbered as the norms chart numbers the layers
        hist_col.plotly_chart(present.figure(figures.activations_figure(stats, names)), key="depth-activations-chart")
        table_col.dataframe(_stats_table(stats, names), hide_index=True, key="depth-activations-table")
    glorot.init_ui()
    depth_train_ui(settings, key)


def _depth_note(settings: dict, norms: np.ndarray) -> None:
    """The chain-rule bound and the measured ratio, with this network's numbers."""
    bound = derivative_bound(settings["activation"])
    L = settings["depth"]
    st.markdown("**Why it shrinks.** Backpropagation multiplies one factor per layer:")
    st.latex(r"\frac{\partial L}{\partial h_1} = \frac{\partial L}{\partial h_L}"
             r"\prod_{l=2}^{L} W_l^\top \operatorname{diag}\big(f'(a_l)\big)")
    st.markdown(f"{settings['activation']}'s slope is at most **{bound:g}**"
                + (f", so through {L} layers the activations alone scale the gradient by up to "
                   f"$0.25^{{{L}}}$ = **{0.25 ** L:.2g}**, unless the weights make up for it." if bound < 1 else
                   "; whether gradients shrink depends on the weights: their scale (the initialisation) "
                   "and how many units are active."))
    st.markdown(f"Measured here (float64): first layer / last layer ‖∂L/∂W‖ = **{lab.ratio_text(norms)}**.")
    if gaps := figures.gaps_text(norms):
        st.caption(f"‖∂L/∂W‖: {gaps}.")


def _stats_table(stats: list[dict], names: list[str]) -> pd.DataFrame:
    def pct(v):
        return "" if v is None else f"{100 * v:.1f}"
    return pd.DataFrame({"layer": names, "mean": [round(s["mean"], 3) for s in stats],
                         "std": [round(s["std"], 3) for s in stats],
                         "saturated %": [pct(s["saturated"]) for s in stats],
                         "zero outputs %": [pct(s["dead"]) for s in stats],
                         "dead units %": [pct(s["dead_units"]) for s in stats]})


def contrast_ui() -> None:
    """The classic contrasts in one click: both networks' per-layer norms on one chart."""
    choice = st.segmented_control("Classic contrasts", list(CONTRASTS), key=DEPTH.key("contrast"),
                                  help="two depth-lab networks side by side, at initialisation")
    if not choice:
        return
    _, _, xb, yb = digits_batches()
    curves, lines = {}, []
    try:
        for name in CONTRASTS[choice]:
            kwargs, scheme = DEPTH_LABS[name]
            settings = dict(depth=10, width=32, activation="Sigmoid", batch_norm=False, residual=False) | kwargs
            labels, norms = cached(f"contrast:{name}", (),
                                   lambda: lab.layer_norms(lab.depth_model(**settings, scheme=scheme), xb, yb))
            curves[name] = (labels, norms)
            lines.append(f"{name}: first / last layer = **{lab.ratio_text(norms)}**")
    except ERRORS as err:
        st.error(f"Could not compute the contrast: {err}")
        return
    st.plotly_chart(present.figure(figures.layer_norms_figure(curves)), key="depth-contrast-chart")
    st.markdown(" · ".join(lines))


def _start_depth(settings: dict, optimizer: str, epochs: int, key: tuple) -> None:
    """Start button: a background run of this network (its own copy, from the same seed and initialisation)."""
    try:
        trainer = lab.depth_trainer(**settings, optimizer=optimizer, epochs=epochs, dataset=digits_dataset())
    except ERRORS as err:
        scratch()["depth_error"] = f"Could not start training: {err}"
        return
    new_run("depth", key, [trainer])
    trainer.start()


def depth_train_ui(settings: dict, key: tuple) -> None:
    """A live background run on digits: each Linear layer's gradient norm and the loss, redrawn as it trains."""
    st.subheader("During training")
    c1, c2, c3, c4 = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
    optimizer = c1.selectbox("Optimiser", list(OPTIMISERS), key=DEPTH.key("optimizer"), format_func=OPTIMISERS.get,
                             help=f"learning rates: {', '.join(f'{k} {v:g}' for k, v in lab.DEPTH_LR.items())}")
    epochs = c2.select_slider("Epochs (20 steps each)", EPOCH_CHOICES, key=DEPTH.key("epochs"))
    run_key = key + (optimizer, epochs)
    runs = run_of("depth", run_key)  # other settings: the old run stops
    c3.button("Start", key="depth-start", type="primary", width="stretch", on_click=_start_depth,
              args=(settings, optimizer, epochs, run_key))
    c4.button("Stop", key="depth-stop", width="stretch", disabled=not is_live(runs), on_click=stop_run,
              args=("depth",))
    if error := scratch().pop("depth_error", None):
        st.error(error)
    if not runs:
        st.caption("Press Start to train this network in the background and watch each layer's gradient norm "
                   "as it learns. Changing a setting above stops the run.")
        return
    live_view("depth", _draw_depth)


def _draw_depth(runs: list[Run]) -> None:
    trainer = runs[0].trainer
    records = trainer.records()
    steps, labels, matrix = lab.layer_series(records)
    loss_steps, loss = lab.loss_series(records)
    st.caption(status_text(trainer))
    left, right = st.columns(2)
    left.plotly_chart(present.figure(figures.layers_over_steps_figure(steps, labels, matrix)), key="depth-steps-chart")
    right.plotly_chart(present.figure(figures.loss_figure({"training loss": (loss_steps, loss)})),
                       key="depth-loss-chart")
    if loss:
        st.caption(f"Loss {loss[0]:.3f} → {loss[-1]:.3f} (chance: ln 10 ≈ 2.303); first / last layer gradient "
                   f"norm now {lab.ratio_text(matrix[-1])}. Recorded by the training loop on each step's "
                   "mini-batch, weight and bias together (float32); the chart above measures weights only.")
    glorot.run_ui(records)


# ---------------------------------------------------------------- the session's model

@st.cache_resource(max_entries=4, show_spinner=False)  # read-only datasets, shared safely; never a model
def _dataset(name: str, seed: int = 0, options: str = "{}"):
    return lab.data.load(name, seed=seed, **json.loads(options))


def session_model_ui() -> None:
    """The Build page's network: every weight's gradient norm and the activations on a batch of its data."""
    s = state()
    trained_on = s.dataset if s.trained and s.dataset else None
    name = (trained_on or {}).get("name") or s.extras.get("train", {}).get("dataset_name") \
        or lab.data.fit(s.spec)
    key = (s.version, name)
    try:
        ds = _dataset(name, *((trained_on["seed"], json.dumps(trained_on.get("options", {}), sort_keys=True))
                              if trained_on else ()))
        model, notes = cached("session_model", key, lambda: lab.fitted_model(
            s.spec, s.get_model(), ds, trained_on and trained_on["name"]))
        x, y = ds.x_train[:SESSION_BATCH], ds.y_train[:SESSION_BATCH]
        labels, norms = cached("session_norms", key, lambda: lab.weight_norms(model, x, y))
        stats = cached("session_stats", key, lambda: activation_stats(model, x))
    except ERRORS as err:
        st.error(f"Could not measure the session's model on {plain(name)}: {message(err)}. Pick another network "
                 "on the Build page "
                 "or another dataset on the Train page, or use the depth-lab MLP.")
        return
    weights = "its trained weights" if trained_on else "seed 0, untrained"
    st.caption(f"**{plain(s.spec.name)}** ({weights}) on {len(x)} samples of **{plain(name)}**; every weight, "
               "input to output"
               + (f". Fitted to the data as the Train page would: {'; '.join(notes)}." if notes else "."))
    chart_col, note_col = st.columns([3, 2], gap="large")
    # numbered by weight: a BatchNorm γ or an RNN's second matrix is no layer of its own
    chart_col.plotly_chart(present.figure(figures.layer_norms_figure({s.spec.name: (labels, norms)}, word="weight")),
                           key="depth-session-chart")
    with note_col, st.container(border=True, key="depth-session-note"):
        st.markdown(f"Measured here (float64): first weight / last weight ‖∂L/∂W‖ = **{lab.ratio_text(norms)}**.")
        if gaps := figures.gaps_text(norms):
            st.caption(f"‖∂L/∂W‖: {gaps}.")
        st.caption("Train it on the Train page, then come back: the chart follows the session's current weights.")
    if stats:
        hist_col, table_col = present.columns([3, 2], gap="large")
        names = lab.activation_names(labels, stats, word="weight")
        hist_col.plotly_chart(present.figure(figures.activations_figure(stats, names)),
                              key="depth-session-activations-chart")
        table_col.dataframe(_stats_table(stats, names), hide_index=True, key="depth-session-activations-table")
