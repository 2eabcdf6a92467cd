"""Widget groups of the Train page: settings (from the table in settings.py), the live view and results."""
from __future__ import annotations

import copy
import math

import numpy as np
import streamlit as st

import engine
from engine import data, inspect
from engine.network import SCHEMES
from engine.training import (LIMITER, LIVE_SETTINGS, LOSSES, OPTIMIZERS, TERMINAL, TrainConfig, Trainer, evaluate,
                             load_weights, predict_grid, sample, suggested_settings)
from engine.training import figures as train_figures
from ui.core import present, runs_ui, workspace
from ui.core.datasets import load_dataset
from ui.core.session import CHOSEN_SETTING, Run, SessionState
from ui.core.text import message, plain
from ui.core.widgets import reseed
from ui.train import dataset_picker
from ui.train import settings
from ui.train.settings import CHOSEN, show_outside, widget_state

# What a paused run can change before it resumes (Trainer.update), with the names the status line uses.
NAMES = {"lr": "learning rate", "momentum": "momentum", "betas": "Adam's betas", "alpha": "RMSProp's alpha",
         "weight_decay": "weight decay", "l1": "L1 penalty", "clip_norm": "gradient clipping"}
UPDATABLE = {k: NAMES.get(k, k.replace("_", " ")) for k in LIVE_SETTINGS}


GROUP = "train"  # this page's runs in the session's run book
RECONSTRUCTIONS = 8  # test images an autoencoder's run shows with their reconstructions


def page(s: SessionState) -> dict:
    """This page's scratch: the text upload, messages waiting to be shown, the adopted run."""
    return s.extras.setdefault("train", {})


def runs(s: SessionState) -> list[Run]:
    """This page's runs, oldest first."""
    return s.book.of(GROUP)


def settings_ui(s: SessionState) -> TrainConfig | None:
    """Dataset and training settings; returns the config, or None (with a message) when a value is bad."""
    show_outside(s)
    changed = page(s).get("settings_for", s.spec) is not s.spec  # a new network since the page last drew
    if "tr-dataset" not in st.session_state:
        # The student was on another page and Streamlit forgot these widgets: the saved settings, unless the
        # network changed meanwhile (then its defaults, as for a new network, and the dataset if it still fits).
        saved = widget_state(s.settings.get("train"))
        reseed(dataset_picker.dataset_state(saved) if changed else saved)
    if page(s).get("settings_for") is not s.spec:  # a new network, or this session's first look (restored)
        dataset_picker.follow_network(s.spec, load_dataset)
    page(s)["settings_for"] = s.spec
    c1, c2, c3 = st.columns(3)
    with c1:
        name, options, seed, text = dataset_picker.data_ui(page(s), s.spec)
        hint = suggested_settings(name)
    with c2:
        st.markdown("**Optimiser**")
        opt = settings.choice("optimizer", "Optimiser", list(OPTIMIZERS),
                              help="; ".join(f"{k}: {v.description}" for k, v in OPTIMIZERS.items()))
        owned = OPTIMIZERS[opt].settings  # the widgets of the settings this optimiser has
        default_lr = hint["lr"] if opt == "adam" else settings.lr_default(opt)  # Adam's: the dataset's suggestion
        lr = settings.learning_rate(opt, "Learning rate η", default_lr, format="%.4g",
                                    help="the step size; too large and the loss blows up")
        st.caption(OPTIMIZERS[opt].formula)
        values = {"optimizer": opt, "lr": lr}
        if "momentum" in owned:
            values["momentum"] = settings.slider("momentum", "Momentum μ")
        if "betas" in owned:
            b1, b2 = st.columns(2)
            with b1:
                values["betas", 0] = settings.number("betas", "β₁", part=0, format="%.4g",
                                                     help="decay of the running mean of gradients")
            with b2:
                values["betas", 1] = settings.number("betas", "β₂", part=1, format="%.4g",
                                                     help="decay of the running mean of squared gradients")
        if "alpha" in owned:
            values["alpha"] = settings.number("alpha", "Decay α", format="%.4g",
                                              help="decay of the running mean of squared gradients")
        values["batch_size"] = settings.number("batch_size", "Batch size")
        values["epochs"] = settings.number("epochs", "Epochs", default_value=hint["epochs"])
        loss = values["loss"] = settings.choice("loss", "Loss", list(LOSSES), help="; ".join(
            f"{k}: {v.description}" for k, v in LOSSES.items()))
        st.caption(LOSSES[loss].formula)
    with c3:
        st.markdown("**Regularisation**")
        values["init"] = settings.choice("init", "Initialisation", list(SCHEMES), help="; ".join(
            f"{k}: {v}" for k, v in SCHEMES.items()))
        values["weight_decay"] = settings.number(
            "weight_decay", "Weight decay (L2) λ", format="%.4g",
            help="adds λw to every weight's gradient g (the gradient of λ/2·‖w‖²; for Adam too, not AdamW), "
                 "biases excluded")
        values["l1"] = settings.number("l1", "L1 penalty λ", format="%.4g")
        values["clip_norm"] = settings.number("clip_norm", "Clip gradient norm at (0 = off)", format="%.4g")
        if data.autoencodes(s.spec):  # a reconstruction run: noise on the input, the clean image as the target
            values["noise"] = settings.number(
                "noise", "Noise (denoising) σ", format="%.3g",
                help="standard deviation of Gaussian noise added to each training input (never to the target, nor "
                     "to validation and test images): the autoencoder learns to remove it")
        early = values["early_stopping"] = settings.checkbox("early_stopping", "Early stopping on validation loss")
        if early:
            values["patience"] = settings.number("patience", "Patience (epochs)")
        with st.popover("Augmentation and sequences"):
            values["shift"] = settings.number("shift", "Shift up to (px)")
            values["rotate"] = settings.number("rotate", "Rotate up to (°)")
            values["erase"] = settings.slider("erase", "Random erasing probability")
            values["mixup"] = settings.number("mixup", "Mixup α (0 = off)")
            values["flip"] = settings.checkbox("flip", "Horizontal flips (not for digits)")
            values["bptt"] = settings.number("bptt", "Truncated BPTT length (0 = full)")
    values["seed"] = seed
    try:
        config = settings.config_of(values, dataset=text.name if text is not None else name,
                                    dataset_options={} if text is not None else options)
    except (engine.InputError, ValueError) as err:
        st.error(f"Settings: {message(err)}")
        return None
    s.set_settings("train", config.to_dict())  # a reopened workspace shows them again
    s.set_settings(CHOSEN_SETTING, st.session_state.get(CHOSEN) == name)  # and knows who chose it
    workspace.sync(s)  # now, not on the next click: another tab may open the workspace before that
    return config


def active(s: SessionState) -> Run | None:
    """The run the controls act on."""
    return s.book.active(GROUP)


def elsewhere(run: Run) -> bool:
    """Whether another server (a replica) is training the run: it is shown here, never resumed nor deleted."""
    return getattr(run.trainer, "elsewhere", False)


def delete_run(s: SessionState, number: int) -> None:
    """Stop a run (its thread ends) and forget it; one another server trains is refused with a message."""
    run = s.book.get(number)
    if run is not None and elsewhere(run):  # the store refuses it too (a run resumed there since the page loaded)
        page(s)["error"] = f"Run {number} is training on another server, so it was not deleted: reload the page to " \
                           "follow it, and delete it once it has ended."
        return
    s.book.remove(number)
    st.session_state.pop("tr-compare", None)
    st.session_state.pop("tr-run-pick", None)


def _show(value) -> str:
    return ", ".join(f"{v:g}" for v in value) if isinstance(value, (tuple, list)) else f"{value:g}"


def change_text(key: str, old, new) -> str:
    """E.g. "learning rate 0.01 → 0.001"."""
    return f"{UPDATABLE[key]} {_show(old)} → {_show(new)}"


def run_changes(trainer: Trainer, status=None) -> list[dict]:
    """The settings changed during the run, as the engine recorded them: step, epoch and text of each."""
    per_epoch = max(trainer.loop.batches_per_epoch, 1)
    return [{"step": c["step"], "epoch": c["step"] / per_epoch, "text": change_text(c["setting"], c["old"], c["new"])}
            for c in (status or trainer.status).changes]


def status_ui(run: Run) -> None:
    """State, progress bar with ETA, queue position, settings changed on the way, remarks, the divergence hint."""
    trainer = run.trainer
    status = trainer.status
    eta = f", about {status.eta:.0f} s left" if status.eta is not None and status.state == "running" else ""
    if status.state in TERMINAL:
        eta = f", trained for {status.elapsed:.1f} s"
    text = f"{plain(run.label)}: **{status.state}** · step {status.step}/{status.total_steps} · " \
           f"epoch {status.epoch}{eta}"
    st.progress(min(status.progress, 1.0), text=text)
    if status.state == "queued":
        st.info(f"Waiting for a free training slot: place {status.queue_position} in the queue "
                f"({LIMITER.slots} runs train at once on this server).")
    if status.state == "paused" and status.paused_left is not None:
        left = f"{math.ceil(status.paused_left / 60)} min" if status.paused_left >= 60 else \
            f"{status.paused_left:.0f} s"
        st.caption(f"Paused: the run ends itself in {left} unless resumed (while paused it still holds memory on "
                   "the server).")
    for change in run_changes(trainer, status):
        st.caption(f"Changed: {change['text']} from step {change['step']}")
    if status.state == "diverged":
        st.error(message(status.message))
    elif status.state == "failed":
        st.error(f"The run failed: {message(status.message)}")
    elif status.message and status.state in TERMINAL:
        st.caption(message(status.message))
    for note in trainer.notes:
        st.caption(f"Adapted to the data: {message(note)}")
    for note in status.notes:
        st.caption(f"Note: {message(note)}")


def curves(runs: dict[str, list[dict]], metric: str, changes: list[dict] = ()):
    """The train/validation curves with the epoch-mean training value and a marker where settings changed."""
    fig = train_figures.curves_figure(runs, metric, epoch_mean=True)
    for change in changes:
        fig.add_vline(x=change["epoch"], line=dict(color="grey", dash="dash", width=1),
                      annotation_text=change["text"], annotation_position="top left")
    return fig


def live_ui(s: SessionState) -> None:
    """The active run's status line and charts, redrawn alone while it trains."""
    def draw(current: list[Run]) -> None:
        status_ui(current[0])
        live_charts_ui(s, current[0])

    runs_ui.live_view(lambda: [run] if (run := active(s)) is not None else [], draw)


def live_charts_ui(s: SessionState, run: Run) -> None:
    """Loss, accuracy and per-layer gradient norms of the active run; the decision boundary for 2-D data; an
    autoencoder's reconstructions of test images in place of accuracy (it has none)."""
    figures = _live_figures(s, run)
    a, b = st.columns(2)
    a.plotly_chart(present.figure(figures["loss"]), key="tr-loss-chart")
    if "acc" in figures:
        b.plotly_chart(present.figure(figures["acc"]), key="tr-acc-chart")
    elif figures.get("reconstruction") is not None:
        b.plotly_chart(present.figure(figures["reconstruction"]), key="tr-recon-chart")
    a, b = st.columns(2)
    a.plotly_chart(present.figure(figures["grad"]), key="tr-grad-chart")
    if figures.get("boundary") is not None:
        b.plotly_chart(present.figure(figures["boundary"]), key="tr-boundary")


def _live_figures(s: SessionState, run: Run) -> dict:
    """The live figures, built again only when the run has recorded something new (or changed state).

    A fragment must draw every chart on each tick or the chart disappears, so a tick with nothing new resends the
    kept figures: no records copied, no weights read, no boundary grid predicted.
    """
    trainer = run.trainer
    status = trainer.status
    count = trainer.record_count  # before reading the records: a record added meanwhile only triggers one more build
    version = (status.generation, count, status.state, len(status.changes), run.label)
    kept = run.figures
    if kept is not None and kept[0] == version:
        return kept[1]
    records = trainer.records()
    changes = run_changes(trainer, status)
    dataset = trainer.dataset
    figures = {"loss": curves({run.label: records}, "loss", changes)}
    if data.has_accuracy(dataset.task):  # regression and reconstruction have none: no empty chart
        figures["acc"] = curves({run.label: records}, "acc", changes)
    figures["grad"] = train_figures.grad_norms_figure(records)
    if dataset.input_shape == (2,) and dataset.task == "classification":
        figures["boundary"] = _boundary(s, run)
    if dataset.task == "reconstruction":
        figures["reconstruction"] = _reconstructions(run)
    run.figures = (version, figures)
    return figures


def _private_model(run: Run):
    """The run's current weights in a private copy (read safely while it trains: the running model is never
    touched); None when they were not kept (a run reopened from the workspace without weights)."""
    if run.model is None:
        run.model = engine.build(run.trainer.spec)
    try:
        load_weights(run.model, run.trainer.weights())
    except engine.InputError:
        return None
    return run.model


def _boundary(s: SessionState, run: Run):
    """The decision boundary over the test points, from the run's current weights."""
    model = _private_model(run)
    if model is None:
        return None
    d = run.trainer.dataset
    x, y = d.x_test.numpy(), d.y_test.numpy()
    pad = 0.2
    grid = predict_grid(model, (float(x[:, 0].min()) - pad, float(x[:, 0].max()) + pad),
                        (float(x[:, 1].min()) - pad, float(x[:, 1].max()) + pad), n=60)
    return train_figures.boundary_figure(grid, x, y, d.classes)


def _reconstructions(run: Run):
    """The first test images over the run's reconstructions of them, from its current weights."""
    model = _private_model(run)
    if model is None:
        return None
    originals, reconstructed = inspect.reconstructions(model, run.trainer.dataset, n=RECONSTRUCTIONS)
    return train_figures.reconstruction_figure(originals, reconstructed)


def has_weights(run: Run) -> bool:
    """Whether the run's weights are at hand (a run reopened from the workspace may have none: cut off before its
    first checkpoint was stored)."""
    return getattr(run.trainer, "has_weights", True)


def ensure_eval(run: Run) -> bool:
    """Evaluate an ended run on the test split once; True when it happened now."""
    if run.results is not None or run.live or not has_weights(run):
        return False
    run.results = evaluate(run.trainer.model, run.trainer.dataset, "test")
    return True


def results_ui(s: SessionState, run: Run) -> None:
    """Test accuracy, confusion matrix and misclassified samples of an ended run; text samples for char models."""
    p = page(s)
    trainer = run.trainer
    dataset = trainer.dataset
    # The run that just ended on the network still on the Build page becomes the session's model; any other
    # (an old run brought back with Show, or one whose network was since changed) waits for "Use this network".
    if ensure_eval(run):
        s.book.changed.add(run.number)  # new test results: saved with the run
        auto, run.auto_adopt = run.auto_adopt, False
        if auto and run.spec == s.spec:
            adopt(s, run)
        workspace.sync(s)
    result, kept = run.results, has_weights(run)
    if not kept:
        st.info("This run's weights were not kept (it was cut off before a checkpoint of them was saved, or its "
                "file had none), so it cannot be tested, used or resumed: its records are shown above. Reset "
                "trains it again.")
        if result is None:
            return
    cols = st.columns(3)
    if dataset.task == "reconstruction":
        cols[0].metric("Test reconstruction error (MSE)", f"{result['loss']:.4f}",
                       help="mean squared difference between each test image and its reconstruction, per pixel")
    else:
        cols[0].metric("Test loss", f"{result['loss']:.4f}")
    if result["accuracy"] is not None:
        cols[1].metric("Test accuracy", f"{100 * result['accuracy']:.1f}%")
    cols[2].metric("Device", trainer.loop.device.type.upper())
    if not kept:
        return
    if p.get("adopted") == (run.number, s.version):
        st.caption("This run's trained network is the session's model: the Inspect and Gradients pages show it.")
    else:
        st.button("Use this network", key="tr-adopt", on_click=lambda: adopt(s, run))
        st.caption(f"Use this network: replaces the network on the Build page ({plain(s.spec.name or 'custom')}, "
                   f"{'trained' if s.trained else 'untrained'}) with this run's and its trained weights; "
                   "Inspect and Gradients then show it.")
    if dataset.task == "char":
        sample_ui(trainer)
        return
    classes = len(dataset.classes)
    # A stored run's results may come from a file made for other data: drawn only where they fit this dataset.
    if result["confusion"] is not None and np.shape(result["confusion"]) == (classes, classes):
        a, b = st.columns(2)
        a.plotly_chart(present.figure(train_figures.confusion_figure(result["confusion"], dataset.classes)),
                       key="tr-confusion")
        wrong = np.asarray(result["misclassified"][:24])
        preds = np.asarray(result["predictions"])[wrong] if len(wrong) and wrong.max() < len(result["predictions"]) \
            else []
        fits = len(wrong) and wrong.max() < len(dataset.y_test) and len(preds) and max(preds) < classes
        if len(dataset.input_shape) == 3 and fits:
            images = dataset.x_test[wrong, 0].numpy()
            titles = [f"{dataset.classes[int(t)]} → {dataset.classes[int(q)]}"
                      for t, q in zip(dataset.y_test[wrong].tolist(), preds)]
            b.plotly_chart(present.figure(train_figures.samples_figure(images, titles)), key="tr-wrong")


def adopt(s: SessionState, run: Run) -> None:
    """An ended run's trained network becomes the session's model (Inspect and Gradients then show it)."""
    model = copy.deepcopy(run.trainer.model).cpu()
    if s.spec != run.trainer.spec:
        s.set_spec(run.trainer.spec)  # the spec as adapted to the data, so model and spec agree
    config = run.config
    s.set_model(model, dataset={"name": config.dataset, "seed": config.seed, "options": dict(config.dataset_options)})
    s.adopted.append(run.number)
    p = page(s)
    p["adopted"] = (run.number, s.version)
    if config.dataset in data.names():  # an uploaded text has no registry name for Inspect to load
        p["dataset_name"] = config.dataset


def sample_ui(trainer: Trainer) -> None:
    """Generate text from a character model, one character at a time."""
    a, b, c = st.columns([3, 1, 1])
    prefix = a.text_input("Start with", "", key="tr-prefix", max_chars=200)
    temperature = b.slider("Temperature", 0.0, 2.0, 0.8, 0.05, key="tr-temp",
                           help="0 always picks the most likely character; higher is more random")
    length = int(c.number_input("Characters", 1, 1000, 200, key="tr-sample-len"))
    if st.button("Sample text", key="tr-sample"):
        try:
            st.code(prefix + sample(trainer.model, trainer.dataset.vocab, prefix, length, temperature), language=None)
        except engine.InputError as err:
            st.error(message(err))
