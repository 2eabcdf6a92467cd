"""Widget groups of the Train page: settings, run controls, the live view, results and run comparison."""
from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import streamlit as st

import engine
from engine import data, train_figures
from engine.init import SCHEMES
from engine.training import LOSSES, OPTIMIZERS, TERMINAL, TrainConfig, Trainer, evaluate, load_weights, \
    predict_grid, sample, suggested_settings
from ui.session import SessionState


def page(s: SessionState) -> dict:
    """This page's part of the session state."""
    return s.extras.setdefault("train", {"runs": [], "active": None, "next_id": 1, "eval": {}, "models": {}})


@st.cache_resource(max_entries=16, show_spinner="Loading the dataset…")
def load_dataset(name: str, seed: int, options_json: str):
    """Datasets are read-only and shared by every session (never a session's model)."""
    return data.load(name, seed=seed, **json.loads(options_json))


def settings_ui(s: SessionState) -> TrainConfig | None:
    """Dataset and training settings; returns the config, or None (with a message) when a value is bad."""
    names = [n for n in data.names() if data.category(n) != "Folders"] + ["mnist", "fashion-mnist", "cifar10"]
    suggested = _suggest_dataset(s.spec)
    c1, c2, c3 = st.columns(3)
    with c1:
        st.markdown("**Data**")
        name = st.selectbox("Dataset", names, index=names.index(suggested), key="tr-dataset",
                            format_func=lambda n: f"{n} ({data.category(n)})", help="what the network learns",
                            on_change=_suggest_settings)
        hint = suggested_settings(name)
        st.caption(data.describe(name))
        options = {}
        for opt, arg in data.options(name).items():
            key = f"tr-ds-{name}-{opt}"
            if arg.kind == "path":
                options[opt] = st.text_input(f"{opt} (a folder on the server)", key=key, help=arg.help or None)
            elif arg.kind == "int":
                options[opt] = int(st.number_input(opt, int(arg.min), int(arg.max), int(arg.default), key=key))
            else:
                options[opt] = float(st.number_input(opt, float(arg.min), float(arg.max), float(arg.default),
                                                     key=key, format="%.3g"))
        seed = int(st.number_input("Seed", 0, 10**6, 0, key="tr-seed", help="same seed, same run (on CPU)"))
    with c2:
        st.markdown("**Optimiser**")
        opt = st.selectbox("Optimiser", list(OPTIMIZERS), index=list(OPTIMIZERS).index("adam"), key="tr-opt",
                           help="; ".join(f"{k}: {v[0]}" for k, v in OPTIMIZERS.items()))
        default_lr = hint["lr"] if opt == "adam" else float(OPTIMIZERS[opt][1])
        lr = st.number_input("Learning rate η", 1e-6, 1e6, default_lr, key=f"tr-lr-{opt}",
                             format="%.4g", help="the step size; too large and the loss blows up")
        momentum = st.slider("Momentum μ", 0.0, 0.99, 0.9, key="tr-momentum") if opt in ("momentum",
                                                                                      "nesterov") else 0.9
        batch = int(st.number_input("Batch size", 1, 4096, 32, key="tr-batch"))
        epochs = int(st.number_input("Epochs", 1, 500, hint["epochs"], key="tr-epochs"))
        loss = st.selectbox("Loss", list(LOSSES), key="tr-loss", help="; ".join(f"{k}: {v}" for k, v in LOSSES.items()))
    with c3:
        st.markdown("**Regularisation**")
        init = st.selectbox("Initialisation", list(SCHEMES), key="tr-init", help="; ".join(
            f"{k}: {v}" for k, v in SCHEMES.items()))
        wd = st.number_input("Weight decay (L2) λ", 0.0, 1.0, 0.0, key="tr-wd", format="%.4g")
        l1 = st.number_input("L1 penalty λ", 0.0, 1.0, 0.0, key="tr-l1", format="%.4g")
        clip = st.number_input("Clip gradient norm at (0 = off)", 0.0, 1e6, 0.0, key="tr-clip", format="%.4g")
        early = st.checkbox("Early stopping on validation loss", key="tr-early")
        patience = int(st.number_input("Patience (epochs)", 1, 100, 5, key="tr-patience")) if early else 5
        with st.popover("Augmentation and sequences"):
            shift = int(st.number_input("Shift up to (px)", 0, 4, 0, key="tr-shift"))
            rotate = float(st.number_input("Rotate up to (°)", 0.0, 45.0, 0.0, key="tr-rotate"))
            erase = float(st.slider("Random erasing probability", 0.0, 1.0, 0.0, key="tr-erase"))
            mixup = float(st.number_input("Mixup α (0 = off)", 0.0, 5.0, 0.0, key="tr-mixup"))
            flip = st.checkbox("Horizontal flips (not for digits)", key="tr-flip")
            bptt = int(st.number_input("Truncated BPTT length (0 = full)", 0, 1000, 0, key="tr-bptt"))
    try:
        return TrainConfig(dataset=name, dataset_options=options, loss=loss, optimizer=opt, lr=float(lr),
                           momentum=float(momentum), weight_decay=float(wd), l1=float(l1), batch_size=batch,
                           epochs=epochs, init=init, clip_norm=float(clip), bptt=bptt, flip=flip, shift=shift,
                           rotate=rotate, erase=erase, mixup=mixup, early_stopping=early, patience=patience,
                           seed=seed).check()
    except (engine.InputError, ValueError) as err:
        st.error(f"Settings: {err}")
        return None


def _suggest_settings() -> None:
    """A new dataset brings its own learning rate (for Adam) and epochs; the student can still change them."""
    hint = suggested_settings(st.session_state["tr-dataset"])
    st.session_state["tr-epochs"] = hint["epochs"]
    st.session_state["tr-lr-adam"] = hint["lr"]


def _suggest_dataset(spec: engine.ModelSpec) -> str:
    """A dataset the session's network fits as it is."""
    if spec.vocab_size:
        return "zen"
    shape = tuple(spec.input)
    if len(shape) == 3:
        return "xo" if shape[1:] == (9, 9) else "digits"
    if len(shape) == 2:
        return "adding"
    return "circle" if shape == (2,) else "digits"


def active(s: SessionState) -> dict | None:
    """The run the controls act on."""
    p = page(s)
    return next((r for r in p["runs"] if r["id"] == p["active"]), None)


def start_run(s: SessionState, config: TrainConfig) -> None:
    """A new run of the session's network with these settings; older finished runs beyond the cap are dropped."""
    p = page(s)
    try:
        dataset = load_dataset(config.dataset, config.seed, json.dumps(config.dataset_options, sort_keys=True))
        trainer = Trainer(s.spec, config, dataset=dataset)
    except (engine.SpecError, engine.InputError) as err:
        p["error"] = f"Cannot start: {err}"
        return
    label = f"#{p['next_id']} {s.spec.name} · {config.dataset} · {config.optimizer} η={config.learning_rate:g}"
    run = {"id": p["next_id"], "label": label, "trainer": trainer, "config": config}
    p["next_id"] += 1
    p["runs"].append(run)
    p["active"] = run["id"]
    st.session_state.pop("tr-compare", None)  # the new run joins the comparison
    trainer.start()
    while len(p["runs"]) > engine.limits.MAX_RUNS_KEPT:
        old = next((r for r in p["runs"] if r["trainer"].state in TERMINAL), p["runs"][0])
        delete_run(s, old["id"])


def delete_run(s: SessionState, run_id: int) -> None:
    """Stop a run (its thread ends) and forget it."""
    p = page(s)
    for run in [r for r in p["runs"] if r["id"] == run_id]:
        run["trainer"].stop()
        p["runs"].remove(run)
        p["eval"].pop(run_id, None)
        p["models"].pop(run_id, None)
    if p["active"] == run_id:
        p["active"] = p["runs"][-1]["id"] if p["runs"] else None
    st.session_state.pop("tr-compare", None)
    st.session_state.pop("tr-run-pick", None)


def controls_ui(s: SessionState, config: TrainConfig | None) -> None:
    """Start / pause / resume / step / stop / reset, acting on the active run."""
    p = page(s)
    run = active(s)
    state = run["trainer"].state if run else None
    cols = st.columns(6)
    cols[0].button("Start new run", key="tr-start", type="primary", disabled=config is None, width="stretch",
                   on_click=lambda: start_run(s, config))
    cols[1].button("Pause", key="tr-pause", disabled=state not in ("running", "queued"), width="stretch",
                   on_click=lambda: run["trainer"].pause())
    cols[2].button("Resume", key="tr-resume", disabled=state != "paused", width="stretch",
                   on_click=lambda: run["trainer"].resume())
    cols[3].button("Step (1 batch)", key="tr-step", disabled=state not in ("idle", "paused", "running"),
                   width="stretch", on_click=lambda: _step(run))
    cols[4].button("Stop", key="tr-stop", disabled=state in (None, *TERMINAL), width="stretch",
                   on_click=lambda: run["trainer"].stop())
    cols[5].button("Reset", key="tr-reset", disabled=run is None, width="stretch",
                   on_click=lambda: _reset(s, run))
    if error := p.pop("error", None):
        st.error(error)


def _step(run: dict) -> None:
    run["trainer"].step()


def _reset(s: SessionState, run: dict) -> None:
    run["trainer"].reset()
    page(s)["eval"].pop(run["id"], None)


def heartbeat_all(s: SessionState) -> None:
    """Every live run of this session: the page is still open."""
    for run in page(s)["runs"]:
        if run["trainer"].state not in TERMINAL:
            run["trainer"].heartbeat()


def status_ui(run: dict) -> None:
    """State, progress bar with ETA, queue position, the divergence hint."""
    status = run["trainer"].status
    eta = f", about {status.eta:.0f} s left" if status.eta is not None and status.state == "running" else ""
    if status.state in TERMINAL:
        eta = f", trained for {status.elapsed:.1f} s"
    text = f"{run['label']}: **{status.state}** · step {status.step}/{status.total_steps} · " \
           f"epoch {status.epoch}{eta}"
    st.progress(min(status.progress, 1.0), text=text)
    if status.state == "queued":
        st.info(f"Waiting for a free training slot: place {status.queue_position} in the queue "
                f"({engine.limits.MAX_CONCURRENT_RUNS} runs train at once on this server).")
    if status.state == "diverged":
        st.error(status.message)
    elif status.state == "failed":
        st.error(f"The run failed: {status.message}")
    elif status.message and status.state in TERMINAL:
        st.caption(status.message)
    for note in run["trainer"].notes:
        st.caption(f"Adapted to the data: {note}")


def live_charts_ui(s: SessionState, run: dict) -> None:
    """Loss, accuracy and per-layer gradient norms of the active run; the decision boundary for 2-D data."""
    records = run["trainer"].records()
    a, b = st.columns(2)
    a.plotly_chart(train_figures.curves_figure({run["label"]: records}, "loss"), key="tr-loss-chart")
    if run["trainer"].dataset.task != "regression":
        b.plotly_chart(train_figures.curves_figure({run["label"]: records}, "acc"), key="tr-acc-chart")
    a, b = st.columns(2)
    a.plotly_chart(train_figures.grad_norms_figure(records), key="tr-grad-chart")
    dataset = run["trainer"].dataset
    if dataset.input_shape == (2,) and dataset.task == "classification":
        b.plotly_chart(_boundary(s, run), key="tr-boundary")


def _boundary(s: SessionState, run: dict):
    """Read the weights (safe while training) into a private copy, so the running model is never touched."""
    model = page(s)["models"].get(run["id"])
    if model is None:
        model = page(s)["models"][run["id"]] = engine.build(run["trainer"].spec)
    load_weights(model, run["trainer"].weights())
    d = run["trainer"].dataset
    x, y = d.x_test.numpy(), d.y_test.numpy()
    pad = 0.2
    grid = predict_grid(model, (float(x[:, 0].min()) - pad, float(x[:, 0].max()) + pad),
                        (float(x[:, 1].min()) - pad, float(x[:, 1].max()) + pad), n=60)
    return train_figures.boundary_figure(grid, x, y, d.classes)


def results_ui(s: SessionState, run: dict) -> None:
    """Test accuracy, confusion matrix and misclassified samples of an ended run; text samples for char models."""
    p = page(s)
    trainer = run["trainer"]
    dataset = trainer.dataset
    if run["id"] not in p["eval"]:
        p["eval"][run["id"]] = evaluate(trainer.model, dataset, "test")
        adopt(s, run)
    result = p["eval"][run["id"]]
    cols = st.columns(3)
    cols[0].metric("Test loss", f"{result['loss']:.4f}")
    if result["accuracy"] is not None:
        cols[1].metric("Test accuracy", f"{100 * result['accuracy']:.1f}%")
    cols[2].metric("Device", trainer.loop.device.type.upper())
    if dataset.task == "char":
        sample_ui(trainer)
        return
    if result["confusion"] is not None:
        a, b = st.columns(2)
        a.plotly_chart(train_figures.confusion_figure(result["confusion"], dataset.classes), key="tr-confusion")
        wrong = result["misclassified"][:24]
        if len(dataset.input_shape) == 3 and len(wrong):
            images = dataset.x_test[wrong, 0].numpy()
            preds = result["predictions"][wrong]
            titles = [f"{dataset.classes[int(t)]}→{dataset.classes[int(q)]}"
                      for t, q in zip(dataset.y_test[wrong].tolist(), preds)]
            b.plotly_chart(train_figures.samples_figure(images, titles), key="tr-wrong")


def adopt(s: SessionState, run: dict) -> None:
    """An ended run's trained network becomes the session's model (Inspect and Gradients then show it)."""
    model = copy.deepcopy(run["trainer"].model).cpu()
    if s.spec != run["trainer"].spec:
        s.set_spec(run["trainer"].spec)  # the spec as adapted to the data, so model and spec agree
    config = run["config"]
    s.set_model(model, dataset={"name": config.dataset, "seed": config.seed, "options": dict(config.dataset_options)})
    s.runs.append(run["id"])
    page(s)["dataset_name"] = run["config"].dataset


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
            st.error(str(err))


def compare_ui(s: SessionState) -> None:
    """Overlay the curves of chosen runs; a table of every run; delete or export one."""
    p = page(s)
    if not p["runs"]:
        return
    labels = {r["label"]: r for r in p["runs"]}
    chosen = st.multiselect("Runs to compare", list(labels), default=list(labels)[-3:], key="tr-compare")
    curves = {label: labels[label]["trainer"].records() for label in chosen}
    if curves:
        a, b = st.columns(2)
        a.plotly_chart(train_figures.curves_figure(curves, "loss"), key="tr-cmp-loss")
        b.plotly_chart(train_figures.curves_figure(curves, "acc"), key="tr-cmp-acc")
    st.dataframe(pd.DataFrame([_row(p, r) for r in p["runs"]]), hide_index=True, key="tr-runs-table")
    a, b, c, d = st.columns([3, 1, 1, 1])
    pick = a.selectbox("Run", list(labels), index=len(labels) - 1, key="tr-run-pick")
    run = labels[pick]
    b.button("Show", key="tr-show", on_click=lambda: p.update(active=run["id"]), width="stretch")
    c.button("Delete", key="tr-delete", on_click=lambda: delete_run(s, run["id"]), width="stretch")
    bundle = {"spec": run["trainer"].spec.to_dict(), "config": run["config"].to_dict()}
    d.download_button("Config", json.dumps(bundle, indent=1), f"run{run['id']}.json", "application/json",
                      key="tr-export-config", width="stretch")
    if run["trainer"].state in TERMINAL or run["trainer"].state == "paused":
        d.download_button("Weights", run["trainer"].weights(), f"run{run['id']}.safetensors",
                          "application/octet-stream", key="tr-export-weights", width="stretch")


def _row(p: dict, run: dict) -> dict:
    records = run["trainer"].records()
    epochs = [r for r in records if r.get("kind") == "epoch"]
    last = epochs[-1] if epochs else (records[-1] if records else {})
    test = p["eval"].get(run["id"], {}).get("accuracy")
    return {"run": run["label"], "state": run["trainer"].state, "epochs": run["trainer"].status.epoch,
            "train loss": _fmt(last.get("train_loss")), "val loss": _fmt(last.get("val_loss")),
            "val acc": _fmt(last.get("val_acc")), "test acc": _fmt(test), "init": run["config"].init,
            "batch": run["config"].batch_size}


def _fmt(v) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4f}"
