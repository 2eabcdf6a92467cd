"""Train page run comparison: labels and a table that tell runs apart, overlaid curves, show / delete / export."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

import engine
from engine import data
from engine.network import RECURRENT, layer_names
from engine.training import TERMINAL, without_initial
from ui.core import present
from ui.core.session import Run, SessionState
from ui.train import widgets

ACTIVATIONS = layer_names("Activation") + RECURRENT  # the types a run's label names (cells, like activations)


def spec_summary(spec: engine.ModelSpec) -> str:
    """What differs between two versions of a network at a glance: layers, activation and cell types, parameters."""
    kinds: list[str] = []

    def walk(layers):
        for layer in layers:
            kind = layer.get("type")
            if kind in ACTIVATIONS:
                kinds.append("RNN(relu)" if kind == "RNN" and layer.get("nonlinearity") == "relu" else kind)
            if isinstance(layer.get("layers"), list):  # Residual
                walk(layer["layers"])

    walk(spec.layers)
    try:
        params = f"{engine.summarize(spec).total_params:,} params"
    except engine.SpecError:
        params = "invalid"
    acts = "/".join(dict.fromkeys(kinds)) or "linear"
    return f"{len(spec.layers)} layers, {acts}, {params}"


def run_label(run_id: int, spec: engine.ModelSpec, config, dataset_name: str) -> str:
    """Unique and telling: the run number, the network's shape and activations, the data and the optimiser."""
    return f"#{run_id} {spec.name or 'custom'} ({spec_summary(spec)}) · {dataset_name} · " \
           f"{config.optimizer} η={config.learning_rate:g}"


def compare_ui(s: SessionState) -> None:
    """Overlay the curves of chosen runs; a table of every run; show, delete or export one."""
    runs = widgets.runs(s)
    if not runs:
        return
    for run in runs:
        if widgets.ensure_eval(run):  # every ended run gets its test numbers once, shown or not
            s.book.changed.add(run.number)  # and they are saved with it
    labels = {r.label: r for r in runs}
    chosen = st.multiselect("Runs to compare", list(labels), default=list(labels)[-3:], key="tr-compare")
    curves = {label: labels[label].trainer.records() for label in chosen}
    if curves:
        classify = any(data.has_accuracy(labels[label].trainer.dataset.task) for label in chosen)
        a, b = st.columns(2) if classify else (st.container(), None)
        a.plotly_chart(present.figure(widgets.curves(curves, "loss")), key="tr-cmp-loss")
        if classify:  # regression and reconstruction runs have no accuracy: no empty chart
            b.plotly_chart(present.figure(widgets.curves(curves, "acc")), key="tr-cmp-acc")
    st.dataframe(pd.DataFrame([_row(r) for r in runs]), hide_index=True, key="tr-runs-table")
    a, b, c, d = st.columns([3, 1, 1, 1])
    pick = a.selectbox("Run", list(labels), index=len(labels) - 1, key="tr-run-pick")
    run = labels[pick]
    b.button("Show", key="tr-show", on_click=lambda: _show(s, run), width="stretch")
    c.button("Delete", key="tr-delete", on_click=lambda: widgets.delete_run(s, run.number), width="stretch")
    bundle = {"spec": run.trainer.spec.to_dict(), "config": run.config.to_dict()}
    d.download_button("Config", json.dumps(bundle, indent=1), f"run{run.number}.json", "application/json",
                      key="tr-export-config", width="stretch")
    if (run.state in TERMINAL or run.state == "paused") and widgets.has_weights(run):
        d.download_button("Weights", without_initial(run.trainer.weights()), f"run{run.number}.safetensors",
                          "application/octet-stream", key="tr-export-weights", width="stretch")


def _show(s: SessionState, run: Run) -> None:
    """Make a run the one shown; viewing never adopts its network (that takes "Use this network")."""
    run.auto_adopt = False
    s.book.activate(run)


def _row(run: Run) -> dict:
    trainer, config = run.trainer, run.config
    records = trainer.records()
    epochs = [r for r in records if r.get("kind") == "epoch"]
    last = epochs[-1] if epochs else (records[-1] if records else {})
    test = run.results or {}
    status = trainer.status
    lr = f"{config.learning_rate:g}" + ("" if status.lr == config.learning_rate else f"→{status.lr:g}")
    return {"run": run.label, "state": run.state, "network": spec_summary(trainer.spec),
            "optimiser": config.optimizer, "η": lr, "batch": config.batch_size,
            "epochs": f"{status.epoch}/{config.epochs}", "seed": config.seed,
            "train loss": _fmt(last.get("train_loss")), "train acc": _fmt(last.get("train_acc")),
            "val loss": _fmt(last.get("val_loss")), "val acc": _fmt(last.get("val_acc")),
            "test loss": _fmt(test.get("loss")), "test acc": _fmt(test.get("accuracy")), "init": config.init,
            "time (s)": f"{status.elapsed:.1f}"}


def _fmt(v) -> str:
    """A metric for the table; blank for none, NaN, or anything a stored run holds that is not a number."""
    if not isinstance(v, int | float | np.number) or isinstance(v, bool) or np.isnan(v):
        return ""
    return f"{v:.4f}"
