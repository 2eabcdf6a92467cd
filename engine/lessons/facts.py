"""What a stored run says about itself, read from its stored spec, config, records, results and context (never
from the page's word): its dataset, preset, layers, parameters, test numbers, curves and Gradients experiment.

A run is anything with a ``RunRecord``'s fields (``number``, ``group``, ``spec``, ``config``, ``state``,
``records``, ``results``, ``context``): what ``engine.workspace.Store.open`` returns for each run.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache

import numpy as np

from engine.errors import InputError, SpecError
from engine.network import ModelSpec, presets, summarize

WEIGHT_LAYERS = ("Linear", "Conv1d", "Conv2d", "ConvTranspose2d", "RNN", "LSTM", "GRU")  # a layer of weights
CURES = {"dropout": "a Dropout layer", "l2": "an L2 penalty (weight_decay > 0)",
         "early_stopping": "early stopping"}
ARRAY_TAG = "__ndarray__"  # how a workspace's JSON keeps a numpy array (engine.workspace.columns.to_jsonable)


def usable(run) -> bool:
    """A finished run measured on this server: not live, not failed, not imported from a file (its numbers were
    not measured here)."""
    return run.state == "finished" and not imported(run)


def imported(run) -> bool:
    """Whether the run came from an uploaded workspace file."""
    return isinstance(run.context, dict) and run.context.get("imported") is True


def config(run) -> dict:
    """The run's stored settings (a ``TrainConfig`` dict), {} when unreadable."""
    return run.config if isinstance(run.config, dict) else {}


def setting(run, name: str, default: float = 0.0) -> float:
    """A numeric training setting of the run (``default`` when absent or not a number)."""
    value = config(run).get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def dataset(run) -> str | None:
    """The dataset the run trained on."""
    name = config(run).get("dataset")
    return name if isinstance(name, str) else None


def dataset_options(run) -> dict:
    """The dataset's options the run trained with ({} for the defaults)."""
    options = config(run).get("dataset_options")
    return options if isinstance(options, dict) else {}


def layer_types(run) -> list[str]:
    """Every layer type of the run's network, nested blocks' layers included, in order."""
    found = []

    def walk(layers):
        for layer in layers if isinstance(layers, list) else []:
            if isinstance(layer, dict):
                found.append(str(layer.get("type")))
                walk(layer.get("layers"))

    walk(run.spec.get("layers") if isinstance(run.spec, dict) else None)
    return found


def hidden_layers(run) -> int:
    """Layers of weights minus the output layer: 0 for a perceptron, 1 for one hidden layer."""
    return max(0, sum(t in WEIGHT_LAYERS for t in layer_types(run)) - 1)


def preset(run) -> str | None:
    """The preset the run's network came from (edited or not), else None."""
    found = presets.origin(run.spec) if isinstance(run.spec, dict) else None
    return found[0] if found else None


def parameters(run) -> int | None:
    """The run's network's trainable parameters (PyTorch's count), None for a spec that does not summarise."""
    return _parameters(json.dumps(run.spec, sort_keys=True))


def bottleneck(run) -> int | None:
    """The fewest values any top-level layer of the run's network passes on per sample (an autoencoder's code),
    None for a spec that does not summarise."""
    return _summary(json.dumps(run.spec, sort_keys=True))[1]


@lru_cache(maxsize=256)
def _parameters(spec_json: str) -> int | None:
    return _summary(spec_json)[0]


@lru_cache(maxsize=256)
def _summary(spec_json: str) -> tuple[int | None, int | None]:
    """(parameters, bottleneck) of a stored spec from PyTorch's own summary; (None, None) if it does not summarise."""
    try:
        summary = summarize(ModelSpec.from_dict(json.loads(spec_json)))
    except (SpecError, InputError, TypeError, ValueError, KeyError):
        return None, None
    sizes = [math.prod(row.output_shape) for row in summary.rows if row.depth == 0 and row.output_shape]
    return int(summary.total_params), (min(sizes) if sizes else None)


def result(run, name: str) -> float | None:
    """A stored test number: "accuracy" or "loss" (None when absent or not finite)."""
    value = run.results.get(name) if isinstance(run.results, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def epochs(run) -> list[dict]:
    """The run's end-of-epoch records with finite train and validation losses."""
    out = []
    for r in run.records or []:
        if isinstance(r, dict) and r.get("kind") == "epoch":
            t, v = r.get("train_loss"), r.get("val_loss")
            if isinstance(t, int | float) and isinstance(v, int | float) and math.isfinite(t) and math.isfinite(v):
                out.append(r)
    return out


def epochs_run(run) -> int:
    """Epochs the run trained (its last epoch record's), 0 before one ended."""
    found = epochs(run)
    return int(found[-1].get("epoch") or 0) if found else 0


def cures(run) -> list[str]:
    """The overfitting cures the run used, among ``CURES``."""
    cfg = config(run)
    used = []
    if "Dropout" in layer_types(run):
        used.append("dropout")
    if setting(run, "weight_decay") > 0:
        used.append("l2")
    if cfg.get("early_stopping") is True:
        used.append("early_stopping")
    return used


def first_step(run) -> dict | None:
    """The run's first step record (gradient norms per layer as training began), None before one."""
    for r in run.records or []:
        if isinstance(r, dict) and r.get("kind") == "step" and isinstance(r.get("grad_norm"), dict):
            return r
    return None


def experiment(run) -> tuple[list, dict]:
    """A Gradients experiment's stored settings key and shared data: (key list, shared dict), empty when none."""
    context = run.context if isinstance(run.context, dict) else {}
    key, shared = context.get("key"), context.get("shared")
    return (key if isinstance(key, list) else []), (shared if isinstance(shared, dict) else {})


def curve(value) -> np.ndarray | None:
    """A stored 1-D curve of numbers (a list, an array, or the workspace's tagged array), None otherwise."""
    if isinstance(value, dict) and ARRAY_TAG in value:
        value = value[ARRAY_TAG]
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array.reshape(-1) if array.size else None


def time_settings(run) -> dict | None:
    """A Gradients "Through time" run's settings as stored in its key, None for any other run.

    The key is (cell, task, T, hidden, radius, scale, linear, clip, seconds) (``ui/gradients_time_ui.py``).
    """
    key, shared = experiment(run)
    if run.group != "time" or len(key) < 8:
        return None
    names = ("cell", "task", "T", "hidden", "radius", "scale", "linear", "clip")
    return dict(zip(names, key)) | {"snaps": shared.get("snaps"), "snap_steps": shared.get("snap_steps")}
