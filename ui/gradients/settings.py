"""The Gradients page's saved settings, one table (``TABLE``): both tabs' widgets take their values from it (``seed``),
the workspace saves and restores it (``save``), a lesson's set-up reaches the widgets through it (``seed``: the one
place) and the lab's configs are built from it (``depth_config``, ``time_config``). Names are ``engine.lessons``'s
(``DEPTH_LAB``, ``TIME_LAB``) where a set-up can fix them."""
from __future__ import annotations

from engine.gradients import lab
from engine.network import DEPTH_LABS, layer_names
from ui.core import workspace
from ui.core.page import state
from ui.core.settings import Setting, Table, take_queued

PAGE = "gradients"  # the workspace's settings entry, and the page's name for ``queue_settings``
ACTIVATIONS = layer_names("Activation", elementwise=True)  # those with a slope bound: Sigmoid … ELU
SCHEME_NAMES = {"normal-0.01": "Small Gaussian (std 0.01)", "xavier": "Xavier", "he": "He",
                "default": "PyTorch default"}
CONTRASTS = {"Sigmoid + small init vs ReLU + He": ("10-layer sigmoid, small init", "10-layer ReLU, He init"),
             "Plain 20-layer vs residual 20-layer": ("plain 20-layer", "residual 20-layer")}
EPOCH_CHOICES = (1, 2, 5, 10, 20, 50, 100, 200, 500)  # 500: a deep sigmoid net's long plateau
OPTIMISERS = {"momentum": "SGD with momentum 0.9", "sgd": "plain SGD", "adam": "Adam"}
SOURCES = ("Depth-lab MLP", "The session's model")
WIDTHS = (8, 16, 32, 64, 128)
TRAIN_SECONDS = (10, 20, 30, 60, 120)
SCALES = {"ρ": "spectral", "σ_max": "singular"}  # the radio's symbol -> the engine's name
HIDDEN = (16, 32, 64, 128)
COMPARE_SECONDS = (15, 30, 60, 90, 120, 180)  # all three cells together
COMPARE_STEPS = (100, 250, 500, 1000, 2000, 4000)  # each cell
BUDGETS = ("equal steps", "equal seconds")

DEPTH = Table((
    Setting("source", "depth-source", str, SOURCES[0], choices=SOURCES),
    Setting("preset", "depth-preset", str, "Custom", choices=("Custom", *DEPTH_LABS)),
    Setting("depth", "depth-depth", int, 10, 1, 50),
    Setting("width", "depth-width", int, 32, choices=WIDTHS),
    Setting("activation", "depth-activation", str, "Sigmoid", choices=tuple(ACTIVATIONS)),
    Setting("init", "depth-init", str, "normal-0.01", choices=tuple(SCHEME_NAMES)),
    Setting("batch_norm", "depth-bn", bool, False),
    Setting("residual", "depth-residual", bool, False),
    Setting("optimizer", "depth-opt", str, "momentum", choices=tuple(OPTIMISERS)),
    Setting("epochs", "depth-epochs", int, 5, choices=EPOCH_CHOICES),
    Setting("contrast", "depth-contrast", str, None, choices=(None, *CONTRASTS)),
    Setting("glorot_scheme", "depth-glorot-scheme", str, "normal-0.01", choices=("normal-0.01", "xavier", "he")),
))
TIME = Table((
    Setting("cell", "time-cell", str, tuple(lab.CELLS)[0], choices=tuple(lab.CELLS)),
    Setting("task", "time-task", str, lab.TASKS[0], choices=tuple(lab.TASKS)),
    Setting("linear", "time-linear", bool, False),
    Setting("T", "time-T", int, 30, 5, 200),
    Setting("hidden", "time-hidden", int, 32, choices=HIDDEN),
    Setting("radius_kind", "time-radius-kind", str, "ρ", choices=tuple(SCALES)),
    Setting("radius", "time-radius", float, 1.0, 0.1, 2.0),
    Setting("clip_on", "time-clip-on", bool, True),
    Setting("clip", "time-clip", float, 1.0, 0.1, 10.0),
    Setting("seconds", "time-seconds", int, 20, choices=TRAIN_SECONDS),
    Setting("compare_budget", "time-compare-budget", str, BUDGETS[0], choices=BUDGETS),
    Setting("compare_seconds", "time-compare-seconds", int, 60, choices=COMPARE_SECONDS),
    Setting("compare_steps", "time-compare-steps", int, 500, choices=COMPARE_STEPS),
))
TABLE = Table(DEPTH + TIME)  # both tabs' settings, saved together under ``PAGE``


def setup_values(setup: dict) -> dict:
    """The table's values for a lesson's set-up ``{"depth_lab": {...}, "time_lab": {...}}`` (``engine.lessons``
    names): a lab it names starts from the defaults, the depth lab on its own MLP; clip 0 turns clipping off."""
    values = {}
    depth, time_lab = setup.get("depth_lab"), setup.get("time_lab")
    if isinstance(depth, dict) and depth:
        values |= DEPTH.defaults() | {k: v for k, v in depth.items() if k in DEPTH.defaults()}
    if isinstance(time_lab, dict) and time_lab:
        values |= TIME.defaults() | {k: v for k, v in time_lab.items() if k in TIME.defaults() and k != "clip"}
        if "scale" in time_lab:
            values["radius_kind"] = next((k for k, v in SCALES.items() if v == time_lab["scale"]), None)
        clip = time_lab.get("clip")
        if isinstance(clip, int | float) and not isinstance(clip, bool):
            values["clip_on"] = clip > 0
            if clip > 0:
                values["clip"] = float(clip)
    return values


def _saved() -> dict:
    """The page's saved settings entry, or {} when there is none or it is not a dict (an edited file)."""
    value = state().settings.get(PAGE)
    return value if isinstance(value, dict) else {}


def seed() -> None:
    """Before any widget: each widget's value from the table: a lesson's set-up left for this page
    (``ui.core.settings.queue_settings(PAGE, {"depth_lab": ..., "time_lab": ...})``), else what it holds, else the
    saved workspace's, else the default. The one place a set-up or restored value reaches these widgets."""
    queued = take_queued(PAGE)
    TABLE.seed(_saved(), setup_values(queued) if isinstance(queued, dict) else None)


def save() -> None:
    """Keep the page's settings with the workspace, by name (settings not drawn this run keep their values)."""
    s = state()
    s.set_settings(PAGE, TABLE.read(_saved()) | TABLE.current())
    workspace.sync(s)  # queued now: the page may not call state() again before the student leaves


def depth_config(values: dict) -> dict:
    """The depth lab's network (``lab.depth_model``'s arguments) from the depth settings by name."""
    v = DEPTH.defaults() | values
    return dict(depth=v["depth"], width=v["width"], activation=v["activation"], scheme=v["init"],
                batch_norm=v["batch_norm"], residual=v["residual"])


def time_config(values: dict) -> dict:
    """The time lab's settings (cell, task, T, hidden, radius, scale, linear, clip: 0 is off) by name."""
    v = TIME.defaults() | values
    return dict(cell=v["cell"], task=v["task"], T=v["T"], hidden=v["hidden"], radius=v["radius"],
                scale=SCALES[v["radius_kind"]], linear=v["linear"], clip=v["clip"] if v["clip_on"] else 0.0)

