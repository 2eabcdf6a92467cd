"""The Gradients page's experiments: seeded models, fixed batches, and background training runs.

Depth: a deep MLP on 8×8 digits, its per-layer weight-gradient norms at initialisation and every few
steps of training. Time: a one-layer RNN, LSTM or GRU on a long-range many-to-one task, its
‖∂L/∂h_t‖ curve, the raw and clipped total gradient norm, and the loss over training steps.
Training runs in the background (``engine.training.Trainer``); the helpers here build those runs
and turn their metric records into the series the page draws.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from engine import data, limits
from engine.gradients.norms import layer_grad_norms, recurrent_stats, timestep_grad_norms
from engine.gradients.unroll import cell_kind, recurrent_layers, recurrent_radius, set_recurrent_radius
from engine.network.build import build
from engine.network.init import init_weights, make_depth_mlp
from engine.network.spec import ModelSpec
from engine.training import TrainConfig, Trainer, load_weights, save_weights

CELLS = {"RNN (tanh)": ("RNN", "tanh"), "RNN (ReLU)": ("RNN", "relu"), "LSTM": ("LSTM", None),
         "GRU": ("GRU", None)}
TASKS = ("adding", "copy")
BATCH = 64
ADDING_BASELINE = 0.167  # mean squared error of always answering 1 (the adding problem's dataset text)
DEPTH_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 1e-3}  # the lab's optimisers (OPTIMIZERS names) and their rates
HEARTBEAT = 20.0  # seconds without a page poll before a run stops itself (a closed tab)
HIST_EVERY = 5  # steps between the depth run's histogram records (the Glorot figure's slider; a tiny MLP's cost little)
# The side-by-side comparison: the same data, hidden size and seed for each cell, Adam at this rate, clipped.
COMPARE_CELLS = ("RNN (tanh)", "LSTM", "GRU")
COMPARE_LR = 1e-2
COMPARE_CLIP = 1.0
# A comparison where the gated cells learn and the vanilla RNN does not at a long T, in about a minute per cell on
# a 2-core CPU (pinned by tests/engine/gradients/test_gradients_long_t.py).
LONG_SEQUENCES = {"task": "adding", "T": 100, "hidden": 32, "steps": 2000}
# The linear regime: zero biases and inputs this small (in float64) keep every state near 0, where
# tanh' = 1 and sigmoid gates sit at 1/2, so ∂h_t/∂h_k is exactly Π W_hhᵀ: radius 0.5 decays, 1.5 grows.
LINEAR_SCALE = 1e-100


def float64_copy(model: nn.Module) -> nn.Module:
    """A float64 copy on the model's device to measure on: float32 gradients of deep or long nets leave its range."""
    return copy.deepcopy(model).double()


def depth_batch(n: int = 128, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One fixed batch of 8×8 digits ``(n, 1, 8, 8)`` with labels ``(n,)``."""
    ds = data.load("digits", seed=seed)
    return ds.x_train[:n], ds.y_train[:n]


def depth_model(depth: int, width: int, activation: str, scheme: str, batch_norm: bool = False,
                residual: bool = False, seed: int = 0) -> nn.Module:
    """A seeded depth-lab MLP for 8×8 digits, initialised with ``scheme`` (see ``init.SCHEMES``)."""
    spec = make_depth_mlp(depth, width, activation, batch_norm, residual, input_shape=[1, 8, 8], num_classes=10)
    return init_weights(build(spec, seed=seed), scheme, seed=seed)


def layer_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[list[str], np.ndarray]:
    """The Linear layers' weight-gradient norms input to output, measured on a float64 copy: (labels, norms)."""
    pairs = [(label, norm) for label, norm in layer_grad_norms(float64_copy(model), x, y)
             if label.endswith("Linear")]
    return [label for label, _ in pairs], np.array([norm for _, norm in pairs])


def layer_names(weight_labels: list[str], word: str = "layer") -> list[str]:
    """The names a page gives the weights of a norms chart, input to output: "layer 1", "layer 2", …

    ``word="weight"`` where a weight is not always a layer (a BatchNorm γ, an RNN's two matrices): "weight 1", …
    """
    return [f"{word} {k}" for k in range(1, len(weight_labels) + 1)]


def _position(label: str) -> tuple:
    """A module label's place in the network ("4.2 ReLU" -> (4, 2)), to compare with other labels."""
    path = label.split(" ", 1)[0]
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.split("."))


def activation_names(weight_labels: list[str], stats: list[dict], word: str = "layer") -> list[str]:
    """Each activation named after the weight before it, as the norms chart numbers them: "layer 3 · Sigmoid"
    (``word="weight"``: "after weight 3 · Sigmoid"); two that would share a name get their module's path added,
    "layer 1 · ReLU (module 2)", so that a chart's rows and a table's lines stay apart.

    Args:
        weight_labels: the norms chart's labels in order ("1 Linear", "3 Linear", …; ``layer_norms``).
        stats: ``activation_stats`` (names "2 Sigmoid", "4.2 ReLU", …).
    """
    places = [_position(label) for label in weight_labels]
    after = f"{word} " if word == "layer" else f"after {word} "
    names = []
    for s in stats:
        here = _position(s["name"])
        k = sum(1 for place in places if place < here)  # weights that come before it in the network
        kind = s["name"].split(" ", 1)[-1]
        names.append(f"{after}{k} · {kind}" if k else f"before {word} 1 · {kind}")
    repeated = {n for n in names if names.count(n) > 1}
    return [f"{n} (module {s['name'].split(' ', 1)[0]})" if n in repeated else n for n, s in zip(names, stats)]


def weight_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[list[str], np.ndarray]:
    """Every weight's gradient norm input to output (convolutions, γ, recurrent matrices too), on a float64 copy.

    Dropout is off in the copy, so the chart does not change from one redraw to the next; BatchNorm
    keeps the model's mode.
    """
    model = float64_copy(model)
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.eval()
    pairs = layer_grad_norms(model, x, y)
    return [label for label, _ in pairs], np.array([norm for _, norm in pairs])


def fitted_model(spec: ModelSpec, model: nn.Module | None, ds: data.Dataset,
                 trained_on: str | None = None) -> tuple[nn.Module, list[str]]:
    """A network ready to measure on ``ds``: the trained ``model`` itself when it was trained on ``ds``,
    else ``spec`` fitted with ``data.adapt_spec`` and built with seed 0 (what the Train page would start from).

    Returns:
        (the model, the notes of what adapting changed).

    Raises:
        SpecError: the network cannot read this data.
    """
    if model is not None and trained_on == ds.name:
        return model, []
    adapted, notes = data.adapt_spec(spec, ds)
    return build(adapted, seed=0), notes


def sequence_task(task: str, T: int, seed: int = 0) -> data.Dataset:
    """The adding problem or the copy task with sequences of length T."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; one of {', '.join(TASKS)}")
    return data.load(task, seed=seed, T=T)


def time_spec(cell: str, hidden: int, ds: data.Dataset) -> ModelSpec:
    """A many-to-one recurrent network for a sequence dataset: one cell reading (T, F), then Linear."""
    kind, nonlinearity = CELLS[cell]
    layer = {"type": kind, "hidden_size": hidden, "output": "last"}
    if nonlinearity:
        layer["nonlinearity"] = nonlinearity
    out = len(ds.classes) if ds.task == "classification" else 1
    return ModelSpec.from_dict({"name": f"{kind.lower()}-{ds.name}", "input": list(ds.input_shape),
                                "layers": [layer, {"type": "Linear", "out_features": out}]})


def time_model(cell: str, hidden: int, ds: data.Dataset, seed: int = 0) -> nn.Module:
    """A seeded recurrent model for ``ds`` with PyTorch's default initialisation."""
    return build(time_spec(cell, hidden, ds), seed=seed)


def with_radius(model: nn.Module, radius: float | None, kind: str = "spectral",
                linear: bool = False) -> tuple[nn.Module, float]:
    """A copy of a recurrent model with W_hh rescaled to ``radius`` (None: as initialised).

    Args:
        model: the recurrent model (left untouched).
        radius: the target spectral radius ρ (``kind="spectral"``) or largest singular value σ_max
            (``kind="singular"``) of every W_hh block.
        kind: "spectral" or "singular", as in ``unroll.set_recurrent_radius``.
        linear: also zero the recurrent layers' biases (the linear regime, with ``linear_probe``).

    Returns:
        (the copy, the largest singular value of its W_hh blocks).
    """
    clone = copy.deepcopy(model)
    if radius is not None:
        set_recurrent_radius(clone, radius, kind)
    if linear:
        with torch.no_grad():
            for rnn in recurrent_layers(clone):
                for name, param in rnn.named_parameters():
                    if name.startswith("bias"):
                        param.zero_()
    return clone, recurrent_radius(clone, "singular")


def probe_batch(ds: data.Dataset, n: int, linear: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` training sequences, in float64; ``linear`` scales the inputs by ``LINEAR_SCALE``."""
    x, y = ds.x_train[:n].double(), ds.y_train[:n]
    return (x * LINEAR_SCALE if linear else x), (y.double() if y.is_floating_point() else y)


def time_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖ for an LSTM, else None) on a float64 copy: {"h": (T,), "c": (T,) or None}."""
    model = float64_copy(model)
    if cell_kind(recurrent_layers(model)[0]) == "LSTM":
        return timestep_grad_norms(model, x, y, cell_state=True)
    return {"h": timestep_grad_norms(model, x, y), "c": None}


def time_stats(model: nn.Module, x: torch.Tensor) -> dict:
    """``gradients.recurrent_stats`` on a float64 copy: saturation, active units, the mean gate."""
    return recurrent_stats(float64_copy(model), x)


def depth_trainer(depth: int, width: int, activation: str, scheme: str, batch_norm: bool = False,
                  residual: bool = False, optimizer: str = "momentum", lr: float | None = None, epochs: int = 5,
                  dataset: data.Dataset | None = None, seed: int = 0, metrics_every: int = 2) -> Trainer:
    """A background training run of the depth-lab MLP on digits, not yet started.

    Args:
        depth, width, activation, scheme, batch_norm, residual: the network, as in ``depth_model``.
        optimizer: an ``engine.training.OPTIMIZERS`` name; lr None takes ``DEPTH_LR`` for it.
        epochs: passes over the digits training set (20 steps of 64 each).
        dataset: the loaded digits (loaded when None).
        metrics_every: steps between records of the per-layer gradient norms.
    """
    spec = make_depth_mlp(depth, width, activation, batch_norm, residual, input_shape=[1, 8, 8], num_classes=10)
    config = TrainConfig(dataset="digits", optimizer=optimizer, lr=lr if lr is not None else DEPTH_LR[optimizer],
                         batch_size=BATCH, epochs=epochs, init=scheme, seed=seed, device="auto",
                         metrics_every=metrics_every, heartbeat_timeout=HEARTBEAT)
    return Trainer(spec, config, dataset=dataset if dataset is not None else data.load("digits", seed=seed),
                   hist_every=HIST_EVERY)


def time_trainer(cell: str, hidden: int, ds: data.Dataset, clip: float = 1.0, lr: float = 3e-3,
                 max_seconds: float = 60.0, radius: float | None = None, seed: int = 0,
                 metrics_every: int = 5, kind: str = "spectral", steps: int | None = None) -> Trainer:
    """A background Adam run of a recurrent model on a sequence task, capped in time or in steps, not yet started.

    Runs on ``engine.device.pick()``'s device, like every other run.

    Args:
        cell: one of ``CELLS``; hidden: its hidden size; ds: the sequence dataset.
        clip: gradient-norm clipping threshold (0: off).
        lr: Adam's learning rate.
        max_seconds: training-time cap (the run stops itself then; epochs are effectively unlimited).
        radius: rescale W_hh to this radius (``kind``) before training (None: PyTorch's initialisation).
        metrics_every: steps between loss and gradient-norm records.
        kind: "spectral" (ρ) or "singular" (σ_max), as in ``with_radius``.
        steps: train this many steps (rounded up to whole epochs) instead, within ``limits.MAX_RUN_SECONDS``.
    """
    epochs, seconds = 10_000, max_seconds
    if steps is not None:
        epochs = max(1, math.ceil(steps / math.ceil(len(ds.x_train) / BATCH)))
        seconds = float(limits.MAX_RUN_SECONDS)  # the server's cap still holds on a loaded server
    config = TrainConfig(dataset=ds.name, optimizer="adam", lr=lr, batch_size=BATCH, epochs=epochs,
                         clip_norm=clip, seed=seed, device="auto", metrics_every=metrics_every,
                         max_seconds=seconds, heartbeat_timeout=HEARTBEAT)
    trainer = Trainer(time_spec(cell, hidden, ds), config, dataset=ds)
    if radius is not None:  # start from the rescaled W_hh the at-initialisation view shows
        scaled, _ = with_radius(trainer.model, radius, kind)
        trainer.load_weights(save_weights(scaled))
    return trainer


def compare_trainers(hidden: int, ds: data.Dataset, steps: int | None = None,
                     max_seconds: float | None = None) -> list[Trainer]:
    """The side-by-side comparison's runs, one per ``COMPARE_CELLS``, not yet started.

    Each: ``time_trainer`` with PyTorch's initialisation, seed 0, Adam at ``COMPARE_LR``, clipping at
    ``COMPARE_CLIP``; capped at ``steps`` each (rounded up to whole epochs) or ``max_seconds`` each.
    """
    cap = dict(steps=steps) if steps is not None else dict(max_seconds=max_seconds if max_seconds else 60.0)
    return [time_trainer(cell, hidden, ds, clip=COMPARE_CLIP, lr=COMPARE_LR, **cap) for cell in COMPARE_CELLS]


def private_copy(trainer: Trainer) -> nn.Module:
    """A float64 CPU model of the run's network that the page may measure freely (the running model is untouched)."""
    return build(trainer.spec).double()


def snapshot_norms(model: nn.Module, weights: bytes, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """‖∂L/∂h_t‖ for t = 1..T of ``model`` after loading a run's ``weights`` (``Trainer.weights()``) into it."""
    load_weights(model, weights)
    return timestep_grad_norms(model, x, y)


def trained_time_norms(trainer: Trainer, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """‖∂L/∂h_t‖ for t = 1..T of a run's current weights on the fixed batch ``x``, ``y`` (float64, autograd)."""
    return snapshot_norms(private_copy(trainer), trainer.weights(), x, y)


def trained_layer_norms(trainer: Trainer, x: torch.Tensor, y: torch.Tensor) -> tuple[list[str], np.ndarray]:
    """``layer_norms`` (weights only, float64) of a run's current weights on the fixed batch ``x``, ``y``."""
    model = private_copy(trainer)
    load_weights(model, trainer.weights())
    return layer_norms(model, x, y)


def steps_of(records: list[dict]) -> list[dict]:
    """The step records (not the end-of-epoch ones)."""
    return [r for r in records if r.get("kind") == "step"]


def layer_series(records: list[dict]) -> tuple[list[int], list[str], np.ndarray]:
    """Linear layers' gradient norms over a run's step records: (steps, labels, ``(steps, layers)`` matrix)."""
    rows = steps_of(records)
    labels = [label for label in rows[0]["grad_norm"] if label.endswith("Linear")] if rows else []
    matrix = np.array([[r["grad_norm"][label] for label in labels] for r in rows]).reshape(len(rows), len(labels))
    return [r["step"] for r in rows], labels, matrix


def loss_series(records: list[dict]) -> tuple[list[int], list[float]]:
    """(steps, training loss): each value is the mean over the steps since the previous record."""
    rows = steps_of(records)
    return [r["step"] for r in rows], [r["train_loss"] for r in rows]


def clip_series(records: list[dict], threshold: float) -> tuple[list[int], list[float], list[float]]:
    """(steps, raw total gradient norm, clipped norm = min(raw, threshold)); threshold 0 means no clipping."""
    rows = steps_of(records)
    raw = [r["grad_norm_total"] for r in rows]
    return [r["step"] for r in rows], raw, [min(g, threshold) if threshold else g for g in raw]


def final_loss(records: list[dict], last: int = 5) -> float | None:
    """The mean training loss of the last ``last`` step records (None before any)."""
    _, loss = loss_series(records)
    return float(np.mean(loss[-last:])) if loss else None


def held_out_loss(records: list[dict]) -> float | None:
    """The loss on the validation sequences at the last epoch's end (None before one): data it never trained on."""
    epochs = [r for r in records if r.get("kind") == "epoch" and r.get("val_loss") is not None]
    return float(epochs[-1]["val_loss"]) if epochs else None


def outcome(records: list[dict], reference: float) -> dict:
    """A comparison cell's verdict, judged on the held-out loss (the training loss until an epoch has ended).

    A long copy task can be memorised: at T = 100 an LSTM's training loss fell far below chance while its
    held-out loss rose above it. ``memorised`` flags a training loss that says "learned" when the held-out
    loss does not.

    Returns:
        {"verdict": ``verdict(...)``, "train": ``final_loss``, "held_out": ``held_out_loss``, "memorised": bool,
        "judged": the loss judged on, "judged_on": "held-out", "training" (no epoch ended) or None (no step)}.
    """
    train, held_out = final_loss(records), held_out_loss(records)
    judged = held_out if held_out is not None else train
    said = verdict(judged, reference)
    memorised = held_out is not None and verdict(train, reference) == "learned" and said != "learned"
    on = "held-out" if held_out is not None else "training" if train is not None else None
    return {"verdict": said, "train": train, "held_out": held_out, "memorised": memorised, "judged": judged,
            "judged_on": on}


def baseline(ds: data.Dataset) -> float:
    """The loss of answering without memory: always 1 on the adding problem (MSE ≈ 0.167); chance on copy (ln K)."""
    return ADDING_BASELINE if ds.task == "regression" else float(np.log(len(ds.classes)))


def verdict(loss: float | None, reference: float) -> str:
    """Whether a final loss beat the memoryless baseline: "learned", "partly learned" or "did not learn"."""
    if loss is None:
        return "no result"
    if loss < 0.5 * reference:
        return "learned"
    return "partly learned" if loss < 0.9 * reference else "did not learn"


def ratio(norms: np.ndarray) -> float:
    """first / last of a gradient-norm curve: ≪ 1 vanishing towards the input (or the past), ≫ 1 exploding."""
    last = float(norms[-1])
    return float(norms[0]) / last if last > 0 else float("inf")


def ratio_text(norms: np.ndarray) -> str:
    """``ratio`` as the readouts print it, or in words why there is no number (a 0 or an overflow)."""
    first, last = float(norms[0]), float(norms[-1])
    if not (math.isfinite(first) and math.isfinite(last)):
        return "not finite: the numbers overflowed even in float64 (beyond 1e308)"
    if last == 0:
        return "undefined: the last norm is exactly 0"
    if first == 0:
        return "0: the first norm is below float64's smallest number (about 1e-308)"
    return f"{first / last:.3g}"
