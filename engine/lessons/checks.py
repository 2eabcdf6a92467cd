"""The check registry: named predicates on a student's stored workspace, with typed, range-checked parameters.

A lesson's step names a check and gives its parameters in the lesson file; ``evaluate`` runs it on what the
database holds (``Store.open``'s runs: their stored spec, config, records, results and context) and says whether it
passed and what passed it. A new lesson needs no Python: only a new kind of check does (``register``).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from engine import data
from engine.gradients import lab
from engine.lessons import facts
from engine.lessons.fields import Form, LessonError, Param, join, short
from engine.network import TYPES, presets
from engine.training import OPTIMIZERS


@dataclass(frozen=True)
class Verdict:
    """What a check found: ``passed``, the run numbers that passed it (in order), and a sentence saying so."""

    passed: bool
    runs: tuple[int, ...] = ()
    evidence: str = ""

    def to_dict(self) -> dict:
        """JSON-able, as a tick keeps it."""
        return {"passed": self.passed, "runs": list(self.runs), "evidence": self.evidence}


@dataclass(frozen=True)
class Check:
    """A named predicate: ``run(params, runs) -> Verdict`` on checked ``params``; ``form`` checks them."""

    name: str
    description: str
    form: Form
    run: Callable[[dict, list], Verdict] = field(repr=False)


CHECKS: dict[str, Check] = {}
PROBE = 32  # sequences the Gradients page measures ‖∂L/∂h_t‖ on (ui/gradients_ui.py's PROBE)


def register(name: str, description: str, **params: Param):
    """Decorator: add a check under ``name`` with its parameters (``Param``s) to ``CHECKS``."""
    def wrap(function: Callable[[dict, list], Verdict]) -> Callable[[dict, list], Verdict]:
        CHECKS[name] = Check(name, description, Form(dict(params)), function)
        return function
    return wrap


@dataclass(frozen=True)
class CheckSpec:
    """A check as a lesson step names it: the registry's name and its checked parameters."""

    name: str
    params: dict

    def to_dict(self) -> dict:
        """As in the lesson file."""
        return {"name": self.name, "params": dict(self.params)}


def parse_check(table, where: str = "check") -> CheckSpec:
    """A lesson file's ``check`` table ({name, params}) checked against the registry.

    Raises:
        LessonError: an unknown check, a missing or unknown parameter, one out of range (naming the field).
    """
    if not isinstance(table, dict):
        raise LessonError(where, f"should be a table with a name and params, not {short(table)}")
    unknown = [k for k in table if k not in ("name", "params")]
    if unknown:
        raise LessonError(join(where, unknown[0]), "unknown field; a check has a name and params")
    name = table.get("name")
    if not isinstance(name, str):
        raise LessonError(join(where, "name"), "missing: the name of a check, one of " + ", ".join(CHECKS))
    if name not in CHECKS:
        raise LessonError(join(where, "name"), f"unknown check {name!r}; one of {', '.join(CHECKS)}")
    params = CHECKS[name].form.check(table.get("params", {}), join(where, "params"))
    _needs_one(name, params, join(where, "params"))
    return CheckSpec(name, params)


def _needs_one(name: str, params: dict, where: str) -> None:
    """Checks with two optional bounds need at least one of them."""
    for pair in (("at_least", "at_most"), ("ratio_above", "ratio_below")):
        if all(p in CHECKS[name].form.params for p in pair) and all(params[p] is None for p in pair):
            raise LessonError(where, f"give {pair[0]} or {pair[1]} (or both)")


def evaluate(check: CheckSpec, workspace_data) -> Verdict:
    """Run a step's check on a stored workspace.

    Args:
        check: a ``CheckSpec`` (a lesson step's ``check``).
        workspace_data: what ``engine.workspace.Store.open`` returns (anything with ``runs``), or a list of runs.

    Returns:
        ``Verdict``: passed, the numbers of the runs that passed it, and a sentence naming them and the numbers.
    """
    runs = workspace_data if isinstance(workspace_data, list) else list(workspace_data.runs)
    return CHECKS[check.name].run(check.params, runs)


# ------------------------------------------------------------------------------------ shared parameters
def _datasets():
    return data.names()


def _layers():
    return tuple(TYPES)


def _filters(**extra: Param) -> dict[str, Param]:
    """The parameters every run check takes to pick the runs it looks at."""
    return {"dataset": Param("str", "the dataset the run trained on", choices=_datasets),
            "preset": Param("str", "the preset its network came from (edited or not)", choices=presets.names),
            "uses_layer": Param("str", "a layer type its network must contain", choices=_layers),
            "min_hidden_layers": Param("int", "at least this many hidden layers of weights", low=0, high=200),
            "max_hidden_layers": Param("int", "at most this many hidden layers of weights", low=0, high=200),
            "max_parameters": Param("int", "at most this many parameters", low=1, high=10**9),
            "optimizer": Param("str", "the optimiser it trained with", choices=tuple(OPTIMIZERS))} | extra


RUN_FILTERS = _filters()


def _picked(params: dict, runs: list) -> list:
    """The finished, measured-here runs matching the filter parameters, newest number first."""
    out = []
    for run in runs:
        if not facts.usable(run):
            continue
        if params.get("dataset") and facts.dataset(run) != params["dataset"]:
            continue
        if params.get("preset") and facts.preset(run) != params["preset"]:
            continue
        if params.get("uses_layer") and params["uses_layer"] not in facts.layer_types(run):
            continue
        hidden = facts.hidden_layers(run)
        if params.get("min_hidden_layers") is not None and hidden < params["min_hidden_layers"]:
            continue
        if params.get("max_hidden_layers") is not None and hidden > params["max_hidden_layers"]:
            continue
        if params.get("max_parameters") is not None and (facts.parameters(run) or 10**12) > params["max_parameters"]:
            continue
        if params.get("optimizer") and facts.config(run).get("optimizer") != params["optimizer"]:
            continue
        out.append(run)
    return sorted(out, key=lambda r: -r.number)


def _none(params: dict, what: str) -> Verdict:
    shown = {k: v for k, v in params.items() if v is not None}
    return Verdict(False, (), f"No finished run yet {what} ({', '.join(f'{k} {v}' for k, v in shown.items())}).")


def _bounded(value: float | None, params: dict) -> bool:
    return value is not None and (params["at_least"] is None or value >= params["at_least"]) and \
        (params["at_most"] is None or value <= params["at_most"])


# ------------------------------------------------------------------------------------ the checks
@register("run_accuracy", "a finished run whose test accuracy is within the bounds",
          **_filters(at_least=Param("float", "test accuracy at least (0 to 1)", low=0, high=1),
                     at_most=Param("float", "test accuracy at most (0 to 1)", low=0, high=1)))
def run_accuracy(params: dict, runs: list) -> Verdict:
    """Test accuracy (``results["accuracy"]``) within [at_least, at_most] on a run matching the filters."""
    for run in _picked(params, runs):
        accuracy = facts.result(run, "accuracy")
        if _bounded(accuracy, params):
            return Verdict(True, (run.number,), f"Run {run.number} reached {accuracy:.1%} test accuracy on "
                                                f"{facts.dataset(run)}.")
    return _none(params, "with that test accuracy")


@register("run_loss", "a finished run whose test loss is at most a bound (e.g. a language model or autoencoder)",
          **_filters(at_most=Param("float", "test loss at most", required=True, low=0, high=1000),
                     min_noise=Param("float", "trained with input noise at least this (a denoising "
                                              "autoencoder)", default=0.0, low=0, high=10)))
def run_loss(params: dict, runs: list) -> Verdict:
    """Test loss (``results["loss"]``) ≤ at_most, trained with ``noise`` ≥ min_noise."""
    for run in _picked(params, runs):
        loss, noise = facts.result(run, "loss"), facts.setting(run, "noise")
        if loss is not None and loss <= params["at_most"] and noise >= params["min_noise"]:
            return Verdict(True, (run.number,), f"Run {run.number} reached a test loss of {loss:.4g} on "
                                                f"{facts.dataset(run)}.")
    return _none(params, "with that test loss")


@register("optimizers_compared", "finished runs with each optimiser on the same network, data and seed",
          **{k: v for k, v in _filters().items() if k != "optimizer"},
          optimizers=Param("names", "the optimisers to compare", default=["sgd", "momentum", "adam"], low=2, high=6,
                           choices=tuple(OPTIMIZERS)))
def optimizers_compared(params: dict, runs: list) -> Verdict:
    """One run per optimiser, all with the same spec, dataset (and options) and seed."""
    groups: dict[str, dict[str, object]] = {}
    for run in _picked({**params, "optimizer": None}, runs):
        cfg = facts.config(run)
        same = json.dumps([run.spec, facts.dataset(run), facts.dataset_options(run), cfg.get("seed")],
                          sort_keys=True, default=str)
        groups.setdefault(same, {}).setdefault(cfg.get("optimizer"), run)
    for by_optimizer in groups.values():
        if all(o in by_optimizer for o in params["optimizers"]):
            chosen = [by_optimizer[o] for o in params["optimizers"]]
            return Verdict(True, tuple(r.number for r in chosen),
                           "Runs " + ", ".join(f"{r.number} ({facts.config(r).get('optimizer')})" for r in chosen)
                           + " trained the same network on the same data from the same seed.")
    return Verdict(False, (), f"No runs yet with each of {', '.join(params['optimizers'])} on the same network, "
                              f"data and seed: change only the optimiser between runs.")


@register("validation_parts", "a finished run whose validation loss parts from the training loss (overfitting)",
          **_filters(ratio=Param("float", "final validation loss at least this many times the training loss",
                                 default=1.5, low=1, high=1000),
                     rise=Param("float", "and risen this fraction above its lowest value", default=0.1, low=0,
                                high=100)))
def validation_parts(params: dict, runs: list) -> Verdict:
    """Last epoch: val_loss ≥ ratio · train_loss, and val_loss ≥ (1 + rise) · min(val_loss)."""
    for run in _picked(params, runs):
        found = facts.epochs(run)
        if len(found) < 2:
            continue
        last, lowest = found[-1], min(r["val_loss"] for r in found)
        if last["val_loss"] >= params["ratio"] * last["train_loss"] and \
                last["val_loss"] >= (1 + params["rise"]) * lowest:
            return Verdict(True, (run.number,), f"Run {run.number}: after epoch {last.get('epoch')} the validation "
                           f"loss {last['val_loss']:.3g} is {last['val_loss'] / max(last['train_loss'], 1e-12):.1f}"
                           f"× the training loss and has risen from its lowest, {lowest:.3g}.")
    return _none(params, "whose validation loss parts from the training loss")


@register("overfitting_cured", "a finished run with a cure whose test loss beats an uncured run on the same data",
          **_filters(cure=Param("str", "the cure: dropout, l2, early_stopping or any", default="any",
                                choices=(*facts.CURES, "any"))))
def overfitting_cured(params: dict, runs: list) -> Verdict:
    """A run using ``cure`` and one using none, same dataset and options: the cured run's test loss is lower."""
    picked = _picked(params, runs)
    plain = [r for r in picked if not facts.cures(r) and facts.result(r, "loss") is not None]
    for run in picked:
        used = facts.cures(run)
        if not used or (params["cure"] != "any" and params["cure"] not in used):
            continue
        loss = facts.result(run, "loss")
        for other in plain:
            same = (facts.dataset(other), facts.dataset_options(other)) == (facts.dataset(run),
                                                                            facts.dataset_options(run))
            if same and loss is not None and loss < facts.result(other, "loss"):
                return Verdict(True, (run.number, other.number),
                               f"Run {run.number} ({', '.join(used)}) reached a test loss of {loss:.3g}, below run "
                               f"{other.number}'s {facts.result(other, 'loss'):.3g} without a cure.")
    return Verdict(False, (), "No pair yet of a run without a cure and one with it (same data) whose test loss "
                              "is lower.")


@register("layer_gradients", "a finished run whose first weight layer's gradient norm, over the last one's, "
                             "at the first recorded step is within the bounds",
          **_filters(ratio_above=Param("float", "first / last at least", low=0, high=1e300),
                     ratio_below=Param("float", "first / last at most", low=0, high=1e300)))
def layer_gradients(params: dict, runs: list) -> Verdict:
    """‖∂L/∂W_1‖ / ‖∂L/∂W_L‖ of the Linear layers in the first step record (``grad_norm``, per layer)."""
    for run in _picked(params, runs):
        record = facts.first_step(run)
        norms = [v for k, v in (record or {}).get("grad_norm", {}).items() if str(k).endswith("Linear")]
        if len(norms) < 2 or not all(isinstance(v, int | float) for v in norms):
            continue
        value = lab.ratio(facts.curve(norms))
        if _within(value, params):
            return Verdict(True, (run.number,), f"Run {run.number}: the first layer's gradient norm is "
                                                f"{value:.3g} times the last layer's at step {record.get('step')}.")
    return _none(params, "with that gradient-norm ratio")


def _within(value: float, params: dict) -> bool:
    return (params["ratio_above"] is None or value >= params["ratio_above"]) and \
        (params["ratio_below"] is None or value <= params["ratio_below"])


@register("time_gradients", "a Gradients \"Through time\" run whose ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ at initialisation (as the "
                            "page shows it) is within the bounds, with W_hh's spectral radius in range",
          cell=Param("str", "the recurrent cell", choices=tuple(lab.CELLS)),
          radius_above=Param("float", "spectral radius ρ above this", low=0, high=10),
          radius_below=Param("float", "spectral radius ρ below this", low=0, high=10),
          linear=Param("bool", "in the linear regime (true) or on the task's inputs (false); missing: either"),
          ratio_above=Param("float", "‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ at least", low=0, high=1e300),
          ratio_below=Param("float", "‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ at most", low=0, high=1e300))
def time_gradients(params: dict, runs: list) -> Verdict:
    """The at-initialisation ‖∂L/∂h_t‖ curve of a stored time run's settings (its key: cell, task, T, hidden,
    radius, linear regime), measured again by the lab exactly as the page measured it (seeded, float64)."""
    for run in sorted(runs, key=lambda r: -r.number):
        settings = _time_run(run, params)
        if settings is None:
            continue
        value = _init_ratio(settings["cell"], settings["task"], settings["T"], settings["hidden"],
                            float(settings["radius"]), bool(settings["linear"]))
        if value is not None and _within(value, params):
            regime = "linear regime" if settings["linear"] else "the task's inputs"
            return Verdict(True, (run.number,), f"Gradients run {run.number} ({settings['cell']}, ρ = "
                                                f"{settings['radius']:g}, T = {settings['T']}, {regime}): "
                                                f"‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ = {value:.3g} at initialisation.")
    return Verdict(False, (), "No Gradients \"Through time\" run yet with those settings and that ratio: set W_hh's "
                              "spectral radius and press Start.")


@lru_cache(maxsize=64)
def _init_ratio(cell: str, task: str, T: int, hidden: int, radius: float, linear: bool) -> float | None:
    """``lab.ratio`` of the page's at-initialisation ‖∂L/∂h_t‖ curve for these settings (None when invalid)."""
    if cell not in lab.CELLS or task not in lab.TASKS or not isinstance(T, int) or not 5 <= T <= 200 or \
            not isinstance(hidden, int) or not 1 <= hidden <= 512 or not 0 < radius <= 10:
        return None
    ds = lab.sequence_task(task, T)
    model, _ = lab.with_radius(lab.time_model(cell, hidden, ds), radius, "spectral", linear=linear)
    return lab.ratio(lab.time_norms(model, *lab.probe_batch(ds, PROBE, linear=linear))["h"])


def _time_run(run, params: dict) -> dict | None:
    """The time run's settings when they match ``params`` (cell, spectral radius range), else None."""
    settings = facts.time_settings(run)
    if settings is None or facts.imported(run) or settings["scale"] != "spectral":
        return None
    radius = settings["radius"]
    if not isinstance(radius, int | float) or not all(isinstance(settings[k], str) for k in ("cell", "task")) or \
            not all(isinstance(settings[k], int) for k in ("T", "hidden")) or \
            (params.get("cell") and settings["cell"] != params["cell"]):
        return None
    if params.get("linear") is not None and bool(settings["linear"]) != params["linear"]:
        return None
    if (params.get("radius_above") is not None and radius <= params["radius_above"]) or \
            (params.get("radius_below") is not None and radius >= params["radius_below"]):
        return None
    return settings


@register("clipping_used", "a Gradients \"Through time\" run with clipping on whose raw gradient norm passed the "
                           "threshold",
          cell=Param("str", "the recurrent cell", choices=tuple(lab.CELLS)),
          min_clipped_steps=Param("int", "recorded steps whose raw norm passed the threshold", default=1, low=1,
                                  high=100000))
def clipping_used(params: dict, runs: list) -> Verdict:
    """Step records' ``grad_norm_total`` above the stored clipping threshold (> 0) in enough steps."""
    for run in sorted(runs, key=lambda r: -r.number):
        settings = facts.time_settings(run)
        if settings is None or facts.imported(run) or (params["cell"] and settings["cell"] != params["cell"]):
            continue
        threshold = settings["clip"]
        if not isinstance(threshold, int | float) or threshold <= 0:
            continue
        raw = [r.get("grad_norm_total") for r in run.records or [] if isinstance(r, dict) and r.get("kind") == "step"]
        clipped = sum(1 for g in raw if isinstance(g, int | float) and g > threshold)  # clip_series' raw norms
        if clipped >= params["min_clipped_steps"]:
            return Verdict(True, (run.number,), f"Gradients run {run.number}: the raw gradient norm passed the "
                                                f"threshold {threshold:g} at {clipped} recorded steps, clipped "
                                                f"each time.")
    return Verdict(False, (), "No Gradients \"Through time\" run yet with clipping on whose gradient reached the "
                              "threshold.")
