"""Inspect's Loss landscape tab: the loss along the line from the run's initial weights to the trained ones, and on a
plane around the trained weights (contour and 3-D surface), each computed in a background thread with a progress bar.

Each thread works on its own copy of the model and never calls Streamlit; it stops itself when the page stops
looking (no heartbeat for ``STALE`` seconds: another page, a closed tab), when the tab is left, or on Cancel.
"""
from __future__ import annotations

import copy
import logging
import threading
import time

import numpy as np
import streamlit as st

from engine import InputError, data, diagnostics, limits, training
from engine.diagnostics import figures as dfigs
from engine.training import resolve_loss
from ui.core import present
from ui.core.text import message
from ui.inspect.widgets import Sample, page_state

_log = logging.getLogger(__name__)
STALE = 10.0  # seconds without a look from the page after which a computation's thread stops itself
LINE_CHUNK = 8  # line points per engine call: the progress bar moves and Cancel is heard between them
POLL = 0.5  # seconds between the progress bar's redraws
SEED = 0  # the evaluation batch's and the random directions' seed: the same picture on every visit
LINE_POINTS = 41  # α from −0.5 to 1.5 in steps of 0.05
RANDOM, PRINCIPAL = "random (filter-normalised)", "principal directions of training"


def _jobs(s) -> dict:
    """This session's computations, by name ("line", "plane"): each a dict its thread fills in."""
    return s.extras.setdefault("inspect_landscape", {})


def leave(s) -> None:
    """The tab is closed: a line or plane still being computed stops (its thread ends at its next check)."""
    for job in _jobs(s).values():
        if not job["done"]:
            job["stop"].set()


def _batch(ds, split: str, samples: int):
    """A fixed, seeded evaluation batch of ``samples`` from one split (``(x, y)``, the dataset's tensors)."""
    x, y = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
    rng = np.random.default_rng(SEED)
    picked = np.sort(rng.choice(len(x), size=min(samples, len(x)), replace=False)).tolist()
    return x[picked], y[picked]


def _same_weights(model, other) -> bool:
    """Whether two networks hold the same weights, bit for bit (the run's final ones are the model's)."""
    mine, theirs = model.state_dict(), other.state_dict()
    return set(mine) == set(theirs) and all(
        np.array_equal(mine[k].detach().cpu().numpy(), theirs[k].detach().cpu().numpy()) for k in mine)


def _origin(s, model) -> tuple:
    """The run that trained the model, the weights it started from, why the line cannot be drawn (or None), its
    trajectory on its principal plane and why there is none (or None)."""
    run = s.book.get(s.adopted[-1]) if s.adopted else None
    if run is None:
        return None, None, ("The loss line needs the weights this model started from, and they are unknown: its "
                            "weights were not trained by a run of this workspace (uploaded weights?). Train it on "
                            "the Train page and use that run's network to draw the line."), None, (
            "its weights were not trained by a run of this workspace, so it has no trajectory")
    try:
        same = _same_weights(model, run.trainer.model)
        initial = run.trainer.initial_state()
    except InputError:  # the run's weights were not kept
        same, initial = False, None
    if not same:
        return run, None, (f"The loss line needs the weights this model started from, and they are unknown: its "
                           f"weights are no longer those run #{run.number} trained (uploaded weights?). Train it "
                           "again on the Train page to draw the line."), None, (
            f"its weights are no longer those run #{run.number} trained, so that run's trajectory does not lead here")
    try:
        path, path_why = run.trainer.trajectory(), None
    except InputError as err:
        path, path_why = None, f"run #{run.number} {message(err).removeprefix('the run ')}"
    if initial is None:
        return run, None, (f"The loss line needs the weights run #{run.number} started from, and that run did not "
                           "keep them (it was trained before runs kept them). Train it again on the Train page to "
                           "draw the line; the plane below needs only the trained weights."), path, path_why
    return run, initial, None, path, path_why


def _dataset(run, sample: Sample):
    """The data the model's run trained on (a typed text has none of its own), else the input picker's dataset."""
    if run is not None:
        try:
            return run.trainer.dataset
        except InputError:  # a stored run's data that no longer loads: the picker's may still fit
            pass
    return sample.dataset


def _loss(run, ds) -> str:
    return resolve_loss(run.config.loss if run is not None else "auto", ds.task)


def landscape_ui(s, model, sample: Sample, draw: bool = True) -> None:
    """The tab: the line and the plane's settings (the widgets only unless ``draw``), then their charts."""
    st.caption("How the loss changes as the weights move away from the trained ones: along the straight line from "
               "the initial weights θ₀ to the trained θ₁, θ(α) = (1 − α)·θ₀ + α·θ₁ (Goodfellow, Vinyals and Saxe "
               "2015), and on a plane through θ₁ spanned by two random directions, each filter scaled to the norm "
               "of the matching weight filter, or by the first two principal directions of the weights' path "
               "during training, with that path drawn on it (Li et al. 2018).")
    origin = None
    if draw and s.trained:
        results = page_state(s)["results"]  # dropped when the model changes
        key = ("landscape-origin", tuple(s.adopted))
        if key not in results:  # compares every weight and reads the stored file: once per model
            results[key] = _origin(s, model)
        origin = results[key]
    cols = st.columns(4)
    samples = cols[0].number_input("Evaluation samples", 16, 4096, 512, 16, key="inspect_ls_samples",
                                   help="a fixed, seeded batch of the training data (and of the test data for "
                                        "the line); more samples give a smoother surface and take longer")
    steps = cols[1].number_input("Grid steps per axis", 2, 101, 21, 1, key="inspect_ls_steps",
                                 help=f"the plane is steps × steps points, each a pass over the evaluation batch; "
                                      f"at most {limits.MAX_LANDSCAPE_POINTS:,} points on this server")
    span = cols[2].number_input("Span ±", 0.05, 10.0, 1.0, 0.05, key="inspect_ls_span",
                                help="how far the grid reaches along each direction (1: as far as the weights' "
                                     "own norm, filter by filter)")
    path, path_why = (origin[3], origin[4]) if origin is not None else (None, None)
    principal = _directions_ui(cols[3], draw and path is None)
    if not draw:
        return
    if not s.trained:
        st.info("This model is untrained: there are no trained weights to look around, and no run whose start "
                "the line could begin from. Train it on the Train page first.")
        return
    run, initial, why = origin[:3]
    if path is None:
        st.caption(f"Principal directions of training are not offered: {path_why}.")
    ds = _dataset(run, sample)
    if ds is None:
        st.info("The landscape is measured on the data the model learns from: choose a dataset sample in the "
                "sidebar's input picker.")
        return
    if data.autoencodes(s.spec) and ds.task != "reconstruction":
        ds = data.reconstruction(ds)  # as its run trained it: each image its own target
    try:
        loss = _loss(run, ds)
    except InputError as err:
        st.error(f"The loss cannot be measured on this data: {message(err)}")
        return
    st.subheader("Line from the initial to the trained weights")
    if why is not None:
        st.info(why)
    else:
        _line_ui(s, model, ds, initial, loss, int(samples))
    st.subheader("Plane around the trained weights")
    _plane_ui(s, model, ds, loss, int(samples), int(steps), float(span), path if principal else None)


def _directions_ui(where, disabled: bool) -> bool:
    """The plane's directions (random unless the run kept a trajectory); whether the principal ones are chosen."""
    if disabled:  # nothing to choose: shown as random (the reason is shown under the settings)
        st.session_state["inspect_ls_directions"] = RANDOM
    choice = where.radio("Directions", (RANDOM, PRINCIPAL), key="inspect_ls_directions", disabled=disabled,
                         help="random: two Gaussian directions, each filter scaled to the norm of the matching "
                              "weight filter (biases and batch norm stay put); principal: the two directions along "
                              f"which the weights moved most during training (PCA of up to "
                              f"{training.MOST_SNAPSHOTS} snapshots the run kept), with its path drawn on the plane")
    return choice == PRINCIPAL


def _start(s, name: str, key: tuple, compute) -> None:
    """A thread running ``compute(progress, cancel)`` (never st.*); the page reads its progress and result."""
    old = _jobs(s).get(name)
    if old is not None and not old["done"]:
        old["stop"].set()
    job = {"key": key, "progress": 0.0, "result": None, "error": None, "done": False, "stop": threading.Event(),
           "beat": time.monotonic()}

    def cancel() -> bool:
        return job["stop"].is_set() or time.monotonic() - job["beat"] > STALE

    def work() -> None:
        try:
            job["result"] = compute(lambda share: job.__setitem__("progress", share), cancel)
        except InputError as err:
            job["error"] = message(err)
        except Exception:  # noqa: BLE001 - a bug must end the job with a message, not leave the page waiting
            _log.exception("the loss %s failed", name)
            job["error"] = "the computation failed unexpectedly"
        finally:
            job["done"] = True

    _jobs(s)[name] = job
    job["thread"] = threading.Thread(target=work, name=f"loss-{name}", daemon=True)
    job["thread"].start()


def _job_ui(s, name: str, key: tuple, label: str, start) -> dict | None:
    """A computation's Start and Cancel buttons; the job to draw (None before the first), dropped for a new model."""
    job = _jobs(s).get(name)
    if job is not None and job["key"][0] != s.version:  # another model: its result is of no use any more
        job["stop"].set()
        del _jobs(s)[name]
        job = None
    a, b = st.columns([1, 3])
    if a.button(label, key=f"inspect_ls_{name}", disabled=job is not None and not job["done"]):
        start()
        job = _jobs(s)[name]
    elif job is not None and not job["done"] and b.button("Cancel", key=f"inspect_ls_{name}_cancel"):
        job["stop"].set()
    if job is not None and job["done"] and job["key"] != key:
        b.caption("The settings changed since this was computed: compute it again to see them.")
    return job


def _line_ui(s, model, ds, initial: dict, loss: str, samples: int) -> None:
    """The loss along the line on a train and a test batch, in the background on request."""
    key = (s.version, samples)
    alphas = diagnostics.line_alphas(LINE_POINTS)

    def start() -> None:
        twin = copy.deepcopy(model)  # the thread moves these weights; the page's copy stays as it is
        end = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        batches = {role: _batch(ds, role, samples) for role in ("train", "test")}

        def compute(progress, cancel):
            out, done = {"train": [], "test": []}, 0
            for role, (x, y) in batches.items():
                for i in range(0, len(alphas), LINE_CHUNK):
                    if cancel():
                        raise InputError("the loss line was cancelled")
                    part = alphas[i:i + LINE_CHUNK]
                    out[role] += diagnostics.loss_line(twin, initial, end, x, y, loss, part)
                    done += len(part)
                    progress(done / (2 * len(alphas)))
            return alphas, out
        _start(s, "line", key, compute)

    job = _job_ui(s, "line", key, "Draw the line", start)
    if job is None:
        st.caption(f"{LINE_POINTS} points from α = −0.5 to 1.5, each a pass over {samples} training and "
                   f"{samples} test samples, in the background.")
        return
    running = not job["done"]
    st.fragment(_line_view, run_every=POLL if running else None)(job, running, loss)


def _plane_ui(s, model, ds, loss: str, samples: int, steps: int, span: float, path) -> None:
    """The plane's button, its progress while the thread works, then the contour and the surface; along the
    principal directions of ``path`` (a run's ``Trajectory``) when given, else random ones."""
    points = steps * steps
    if points > limits.MAX_LANDSCAPE_POINTS:
        st.error(f"A {steps}×{steps} grid has {points:,} points, over this server's cap of "
                 f"{limits.MAX_LANDSCAPE_POINTS:,} (PLAYGROUND_MAX_LANDSCAPE_POINTS): choose fewer steps per axis.")
        return
    directions = "pca" if path is not None else "random"
    key = (s.version, samples, steps, span, directions)

    def start() -> None:
        twin = copy.deepcopy(model)  # the thread moves these weights; the page's copy stays as it is
        x, y = _batch(ds, "train", samples)
        _start(s, "plane", key, lambda progress, cancel: diagnostics.loss_plane(
            twin, x, y, loss, steps=steps, span=span, seed=SEED, directions=directions, trajectory=path,
            progress=progress, cancel=cancel))

    job = _job_ui(s, "plane", key, "Compute the plane", start)
    if job is None:
        st.caption(f"{points:,} points, each a pass over {samples} training samples, in the background.")
        return
    running = not job["done"]
    st.fragment(_plane_view, run_every=POLL if running else None)(job, running, path)


def _polled(job: dict, was_running: bool, what: str) -> bool:
    """Beat, and show progress while the thread works; a full rerun once it ends (to stop polling). Whether the
    result is there to draw."""
    job["beat"] = time.monotonic()
    if not job["done"]:
        st.progress(job["progress"], text=f"Computing the {what}… {100 * job['progress']:.0f}%")
        return False
    if was_running:
        st.rerun()  # the polling fragment was started with run_every: a full run draws it without
    if job["error"] is not None:
        st.error(f"The {what} was not computed: {job['error']}.")
        return False
    return True


def _line_view(job: dict, was_running: bool, loss: str) -> None:
    if not _polled(job, was_running, "line"):
        return
    alphas, losses = job["result"]
    st.plotly_chart(present.figure(dfigs.loss_line_figure(alphas, losses)), key="inspect_ls_line_chart")
    st.caption(f"Loss ({loss}) at α = 0 (initial weights): train batch {losses['train'][alphas.index(0.0)]:.4g}; at "
               f"α = 1 (trained): train batch {losses['train'][alphas.index(1.0)]:.4g}, test "
               f"{losses['test'][alphas.index(1.0)]:.4g}. A curve that falls smoothly and monotonically says the "
               "way from the start to the solution had no barrier.")


def _plane_view(job: dict, was_running: bool, path) -> None:
    if not _polled(job, was_running, "plane"):
        return
    plane = job["result"]
    left, right = st.columns(2)
    left.plotly_chart(present.figure(dfigs.loss_plane_figure(plane)), key="inspect_ls_contour")
    right.plotly_chart(present.figure(dfigs.loss_surface_figure(plane)), key="inspect_ls_surface")
    flat = np.asarray(plane.losses, dtype=np.float64)
    st.caption(f"Loss at the trained weights (×): {plane.centre:.4g}; over the grid from {np.nanmin(flat):.4g} to "
               f"{np.nanmax(flat):.4g}. A wide, round basin is a flat minimum; narrow valleys mean the loss is "
               "sensitive to some directions of the weights.")
    if plane.directions == "pca" and path is not None:
        resumed = " (it starts where the run was resumed)" if path.steps[0] else ""
        st.caption(f"Principal directions: the first explains {plane.explained[0]:.1%} and the second "
                   f"{plane.explained[1]:.1%} of the variance of the {len(path.coords) - 1} weight snapshots the run "
                   f"kept about its trained weights (steps {path.steps[0]} to {path.steps[-2]}; the trained weights at "
                   f"step {path.steps[-1]}){resumed}. The line is their path projected onto the plane, from the white "
                   "disc (start) to × (trained); the plane spans 1.2 × the path's extent × span.")
