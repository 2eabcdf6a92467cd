"""The Gradients page's time tab: ‖∂L/∂h_t‖ at initialisation, a live run, and RNN vs LSTM vs GRU measured."""
from __future__ import annotations

import time

import numpy as np
import streamlit as st

from engine import gradient_lab as lab
from engine import gradients_figures as figures
from engine.gradients import timestep_grad_norms
from engine.training import TERMINAL
from engine.unroll import recurrent_radius
from ui.gradients_ui import ERRORS, cached, is_live, live_view, new_run, run_of, scratch, status_text, stop_run

PROBE = 32  # sequences in the fixed batch the ‖∂L/∂h_t‖ curves are measured on
TRAIN_SECONDS = (10, 20, 30, 60, 120)
COMPARE_SECONDS = (15, 30, 60, 90, 120, 180)  # all three cells together
COMPARE_CELLS = ("RNN (tanh)", "LSTM", "GRU")
COMPARE_LR = 1e-2
SNAPSHOT_EVERY = 1.0  # seconds between ‖∂L/∂h_t‖ snapshots of a live run
MAX_SNAPSHOTS = 200
TASK_NAMES = {"adding": "Adding problem", "copy": "Copy task"}


@st.cache_data(show_spinner=False)
def sequence_data(task: str, T: int):
    """The adding problem or copy task with sequences of length T (shared, read-only)."""
    return lab.sequence_task(task, T)


def time_settings_ui() -> dict:
    """Cell, task, T, hidden size, W_hh radius and clipping threshold; returns the settings."""
    c1, c2, c3 = st.columns(3)
    cell = c1.selectbox("Cell", list(lab.CELLS), key="time-cell")
    task = c1.selectbox("Task", lab.TASKS, key="time-task",
                        format_func=TASK_NAMES.get)
    T = c2.slider("Sequence length T", 5, 200, 30, key="time-T")
    hidden = c2.select_slider("Hidden size", [16, 32, 64, 128], 32, key="time-hidden")
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
    time_train_ui(settings, ds, key + (settings["clip"],))
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




# ---------------------------------------------------------------- a live run

def _start_time(settings: dict, ds, seconds: int, key: tuple) -> None:
    """Start button: a background run from the rescaled initialisation, and a private copy to measure it on."""
    try:
        trainer = lab.time_trainer(settings["cell"], settings["hidden"], ds, clip=settings["clip"],
                                   max_seconds=seconds, radius=settings["radius"])
        probe = (ds.x_train[:PROBE], ds.y_train[:PROBE])
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
    seconds = c1.select_slider("Train for (seconds)", TRAIN_SECONDS, 20, key="time-seconds",
                               help="Adam, learning rate 0.003, batches of 64, clipping at the threshold above")
    run_key = key + (seconds,)
    run = run_of("time", run_key)  # other settings: the old run stops
    c2.button("Start", key="time-start", type="primary", width="stretch", on_click=_start_time,
              args=(settings, ds, seconds, run_key))
    c3.button("Stop", key="time-stop", width="stretch", disabled=not is_live(run), on_click=stop_run, args=("time",))
    if error := scratch().pop("time_error", None):
        st.error(error)
    if run is None:
        st.caption("Press Start to train in the background, from the W_hh radius above: the loss, the gradient "
                   "norm before and after clipping, and a fresh ‖∂L/∂h_t‖ curve about every second.")
        return
    live_view("time", _draw_time)


def _snapshot(run: dict) -> None:
    """A fresh ‖∂L/∂h_t‖ curve of the run's current weights, measured on the session's private copy."""
    trainer = run["trainers"][0]
    step = trainer.status.step
    due = time.monotonic() - run["snap_at"] >= SNAPSHOT_EVERY or trainer.state in TERMINAL
    if due and step != run["snap_steps"][-1] and len(run["snaps"]) < MAX_SNAPSHOTS:
        run["snaps"].append(lab.snapshot_norms(run["model"], trainer.weights(), *run["probe"]))
        run["snap_steps"].append(step)
        run["snap_at"] = time.monotonic()


def _draw_time(run: dict) -> None:
    trainer = run["trainers"][0]
    _snapshot(run)
    records = trainer.records()
    loss_steps, loss = lab.loss_series(records)
    clip_steps, raw, clipped = lab.clip_series(records, run["clip"])
    st.caption(status_text(trainer))
    steps, matrix = run["snap_steps"], np.stack(run["snaps"])  # (snapshots, T)
    shown = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), 10)).astype(int))
    left, right = st.columns(2)
    left.plotly_chart(figures.snapshots_figure([steps[i] for i in shown], matrix[shown]), key="time-snapshots-chart")
    right.plotly_chart(figures.steps_heatmap(steps, matrix), key="time-heatmap-chart")
    left.plotly_chart(figures.clipping_figure(clip_steps, raw, clipped, run["clip"]), key="time-clip-chart")
    right.plotly_chart(figures.loss_figure({run["cell"]: (loss_steps, loss)}, run["baseline"]),
                       key="time-loss-chart")
    if loss:
        over = sum(r > c for r, c in zip(raw, clipped))
        st.caption(f"Clipped on {over} of {len(raw)} recorded steps; loss {loss[0]:.3f} → {loss[-1]:.3f} "
                   f"(without memory: {run['baseline']:.3f}); {len(steps)} ‖∂L/∂h_t‖ snapshots.")


# ---------------------------------------------------------------- RNN vs LSTM vs GRU

def _start_compare(settings: dict, ds, seconds: int, key: tuple) -> None:
    """Start button: three runs with the same task, T, hidden size and seed, trained one after another."""
    probe = (ds.x_train[:PROBE], ds.y_train[:PROBE])
    try:
        trainers = [lab.time_trainer(cell, settings["hidden"], ds, clip=1.0, lr=COMPARE_LR,
                                     max_seconds=seconds / len(COMPARE_CELLS)) for cell in COMPARE_CELLS]
        at_init = {cell: timestep_grad_norms(t.model, *probe) for cell, t in zip(COMPARE_CELLS, trainers)}
    except ERRORS as err:
        scratch()["compare_error"] = f"Could not start the comparison: {err}"
        return
    new_run("compare", key, trainers, at_init=at_init, baseline=lab.baseline(ds), T=settings["T"])
    trainers[0].start()


def compare_ui(settings: dict, ds) -> None:
    """Vanilla RNN vs LSTM vs GRU on the same task: curves at initialisation, live losses, a measured verdict."""
    st.subheader("Side by side: RNN vs LSTM vs GRU")
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    seconds = c1.select_slider("Training time, all three together (seconds)", COMPARE_SECONDS, 60,
                               key="time-compare-seconds", help="split equally; the cells train one after another")
    key = (settings["task"], settings["T"], settings["hidden"], seconds)
    run = run_of("compare", key)
    c2.button("Compare", key="time-compare", type="primary", width="stretch", on_click=_start_compare,
              args=(settings, ds, seconds, key))
    c3.button("Stop", key="time-compare-stop", width="stretch", disabled=not is_live(run), on_click=stop_run,
              args=("compare",))
    st.caption(f"Same task, T = {settings['T']}, hidden size {settings['hidden']}, seed 0, PyTorch's "
               f"initialisation; Adam (learning rate {COMPARE_LR:g}), batches of 64, clipping at 1; "
               f"{seconds / len(COMPARE_CELLS):.0f} s of training each, one after another.")
    if error := scratch().pop("compare_error", None):
        st.error(error)
    if run is not None:
        live_view("compare", _draw_compare)


def _draw_compare(run: dict) -> None:
    trainers = dict(zip(COMPARE_CELLS, run["trainers"]))
    _next_turn(run)
    st.caption(" · ".join(f"{cell}: {status_text(t)}" for cell, t in trainers.items()))
    left, right = st.columns(2)
    left.plotly_chart(figures.timestep_figure(run["at_init"]), key="time-compare-chart")
    curves = {cell: lab.loss_series(t.records()) for cell, t in trainers.items()}
    right.plotly_chart(figures.loss_figure(curves, run["baseline"]), key="time-compare-loss-chart")
    if not is_live(run):
        st.markdown(_verdict(run, trainers))


def _next_turn(run: dict) -> None:
    """Sequential runs: when one has ended, start the next (fairer on a few cores than three at once)."""
    for trainer in run["trainers"]:
        if trainer.state == "idle":
            trainer.start()
            return
        if trainer.state not in TERMINAL:
            return


def _verdict(run: dict, trainers: dict) -> str:
    """The measured final losses against the memoryless baseline, and what they say."""
    reference = run["baseline"]
    finals = {cell: lab.final_loss(t.records()) for cell, t in trainers.items()}
    verdicts = {cell: lab.verdict(loss, reference) for cell, loss in finals.items()}
    parts = [f"{cell}: {trainers[cell].status.step} steps, loss **{loss:.3f}** ({verdicts[cell]})"
             if loss is not None else f"{cell}: no steps" for cell, loss in finals.items()]
    text = (f"Measured: " + " · ".join(parts) + f". Without memory the best loss is {reference:.3f}; "
            "\"learned\" means below half of that.")
    learned = [c for c, v in verdicts.items() if v == "learned"]
    failed = [c for c, v in verdicts.items() if v == "did not learn"]
    if learned and failed:
        text += f" At T = {run['T']}, {' and '.join(learned)} learned where {' and '.join(failed)} did not."
    elif len(learned) == len(verdicts):
        text += f" At T = {run['T']} all three learned: try a longer T."
    elif not learned:
        text += f" At T = {run['T']} none learned in this time: try a shorter T or more time."
    return text
