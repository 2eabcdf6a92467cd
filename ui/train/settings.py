"""The Train page's saved settings, one table (``TABLE``): the widgets read it, the workspace saves and restores
from it, a teacher's push reaches the widgets through it (``show_outside``) and the engine's config is built from it."""
from __future__ import annotations

import streamlit as st

import engine
from engine import data
from engine.training import OPTIMIZERS, TrainConfig
from ui.core.session import CHOSEN_SETTING, SessionState
from ui.core.settings import Setting, Table, take_queued

PAGE = "train"  # the page's name for ``ui.core.settings.queue_settings``
SHOWN = "tr-shown-outside"  # the session's ``outside`` count this page last showed in its widgets
CHOSEN = "tr-dataset-chosen"  # the dataset picked by hand, pushed, or restored as such (a plain key: kept across pages)


_ENGINE = TrainConfig()  # the defaults are the engine's
# Every saved Train setting but the dataset and its options (``data.options``: their own keys). The learning rate's
# widget is the optimiser's own (``lr_key``), its default the optimiser registry's (``lr_default``); a new dataset
# suggests Adam's rate and the epochs (``suggested_settings``), written to these same keys.
TABLE = Table((
    Setting("optimizer", "tr-opt", str, _ENGINE.optimizer),
    Setting("lr", "tr-lr-{optimizer}", float, None, 1e-6, 1e6),
    Setting("momentum", "tr-momentum", float, _ENGINE.momentum, 0.0, 0.99),
    Setting("betas", "tr-beta1", float, _ENGINE.betas[0], 0.0, 0.9999, part=0),
    Setting("betas", "tr-beta2", float, _ENGINE.betas[1], 0.0, 0.9999, part=1),
    Setting("alpha", "tr-alpha", float, _ENGINE.alpha, 0.0, 0.9999),
    Setting("batch_size", "tr-batch", int, _ENGINE.batch_size, 1, 4096),
    Setting("epochs", "tr-epochs", int, _ENGINE.epochs, 1, 500),
    Setting("loss", "tr-loss", str, _ENGINE.loss),
    Setting("init", "tr-init", str, _ENGINE.init),
    Setting("weight_decay", "tr-wd", float, _ENGINE.weight_decay, 0.0, 1.0),
    Setting("l1", "tr-l1", float, _ENGINE.l1, 0.0, 1.0),
    Setting("clip_norm", "tr-clip", float, _ENGINE.clip_norm, 0.0, 1e6),
    Setting("noise", "tr-noise", float, _ENGINE.noise, 0.0, 1.0),
    Setting("early_stopping", "tr-early", bool, _ENGINE.early_stopping),
    Setting("patience", "tr-patience", int, _ENGINE.patience, 1, 100),
    Setting("shift", "tr-shift", int, _ENGINE.shift, 0, 4),
    Setting("rotate", "tr-rotate", float, _ENGINE.rotate, 0.0, 45.0),
    Setting("erase", "tr-erase", float, _ENGINE.erase, 0.0, 1.0),
    Setting("mixup", "tr-mixup", float, _ENGINE.mixup, 0.0, 5.0),
    Setting("flip", "tr-flip", bool, _ENGINE.flip),
    Setting("bptt", "tr-bptt", int, _ENGINE.bptt, 0, 1000),
    Setting("seed", "tr-seed", int, _ENGINE.seed, 0, 10**6),
))


def row(name: str, part: int | None = None) -> Setting:
    """The table's row for a ``TrainConfig`` field (and ``part`` of a pair)."""
    return next(r for r in TABLE if r.name == name and r.part == part)


def key(name: str, part: int | None = None) -> str:
    """The widget key of a setting (the learning rate's: see ``lr_key``)."""
    return row(name, part).key


def lr_key(optimizer: str) -> str:
    """Each optimiser keeps its own learning rate widget, so switching back shows the rate it had."""
    return row("lr").key.format(optimizer=optimizer)


def lr_default(optimizer: str) -> float:
    """The learning rate a fresh page shows: the optimiser registry's."""
    return float(OPTIMIZERS[optimizer].default_lr)


def number(name: str, label: str, part: int | None = None, default_value=None, **kwargs):
    """A number input for a setting: its key, range and default from the table (``default_value`` overrides the
    default: a dataset's suggestion)."""
    r = row(name, part)
    value = r.default if default_value is None else default_value
    return r.kind(st.number_input(label, r.lo, r.hi, r.kind(value), key=r.key, **kwargs))


def learning_rate(optimizer: str, label: str, default_value: float | None = None, **kwargs) -> float:
    """The optimiser's own learning rate input (``default_value`` overrides the registry's: a dataset's suggestion)."""
    r = row("lr")
    value = lr_default(optimizer) if default_value is None else default_value
    return float(st.number_input(label, r.lo, r.hi, float(value), key=lr_key(optimizer), **kwargs))


def slider(name: str, label: str, **kwargs):
    r = row(name)
    return r.kind(st.slider(label, r.lo, r.hi, r.default, key=r.key, **kwargs))


def choice(name: str, label: str, options: list, **kwargs):
    r = row(name)
    return st.selectbox(label, options, index=options.index(r.default), key=r.key, **kwargs)


def checkbox(name: str, label: str, **kwargs) -> bool:
    r = row(name)
    return bool(st.checkbox(label, value=r.default, key=r.key, **kwargs))


def config_of(values: dict, **fields) -> TrainConfig:
    """The engine's config from the settings' values by name (the widgets not drawn give their defaults); a pair's
    parts come as ``(name, part)``; ``fields``: the dataset and its options. Raises InputError or ValueError."""
    parts: dict = {}
    out = {}
    for r in TABLE:
        value = values.get((r.name, r.part) if r.part is not None else r.name, r.default)
        if r.part is None:
            out[r.name] = value
        else:
            parts.setdefault(r.name, {})[r.part] = r.kind(value)
    out.update({name: tuple(v[i] for i in sorted(v)) for name, v in parts.items()})
    return TrainConfig(**{**out, **fields}).check()


def widget_state(config: dict | None) -> dict:
    """The settings widgets' values that show a stored ``TrainConfig`` dict (a reopened workspace, a teacher's push).

    Values outside a widget's range are brought inside it; unknown datasets and bad values are left out, so the
    widget keeps its default.
    """
    try:
        config = TrainConfig.from_dict(config) if config else None
    except (engine.InputError, TypeError, ValueError):
        return {}
    if config is None:
        return {}
    out = {}
    for r in TABLE:
        if r.name == "lr":
            out[lr_key(config.optimizer)] = r.shown(config.learning_rate)
        else:
            value = getattr(config, r.name)
            out[r.key] = r.shown(value if r.part is None else value[r.part])
    if config.dataset in data.names():  # whether it was chosen is not in the config: see ``chosen_state``
        out["tr-dataset"] = config.dataset
        for opt, value in config.dataset_options.items():
            if opt in data.options(config.dataset):
                out[f"tr-ds-{config.dataset}-{opt}"] = value
    return out


def chosen_state(settings: dict, spec) -> dict:
    """``{CHOSEN: dataset}`` when the saved Train settings' dataset was the student's (or a teacher's) choice, else
    ``{}``: a dataset ``data.fit`` picked for the network follows the next network.

    Settings saved before the flag existed: the dataset counts as chosen only if it is not ``data.fit``'s for the
    saved network, since the automatic choice is always that one (a chosen one equal to it is indistinguishable;
    taking it as automatic costs at most a dataset the next network would change anyway).
    """
    try:
        name = TrainConfig.from_dict(settings.get("train")).dataset
    except (engine.InputError, TypeError, ValueError):
        return {}
    if name not in data.names():
        return {}
    chosen = settings.get(CHOSEN_SETTING)
    if chosen is None:
        chosen = name != data.fit(spec)
    return {CHOSEN: name} if chosen is True else {}


def show_outside(s: SessionState) -> None:
    """A restored workspace or a teacher's push since the page last drew: its settings reach the widgets (here only;
    call before any widget); then any values left by ``queue_settings(PAGE, ...)``."""
    show_queued()
    if st.session_state.get(SHOWN, 0) == s.outside:
        return
    st.session_state[SHOWN] = s.outside
    st.session_state.update(widget_state(s.settings.get("train")))
    st.session_state.pop(CHOSEN, None)
    st.session_state.update(chosen_state(s.settings, s.outside_spec or s.spec))  # judged for the network it came with


def show_queued() -> None:
    """Values left for this page by ``queue_settings(PAGE, {name: value})`` (the range test's "Use this η") reach
    their widgets, read and clamped like a saved value; the learning rate goes to the current optimiser's widget.
    A pair's parts (Adam's betas) are not taken this way."""
    queued = take_queued(PAGE)
    if not queued:
        return
    values = TABLE.read(queued)
    optimizer = values.get("optimizer", st.session_state.get(key("optimizer"), row("optimizer").default))
    for r in TABLE:
        if r.name in values and r.part is None:
            st.session_state[lr_key(optimizer) if r.name == "lr" else r.key] = values[r.name]
