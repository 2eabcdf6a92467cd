"""The Gradients page's time tab: ‖∂L/∂h_t‖ at initialisation and during a live run (the comparison:
``compare.compare_ui``)."""
from __future__ import annotations

import time

import numpy as np
import streamlit as st

from engine.gradients import figures, lab, recurrent_radius
from engine.training import TERMINAL, SavedRun
from ui.core import present
from ui.core.page import state
from ui.core.runs_ui import status_text
from ui.core.session import Run
from ui.gradients.compare import compare_ui, next_turn
from ui.gradients.depth import (ERRORS, PROBE, TASK_NAMES, cached, is_live, live_view, new_run, run_of,
                             scratch, stop_run)
from ui.gradients.settings import HIDDEN, SCALES, TIME, TRAIN_SECONDS, time_config

SNAPSHOT_EVERY = 1.0  # seconds between ‖∂L/∂h_t‖ snapshots of a live run
MAX_SNAPSHOTS = 200
SCALE_NAMES = {"ρ": "spectral radius ρ", "σ_max": "largest singular value σ_max"}


@st.cache_data(show_spinner=False)
def sequence_data(task: str, T: int):
    """The adding problem or copy task with sequences of length T (shared, read-only)."""
    return lab.sequence_task(task, T)


def time_settings_ui() -> dict:
    """Cell, task, T, hidden size, W_hh rescaling, linear regime and clipping; returns the lab's settings
    (``time_config``). Their values come from the table (``settings.seed``)."""
    c1, c2, c3 = st.columns(3)
    values = {"cell": c1.selectbox("Cell", TIME.row("cell").choices, key=TIME.key("cell")),
              "task": c1.selectbox("Task", TIME.row("task").choices, key=TIME.key("task"),
                                   format_func=TASK_NAMES.get),
              "linear": c1.toggle("Linear regime", key=TIME.key("linear"),
                                  help=f"zero the recurrent biases and scale the inputs by {lab.LINEAR_SCALE:g} "
                                       "(float64), so every state stays near 0 where tanh' = 1: the textbook "
                                       "product of W_hhᵀ alone. For the at-initialisation chart only: training "
                                       "always reads the task's real inputs")}
    r = TIME.row("T")
    values["T"] = c2.slider("Sequence length T", r.lo, r.hi, key=r.key)
    values["hidden"] = c2.select_slider("Hidden size", HIDDEN, key=TIME.key("hidden"))
    scale = values["radius_kind"] = c2.radio("Rescale W_hh by", list(SCALES), horizontal=True,
                                             key=TIME.key("radius_kind"),
                                             help="ρ = largest |eigenvalue| (the rate per step in the long run); "
                                                  "σ_max = largest singular value (the most one step can stretch "
                                                  "a vector)")
    r = TIME.row("radius")
    values["radius"] = c3.slider(f"W_hh {SCALE_NAMES[scale]}", r.lo, r.hi, step=0.05, key=r.key,
                                 help="rescales the recurrent weights (each gate's block for LSTM and GRU)")
    clip_on = values["clip_on"] = c3.toggle("Clip gradients", key=TIME.key("clip_on"),
                                            help="off: training shows the raw gradient with nothing to stop it "
                                                 "exploding")
    r = TIME.row("clip")
    values["clip"] = c3.slider("Clipping threshold", r.lo, r.hi, step=0.1, key=r.key, disabled=not clip_on,
                               help="g ← g·threshold/‖g‖ when ‖g‖ ≥ threshold (used by training)")
    return time_config(values)


def time_ui(settings: dict) -> None:
    """‖∂L/∂h_t‖ at initialisation with the radius applied, the formulas, and a short recorded run."""
    base_key = (settings["cell"], settings["task"], settings["T"], settings["hidden"])
    key = base_key + (settings["radius"], settings["scale"], settings["linear"])
    try:
        ds = sequence_data(settings["task"], settings["T"])
        base = cached("time_model", base_key, lambda: lab.time_model(settings["cell"], settings["hidden"], ds))
        model, sigma = cached("time_scaled", key, lambda: lab.with_radius(base, settings["radius"],
                                                                          settings["scale"], settings["linear"]))
        x, y = lab.probe_batch(ds, PROBE, settings["linear"])
        curves = cached("time_norms", key, lambda: lab.time_norms(model, x, y))
        stats = cached("time_stats", key, lambda: lab.time_stats(model, x))
        rho = cached("time_rho", key, lambda: recurrent_radius(model, "spectral"))
        init_rho = cached("time_init_rho", base_key, lambda: recurrent_radius(base, "spectral"))
    except ERRORS as err:
        st.error(f"Could not build or measure this network: {err}")
        return
    symbol = "ρ" if settings["scale"] == "spectral" else "σ_max"
    name = f"{settings['cell']}, {symbol} = {settings['radius']:.2f}"
    shown = {name: curves["h"]} | ({f"{settings['cell']} cell state c_t": curves["c"]}
                                   if curves["c"] is not None else {})
    chart_col, note_col = st.columns([3, 2], gap="large")
    with chart_col:
        st.subheader(r"$\lVert \partial L / \partial h_t \rVert$ through time, at initialisation")
        st.plotly_chart(present.figure(figures.timestep_figure(shown, dashed=tuple(shown)[1:])), key="time-norms-chart")
        if settings["linear"]:
            st.caption(f"Linear regime: recurrent biases 0, inputs × {lab.LINEAR_SCALE:g}, measured in float64; "
                       "every state stays near 0, so tanh' = 1 and each sigmoid gate sits at 1/2.")
    with note_col, st.container(border=True, key="time-readout"):
        _time_note(settings, sigma, rho, init_rho, curves, stats)
    time_train_ui(settings, ds, key + (settings["clip"],))
    compare_ui(settings, ds)


def _time_note(settings: dict, sigma: float, rho: float, init_rho: float, curves: dict, stats: dict) -> None:
    """The formula of this cell's path back in time, with the live numbers and the measured ratio."""
    T, kind = settings["T"], stats["kind"]
    st.markdown(f"Largest singular value of W_hh: **σ_max = {sigma:.3f}** "
                f"(spectral radius ρ = {rho:.2f}; PyTorch's initialisation gave ρ = {init_rho:.2f})")
    st.caption("ρ < 1: the product shrinks in the long run (ρ is its rate per step); σ_max < 1: it shrinks at "
               "every step, a guarantee. σ_max ≥ ρ always.")
    if kind == "RNN":
        st.latex(r"\frac{\partial h_t}{\partial h_k} = \prod_{j=k+1}^{t} W_{hh}^\top\,"
                 r"\operatorname{diag}\big(f'(a_j)\big)")
        st.latex(r"\Big\lVert \frac{\partial h_t}{\partial h_k} \Big\rVert "
                 r"\le \big(\sigma_{\max} \max |f'|\big)^{t-k} \le \sigma_{\max}^{\,t-k}")
        st.markdown(f"|f'| ≤ 1 for tanh and ReLU, so over T − 1 = {T - 1} steps the bound is "
                    f"$\\sigma_{{\\max}}^{{{T - 1}}}$ = **{sigma ** (T - 1):.3g}**: "
                    "below 1 the gradient must vanish; above 1 it can grow.")
        if settings["cell"] == "RNN (ReLU)":
            st.markdown(f"Active units (h > 0, slope 1) on this batch: **{100 * stats['active']:.1f}%**.")
            st.caption("The other units have slope 0 and pass nothing back: the product is W_hhᵀ restricted to "
                       "the active units, whose radius is smaller, so inactive units damp the gradient even "
                       "above ρ = 1.")
        else:
            st.markdown(f"On this batch: mean tanh'(a) = 1 − h² = **{stats['slope']:.3f}**; saturated hidden "
                        f"states (|h| > 0.99, tanh' < 0.02): **{100 * stats['saturated']:.1f}%**.")
            if not settings["linear"]:
                st.caption("Every slope below 1 damps the growth above 1 (saturated units most); the linear "
                           "regime sets them all to 1.")
    elif kind == "LSTM":
        gate = stats["gate"]
        st.latex(r"c_t = f_t \odot c_{t-1} + i_t \odot g_t \;\Rightarrow\; "
                 r"\frac{\partial c_t}{\partial c_{t-1}}\Big|_{\text{cell path}} = \operatorname{diag}(f_t)")
        st.markdown(f"Mean forget gate on this batch: **f̄ = {gate:.3f}**; along the cell path alone "
                    f"$\\bar f^{{{T - 1}}}$ = **{gate ** (T - 1):.3g}**. The cell path does not go through "
                    "W_hh, so the vanilla RNN's σ_max bound does not hold here.")
    else:
        gate = stats["gate"]
        st.latex(r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1} \;\Rightarrow\; "
                 r"\frac{\partial h_t}{\partial h_{t-1}} = \operatorname{diag}(z_t) + \dots")
        st.markdown(f"Mean update gate on this batch: **z̄ = {gate:.3f}**; along the direct path alone "
                    f"$\\bar z^{{{T - 1}}}$ = **{gate ** (T - 1):.3g}**; the other terms go through n_t and "
                    "W_hh. The σ_max bound of the vanilla RNN does not hold here.")
        st.caption("PyTorch's convention; texts that write h_t = (1 − z_t)⊙h_{t−1} + z_t⊙ñ_t have 1 − z there.")
    st.markdown(f"Measured: ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ = **{lab.ratio_text(curves['h'])}**"
                + (f" · ‖∂L/∂c_1‖ / ‖∂L/∂c_T‖ = **{lab.ratio_text(curves['c'])}**" if curves["c"] is not None else ""))
    if gaps := figures.gaps_text(curves["h"]):
        st.caption(f"‖∂L/∂h_t‖: {gaps}.")


# ---------------------------------------------------------------- a live run

def _start_time(settings: dict, ds, seconds: int, key: tuple) -> None:
    """Start button: a background run from the rescaled initialisation, and a private copy to measure it on."""
    try:
        trainer = lab.time_trainer(settings["cell"], settings["hidden"], ds, clip=settings["clip"],
                                   max_seconds=seconds, radius=settings["radius"], kind=settings["scale"])
        probe = lab.probe_batch(ds, PROBE)  # the task's real inputs: training ignores the linear regime
        model = lab.private_copy(trainer)
        first = lab.snapshot_norms(model, trainer.weights(), *probe)
    except ERRORS as err:
        scratch()["time_error"] = f"Could not start training: {err}"
        return
    new_run("time", key, [trainer], model=model, probe=probe, snap_steps=[0], snaps=[first],
            snap_at=time.monotonic(), clip=settings["clip"], baseline=lab.baseline(ds), cell=settings["cell"])
    trainer.start()


def time_train_ui(settings: dict, ds, key: tuple) -> None:
    """A live Adam run with clipping: loss, raw vs clipped gradient norm, and ‖∂L/∂h_t‖ snapshots as it trains."""
    st.subheader("During training")
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    seconds = c1.select_slider("Train for (seconds)", TRAIN_SECONDS, key=TIME.key("seconds"),
                               help="Adam, learning rate 0.003, batches of 64, clipping at the threshold above "
                                    "(or none when clipping is off)")
    run_key = key + (seconds,)
    runs = run_of("time", run_key)  # other settings: the old run stops
    c2.button("Start", key="time-start", type="primary", width="stretch", on_click=_start_time,
              args=(settings, ds, seconds, run_key))
    c3.button("Stop", key="time-stop", width="stretch", disabled=not is_live(runs), on_click=stop_run, args=("time",))
    if error := scratch().pop("time_error", None):
        st.error(error)
    if not runs:
        st.caption("Press Start to train in the background, from the W_hh radius above (on the task's real "
                   "inputs, with its biases, whatever the linear regime): the loss, the gradient norm before and "
                   "after clipping, and a fresh ‖∂L/∂h_t‖ curve about every second.")
        return
    _reattach(runs[0], ds)
    live_view("time", _draw_time)


def _reattach(run: Run, ds) -> None:
    """A run restored from the workspace ended after its last snapshot (its tab was closed): measure its final
    weights once, on the same probe batch (the task's first sequences), so its last curve is drawn too."""
    shared, trainer = run.shared, run.trainer
    steps = shared.get("snap_steps") or []
    if "model" in shared or not isinstance(trainer, SavedRun) or not trainer.has_weights or not steps \
            or steps[-1] == trainer.status.step:
        return
    try:
        shared["model"], shared["probe"] = lab.private_copy(trainer), lab.probe_batch(ds, PROBE)
    except ERRORS:  # the stored network no longer builds: draw what was saved
        shared.pop("model", None)


def _snapshot(runs: list[Run]) -> None:
    """A fresh ‖∂L/∂h_t‖ curve of the run's current weights, measured on the session's private copy."""
    trainer, run = runs[0].trainer, runs[0].shared
    if "model" not in run:  # restored from the workspace: drawn from the snapshots it saved
        return
    step = trainer.status.step
    due = time.monotonic() - run.get("snap_at", 0.0) >= SNAPSHOT_EVERY or trainer.state in TERMINAL
    if due and step != run["snap_steps"][-1] and len(run["snaps"]) < MAX_SNAPSHOTS:
        try:
            curve = lab.snapshot_norms(run["model"], trainer.weights(), *run["probe"])
        except ERRORS:  # a restored run's weights could not be read: it is drawn as it was saved
            run.pop("model", None)
            return
        # New lists, swapped in with one update: the flusher's thread may be copying the context meanwhile.
        run.update(snaps=run["snaps"] + [curve], snap_steps=run["snap_steps"] + [step], snap_at=time.monotonic())
        if trainer.state in TERMINAL:  # the last snapshot comes after the run's final save
            state().book.touch(runs[0])


def _draw_time(runs: list[Run]) -> None:
    trainer, run = runs[0].trainer, runs[0].shared
    _snapshot(runs)
    records = trainer.records()
    loss_steps, loss = lab.loss_series(records)
    clip_steps, raw, clipped = lab.clip_series(records, run["clip"])
    st.caption(status_text(trainer))
    steps, matrix = run["snap_steps"], np.stack(run["snaps"])  # (snapshots, T)
    shown = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), 10)).astype(int))
    left, right = st.columns(2)
    left.plotly_chart(present.figure(figures.snapshots_figure([steps[i] for i in shown], matrix[shown])),
                      key="time-snapshots-chart")
    right.plotly_chart(present.figure(figures.steps_heatmap(steps, matrix)), key="time-heatmap-chart")
    left.plotly_chart(present.figure(figures.clipping_figure(clip_steps, raw, clipped, run["clip"])),
                      key="time-clip-chart")
    right.plotly_chart(present.figure(figures.loss_figure({run["cell"]: (loss_steps, loss)}, run["baseline"])),
                       key="time-loss-chart")
    if loss:
        over = sum(r > c for r, c in zip(raw, clipped))
        clipping = f"Clipped on {over} of {len(raw)} recorded steps" if run["clip"] else "No clipping"
        st.caption(f"{clipping} (one record every {trainer.config.metrics_every} steps); loss {loss[0]:.3f} → "
                   f"{loss[-1]:.3f} (without memory: {run['baseline']:.3f}); {len(steps)} ‖∂L/∂h_t‖ snapshots.")


def background_ui() -> None:
    """The time tab is closed (nothing of it is drawn): its live run still takes its ‖∂L/∂h_t‖ snapshots and its
    comparison still starts each next cell, from fragments that draw nothing."""
    if run_of("time"):
        live_view("time", _snapshot)
    if run_of("compare"):
        live_view("compare", next_turn)
