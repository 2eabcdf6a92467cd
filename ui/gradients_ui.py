"""Widget groups of the Gradients page: depth settings and charts, time settings and charts, short training runs."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from engine import gradient_lab as lab
from engine import gradients_figures as figures
from engine.errors import InputError, SpecError
from engine.gradients import activation_stats, derivative_bound, timestep_grad_norms
from engine.init import DEPTH_LABS, SCHEMES
from engine.unroll import recurrent_radius
from ui.session import state

ERRORS = (ValueError, RuntimeError, SpecError, InputError)
ACTIVATIONS = ("Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU")
SCHEME_NAMES = {"normal-0.01": "Small Gaussian (std 0.01)", "xavier": "Xavier", "he": "He",
                "default": "PyTorch default"}
CONTRASTS = {"Sigmoid + small init vs ReLU + He": ("10-layer sigmoid, small init", "10-layer ReLU, He init"),
             "Plain 20-layer vs residual 20-layer": ("plain 20-layer", "residual 20-layer")}
STEP_CHOICES = (10, 20, 50, 100, 200)
MAX_SECONDS = 3.0
COMPARE_SECONDS = 2.5  # per cell in the side-by-side run
COMPARE_STEPS = 100
PROBE = 32  # sequences in the fixed batch the ‖∂L/∂h_t‖ curves are measured on


def scratch() -> dict:
    """This session's cache for the page, under state().extras["gradients"]."""
    return state().extras.setdefault("gradients", {})


def cached(name: str, key: tuple, compute: Callable):
    """``compute()`` once per settings ``key`` per session (one entry per ``name``)."""
    store = scratch()
    if name not in store or store[name][0] != key:
        store[name] = (key, compute())
    return store[name][1]


def stored(name: str, key: tuple):
    """A result kept by ``keep`` for these settings, else None."""
    entry = scratch().get(name)
    return entry[1] if entry and entry[0] == key else None


def keep(name: str, key: tuple, value) -> None:
    """Keep a training result for these settings (it is dropped when they change)."""
    scratch()[name] = (key, value)


@st.cache_data(show_spinner=False)
def digits_batches():
    """The digits training set and the fixed batch of 128 the at-initialisation views use (shared, read-only)."""
    x, y = lab.depth_batch(n=10_000)
    return x, y, x[:128], y[:128]


@st.cache_data(show_spinner=False)
def sequence_data(task: str, T: int):
    """The adding problem or copy task with sequences of length T (shared, read-only)."""
    return lab.sequence_task(task, T)


# ---------------------------------------------------------------- depth

def _apply_preset() -> None:
    """Copy the chosen depth-lab preset into the depth widgets."""
    name = st.session_state["depth-preset"]
    if name not in DEPTH_LABS:
        return
    kwargs, scheme = DEPTH_LABS[name]
    st.session_state["depth-depth"] = kwargs.get("depth", 10)
    st.session_state["depth-activation"] = kwargs.get("activation", "Sigmoid")
    st.session_state["depth-bn"] = kwargs.get("batch_norm", False)
    st.session_state["depth-residual"] = kwargs.get("residual", False)
    st.session_state["depth-init"] = scheme


def depth_settings_ui() -> dict:
    """Preset, depth, width, activation, initialisation, batch norm and shortcuts; returns the settings."""
    st.selectbox("Preset", ["Custom", *DEPTH_LABS], key="depth-preset", on_change=_apply_preset,
                 help="loads a classic setting into the controls below")
    c1, c2, c3 = st.columns(3)
    depth = c1.slider("Hidden layers", 1, 50, 10, key="depth-depth")
    width = c1.select_slider("Units per layer", [8, 16, 32, 64, 128], 32, key="depth-width")
    activation = c2.selectbox("Activation", ACTIVATIONS, key="depth-activation")
    scheme = c2.selectbox("Initialisation", list(SCHEME_NAMES), index=0, key="depth-init",
                          format_func=SCHEME_NAMES.get, help=SCHEMES["normal-0.01"])
    batch_norm = c3.toggle("Batch norm", key="depth-bn")
    residual = c3.toggle("Residual shortcuts", key="depth-residual", help="h ← h + act(W h) around layers 2..L")
    return dict(depth=depth, width=width, activation=activation, scheme=scheme, batch_norm=batch_norm,
                residual=residual)


def _describe(settings: dict) -> str:
    extras = [x for x, on in (("batch norm", settings["batch_norm"]), ("shortcuts", settings["residual"])) if on]
    return (f"{settings['depth']}×{settings['width']} {settings['activation']}, "
            f"{SCHEME_NAMES[settings['scheme']].lower()}" + "".join(f", {x}" for x in extras))


def depth_ui(settings: dict) -> None:
    """At-initialisation norms, activation histograms, the derivative bound, and a short recorded training run."""
    key = tuple(settings.values())
    _, _, xb, yb = digits_batches()
    try:
        model = cached("depth_model", key, lambda: lab.depth_model(**settings))
        labels, norms = cached("depth_norms", key, lambda: lab.layer_norms(model, xb, yb))
        stats = cached("depth_stats", key, lambda: activation_stats(model, xb))
    except ERRORS as err:
        st.error(f"Could not build or measure this network: {err}")
        return
    run = stored("depth_run", key)
    curves = {f"at initialisation ({_describe(settings)})": (labels, norms)}
    if run is not None:
        curves[f"after {run.loss_steps[-1]} steps"] = (run.labels, run.matrix[-1])
    chart_col, note_col = st.columns([3, 2], gap="large")
    with chart_col:
        st.subheader("Gradient norm per layer")
        st.plotly_chart(figures.layer_norms_figure(curves), key="depth-norms-chart")
    with note_col, st.container(border=True, key="depth-note"):
        _depth_note(settings, norms)
    contrast_ui()
    st.subheader("Activations on one batch")
    hist_col, table_col = st.columns([3, 2], gap="large")
    if stats:
        hist_col.plotly_chart(figures.activations_figure(stats), key="depth-activations-chart")
        table_col.dataframe(_stats_table(stats), hide_index=True, key="depth-activations-table")
    depth_train_ui(settings, key)


def _depth_note(settings: dict, norms: np.ndarray) -> None:
    """The chain-rule bound and the measured ratio, with this network's numbers."""
    bound = derivative_bound(settings["activation"])
    L = settings["depth"]
    r = lab.ratio(norms)
    st.markdown("**Why it shrinks.** Backpropagation multiplies one factor per layer:")
    st.latex(r"\frac{\partial L}{\partial h_1} = \frac{\partial L}{\partial h_L}"
             r"\prod_{l=2}^{L} W_l^\top \operatorname{diag}\big(f'(a_l)\big)")
    st.markdown(f"{settings['activation']}'s slope is at most **{bound:g}**"
                + (f", so through {L} layers the activations alone scale the gradient by up to "
                   f"$0.25^{{{L}}}$ = **{0.25 ** L:.2g}**, unless the weights make up for it." if bound < 1 else
                   "; whether gradients shrink depends on the weights: their scale (the initialisation) "
                   "and how many units are active."))
    st.markdown(f"Measured here: first layer / last layer ‖∂L/∂W‖ = **{r:.2g}**.")


def _stats_table(stats: list[dict]) -> pd.DataFrame:
    def pct(v):
        return "" if v is None else f"{100 * v:.1f}"
    return pd.DataFrame({"layer": [s["name"] for s in stats], "mean": [round(s["mean"], 3) for s in stats],
                         "std": [round(s["std"], 3) for s in stats],
                         "saturated %": [pct(s["saturated"]) for s in stats],
                         "zero (dead) %": [pct(s["dead"]) for s in stats]})


def contrast_ui() -> None:
    """The classic contrasts in one click: both networks' per-layer norms on one chart."""
    choice = st.segmented_control("Classic contrasts", list(CONTRASTS), key="depth-contrast",
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
            lines.append(f"{name}: first / last layer = **{lab.ratio(norms):.2g}**")
    except ERRORS as err:
        st.error(f"Could not compute the contrast: {err}")
        return
    st.plotly_chart(figures.layer_norms_figure(curves), key="depth-contrast-chart")
    st.markdown(" · ".join(lines))


def _train_depth(settings: dict, key: tuple) -> None:
    """Button callback: runs before the script, so the norms chart above already shows the trained curve."""
    steps = st.session_state["depth-steps"]
    x, y, _, _ = digits_batches()
    try:
        model = lab.depth_model(**settings)  # a fresh copy: the at-init view stays as it was
        keep("depth_run", key, lab.train_depth(model, x, y, steps=steps, every=max(1, steps // 20),
                                               max_seconds=MAX_SECONDS))
    except ERRORS as err:
        scratch()["depth_error"] = f"Training failed: {err}"


def depth_train_ui(settings: dict, key: tuple) -> None:
    """A short SGD run recording each layer's gradient norm; curves over steps, coloured by layer."""
    st.subheader("During training")
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    steps = c1.select_slider("Steps", STEP_CHOICES, 100, key="depth-steps")
    c2.button(f"Train {steps} steps (SGD, at most {MAX_SECONDS:.0f} s)", key="depth-train",
              on_click=_train_depth, args=(settings, key))
    if error := scratch().pop("depth_error", None):
        st.error(error)
    run = stored("depth_run", key)
    if run is None:
        st.caption("Press Train to watch each layer's gradient norm as the network learns.")
        return
    left, right = st.columns(2)
    left.plotly_chart(figures.layers_over_steps_figure(run.steps, run.labels, run.matrix), key="depth-steps-chart")
    right.plotly_chart(figures.loss_figure({"loss": (run.loss_steps, run.loss)}), key="depth-loss-chart")
    st.caption(f"{len(run.loss)} steps in {run.seconds:.1f} s" + (" (stopped at the time cap)" if run.stopped_early
                                                                   else "") +
               f"; loss {run.loss[0]:.3f} → {run.loss[-1]:.3f} (chance: ln 10 ≈ 2.303).")


# ---------------------------------------------------------------- time

def time_settings_ui() -> dict:
    """Cell, task, T, hidden size, W_hh radius and clipping threshold; returns the settings."""
    c1, c2, c3 = st.columns(3)
    cell = c1.selectbox("Cell", list(lab.CELLS), key="time-cell")
    task = c1.selectbox("Task", lab.TASKS, key="time-task",
                        format_func={"adding": "Adding problem", "copy": "Copy task"}.get)
    T = c2.slider("Sequence length T", 5, 200, 50, key="time-T")
    hidden = c2.select_slider("Hidden size", [16, 32, 64, 128], 64, key="time-hidden")
    radius = c3.slider("W_hh spectral radius ρ", 0.1, 2.0, 1.0, 0.05, key="time-radius",
                       help="rescales the recurrent weights (each gate's block for LSTM and GRU)")
    clip = c3.slider("Clipping threshold", 0.1, 10.0, 1.0, 0.1, key="time-clip",
                     help="g ← g·threshold/‖g‖ when ‖g‖ ≥ threshold (used by training)")
    return dict(cell=cell, task=task, T=T, hidden=hidden, radius=radius, clip=clip)


def time_ui(settings: dict) -> None:
    """‖∂L/∂h_t‖ at initialisation with the radius applied, the formulas, and a short recorded run."""
    base_key = (settings["cell"], settings["task"], settings["T"], settings["hidden"])
    key = base_key + (settings["radius"],)
    try:
        ds = sequence_data(settings["task"], settings["T"])
        base = cached("time_model", base_key, lambda: lab.time_model(settings["cell"], settings["hidden"], ds))
        model, sigma = cached("time_scaled", key, lambda: lab.with_radius(base, settings["radius"]))
        norms = cached("time_norms", key, lambda: timestep_grad_norms(model, ds.x_train[:PROBE],
                                                                          ds.y_train[:PROBE]))
        init_rho = cached("time_init_rho", base_key, lambda: recurrent_radius(base, "spectral"))
    except ERRORS as err:
        st.error(f"Could not build or measure this network: {err}")
        return
    chart_col, note_col = st.columns([3, 2], gap="large")
    with chart_col:
        st.subheader(r"$\lVert \partial L / \partial h_t \rVert$ through time")
        st.plotly_chart(figures.timestep_figure({f"{settings['cell']}, ρ = {settings['radius']:.2f}": norms}),
                        key="time-norms-chart")
    with note_col, st.container(border=True, key="time-readout"):
        _time_note(settings, sigma, init_rho, norms)
    time_train_ui(settings, model, ds, key + (settings["clip"],))
    compare_ui(settings, ds)


def _time_note(settings: dict, sigma: float, init_rho: float, norms: np.ndarray) -> None:
    """The product of Jacobians and the live numbers: σ_max, its power over T steps, the measured ratio."""
    T = settings["T"]
    st.markdown(f"Largest singular value of W_hh: **σ_max = {sigma:.3f}** "
                f"(spectral radius ρ = {settings['radius']:.2f}; PyTorch's initialisation gave ρ = {init_rho:.2f})")
    st.latex(r"\frac{\partial h_t}{\partial h_k} = \prod_{j=k+1}^{t} W_{hh}^\top\,"
             r"\operatorname{diag}\big(\tanh'(a_j)\big)")
    st.latex(r"\Big\lVert \frac{\partial h_t}{\partial h_k} \Big\rVert "
             r"\le \big(\sigma_{\max} \max \tanh'\big)^{t-k} \le \sigma_{\max}^{\,t-k}")
    st.markdown(f"tanh' ≤ 1, so over T − 1 = {T - 1} steps the bound is "
                f"$\\sigma_{{\\max}}^{{{T - 1}}}$ = **{sigma ** (T - 1):.3g}**: "
                "below 1 the gradient must vanish; above 1 it can explode (saturated units damp it).")
    st.markdown(f"Measured: ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ = **{lab.ratio(norms):.3g}**")
    kind = lab.CELLS[settings["cell"]][0]
    if kind == "LSTM":
        st.caption("LSTM: the cell c_t = f⊙c_{t−1} + i⊙g passes the gradient back scaled only by the forget "
                   "gate f, not by W_hh; the radius rescales every gate's block of W_hh.")
    elif kind == "GRU":
        st.caption("GRU: h_t = (1 − z)⊙n + z⊙h_{t−1}; where the update gate z is near 1 the gradient passes "
                   "straight through. The radius rescales every gate's block of W_hh.")
    elif settings["cell"] == "RNN (ReLU)":
        st.caption("ReLU's slope is 0 or 1, so the product is W_hhᵀ restricted to the active units: "
                   "above ρ = 1 nothing damps it.")


def time_train_ui(settings: dict, model, ds, key: tuple) -> None:
    """A short Adam run with clipping: curves per snapshot, a steps × t heatmap, raw vs clipped norm, loss."""
    st.subheader("During training")
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    steps = c1.select_slider("Steps", STEP_CHOICES, 50, key="time-steps")
    if c2.button(f"Train {steps} steps (Adam, clipping at {settings['clip']:g}, at most {MAX_SECONDS:.0f} s)",
                 key="time-train"):
        try:
            trainee, _ = lab.with_radius(model, None)  # a copy: the at-init view stays as it was
            with st.spinner("Training..."):
                keep("time_run", key, lab.train_time(trainee, ds, steps=steps, every=max(1, steps // 10),
                                                     clip=settings["clip"], max_seconds=MAX_SECONDS, probe=PROBE))
        except ERRORS as err:
            st.error(f"Training failed: {err}")
    run = stored("time_run", key)
    if run is None:
        st.caption("Press Train to record ‖∂L/∂h_t‖ every few steps, and the gradient norm before and after "
                   "clipping.")
        return
    left, right = st.columns(2)
    left.plotly_chart(figures.snapshots_figure(run.steps, run.matrix), key="time-snapshots-chart")
    right.plotly_chart(figures.steps_heatmap(run.steps, run.matrix), key="time-heatmap-chart")
    left.plotly_chart(figures.clipping_figure(run.loss_steps, run.raw_norm, run.clipped_norm, settings["clip"]),
                      key="time-clip-chart")
    baseline = lab.ADDING_BASELINE if settings["task"] == "adding" else None
    right.plotly_chart(figures.loss_figure({settings["cell"]: (run.loss_steps, run.loss)}, baseline),
                       key="time-loss-chart")
    clipped = sum(r > c for r, c in zip(run.raw_norm, run.clipped_norm))
    st.caption(f"{len(run.loss)} steps in {run.seconds:.1f} s" + (" (stopped at the time cap)" if run.stopped_early
                                                                   else "") +
               f"; clipped on {clipped} of {len(run.loss)} steps; loss {run.loss[0]:.3f} → {run.loss[-1]:.3f}.")


def compare_ui(settings: dict, ds) -> None:
    """Vanilla RNN vs LSTM vs GRU on the same task, T and seed: curves at initialisation, then a short run each."""
    st.subheader("Side by side: RNN vs LSTM vs GRU")
    cells = ("RNN (tanh)", "LSTM", "GRU")
    hidden = 32
    key = (settings["task"], settings["T"], settings["clip"])
    st.caption(f"Same task, T = {settings['T']}, hidden size {hidden}, seed 0, PyTorch's initialisation; then up to "
               f"{COMPARE_STEPS} Adam steps each (at most {COMPARE_SECONDS:g} s per cell).")
    if st.button("Compare the three cells", key="time-compare"):
        try:
            with st.spinner("Measuring and training three cells..."):
                result = {}
                for cell in cells:
                    model = lab.time_model(cell, hidden, ds)
                    norms = timestep_grad_norms(model, ds.x_train[:PROBE], ds.y_train[:PROBE])
                    run = lab.train_time(model, ds, steps=COMPARE_STEPS, clip=settings["clip"],
                                         max_seconds=COMPARE_SECONDS, record_curves=False)
                    result[cell] = (norms, run)
                keep("compare", key, result)
        except ERRORS as err:
            st.error(f"The comparison failed: {err}")
    result = stored("compare", key)
    if result is None:
        return
    left, right = st.columns(2)
    left.plotly_chart(figures.timestep_figure({c: n for c, (n, _) in result.items()}), key="time-compare-chart")
    baseline = lab.ADDING_BASELINE if settings["task"] == "adding" else None
    right.plotly_chart(figures.loss_figure({c: (r.loss_steps, r.loss) for c, (_, r) in result.items()}, baseline),
                       key="time-compare-loss-chart")
    parts = [f"{c}: {len(r.loss)} steps, loss {np.mean(r.loss[-10:]):.3f} (mean of the last 10)"
             for c, (_, r) in result.items()]
    st.markdown("Measured: " + " · ".join(parts) + (f". Always answering 1 scores {lab.ADDING_BASELINE}."
                                                   if baseline else f". Chance is ln {len(ds.classes)} = "
                                                   f"{np.log(len(ds.classes)):.3f}."))
