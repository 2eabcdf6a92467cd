"""A lesson file's schema: the lesson, its steps, each step's set-up, prediction and check, and its challenge."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine import data
from engine.errors import InputError, SpecError
from engine.gradients import lab
from engine.lessons.challenges import Challenge, check_options, parse_challenge
from engine.lessons.checks import CheckSpec, parse_check
from engine.lessons.fields import Form, LessonError, Param, join, short
from engine.network import ModelSpec, presets
from engine.network.init import SCHEMES
from engine.training import TrainConfig

ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
CUSTOM = "custom-"  # a class's own challenges are keyed custom-1, custom-2...: never a lesson's id
TOPICS = ("Feed-forward networks", "Convolutional networks", "Recurrent networks", "Beyond")  # shared/TOPICS.md
# The pages a set-up opens and their tabs (the tab names as the pages show them; None: a page without tabs).
PAGES = {"Lessons": None, "Build": None, "Convolution": ("Animation", "Receptive field", "Feature maps"),
         "Train": None, "Inspect": ("Prediction", "Filters", "Activations", "Attribution", "Codes", "Sequence"),
         "Gradients": ("Through depth", "Through time"), "Class": None}
# The Gradients lab's settings a set-up may fix: the engine's own names and ranges (engine.gradients.lab).
DEPTH_LAB = Form({
    "depth": Param("int", "hidden layers", low=1, high=50), "width": Param("int", "units per layer", low=8, high=128),
    "activation": Param("str", "activation layer type", choices=("Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU")),
    "init": Param("str", "initialisation scheme", choices=tuple(SCHEMES)),
    "batch_norm": Param("bool", "batch norm after each Linear"), "residual": Param("bool", "residual shortcuts"),
    "optimizer": Param("str", "optimiser", choices=tuple(lab.DEPTH_LR)),
    "epochs": Param("int", "epochs to train", low=1, high=50)})
TIME_LAB = Form({
    "cell": Param("str", "recurrent cell", choices=tuple(lab.CELLS)),
    "task": Param("str", "sequence task", choices=lab.TASKS), "T": Param("int", "sequence length", low=5, high=200),
    "hidden": Param("int", "hidden size", choices=None, low=16, high=128),
    "radius": Param("float", "W_hh's rescaled radius", low=0.1, high=2.0),
    "scale": Param("str", "rescale by the spectral radius or the largest singular value",
                   choices=("spectral", "singular")),
    "linear": Param("bool", "the linear regime"), "clip": Param("float", "clipping threshold (0: off)", low=0,
                                                                  high=10)})
LESSON = Form({
    "id": Param("str", "a short name, also the file's", required=True, low=1, high=64),
    "title": Param("str", "the lesson's title", required=True, low=1, high=120),
    "topic": Param("str", "the course topic", required=True, choices=TOPICS),
    "minutes": Param("int", "how long it takes", required=True, low=1, high=180),
    "summary": Param("str", "what the student will see", required=True, low=1, high=600),
    "order": Param("int", "its place in the list", default=100, low=0, high=10000),
    "steps": Param("tables", "the steps, 3 to 7 [[steps]] tables", required=True, low=3, high=7),
    "challenge": Param("table", "an optional challenge")})
STEP = Form({
    "title": Param("str", "the step's title", required=True, low=1, high=120),
    "explanation": Param("str", "2 to 5 sentences, LaTeX between $...$", required=True, low=1, high=2000),
    "setup": Param("table", "what Set it up puts in the workspace"), "prediction": Param("table", "asked first"),
    "check": Param("table", "what ticks the step")})
SETUP = Form({
    "preset": Param("str", "a preset network", choices=presets.names),
    "network": Param("table", "a network spec (ModelSpec), instead of a preset"),
    "dataset": Param("str", "the dataset", choices=lambda: data.names()),
    "dataset_options": Param("table", "the dataset's options"),
    "settings": Param("table", "training settings (TrainConfig names)"),
    "page": Param("str", "the page to open", choices=tuple(PAGES)), "tab": Param("str", "the page's tab to open"),
    "depth_lab": Param("table", "Gradients, Through depth: the lab's settings"),
    "time_lab": Param("table", "Gradients, Through time: the lab's settings")})
PREDICTION = Form({
    "question": Param("str", "what the student predicts", required=True, low=1, high=400),
    "kind": Param("str", "choice or number", required=True, choices=("choice", "number")),
    "options": Param("names", "the choices (kind choice)", low=2, high=8),
    "answer": Param("str", "the right choice (kind choice), or give value"),
    "value": Param("float", "the right number (kind number)", low=-1e12, high=1e12),
    "tolerance": Param("float", "how far off still counts (kind number)", default=0.0, low=0, high=1e12),
    "reveal": Param("str", "shown with the answer", default="", low=0, high=1000)})


@dataclass(frozen=True)
class Setup:
    """What a step's Set it up button applies: the network (``spec``), data, settings, lab settings, page and tab."""

    preset: str | None = None
    spec: dict | None = None
    dataset: str | None = None
    dataset_options: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    page: str | None = None
    tab: str | None = None
    depth_lab: dict = field(default_factory=dict)
    time_lab: dict = field(default_factory=dict)

    def config(self, base: TrainConfig | None = None) -> TrainConfig:
        """``base`` (or the defaults) with this step's dataset, its options and its settings applied, checked."""
        base = base if base is not None else TrainConfig()
        data_fields = {"dataset": self.dataset, "dataset_options": dict(self.dataset_options)} if self.dataset else {}
        return base.replace(**data_fields, **self.settings)


@dataclass(frozen=True)
class Prediction:
    """A question asked before acting: multiple choice (``options``, ``answer``) or a number (``value`` ±
    ``tolerance``); ``reveal`` is shown with the answer."""

    question: str
    kind: str
    options: tuple[str, ...] = ()
    answer: str | None = None
    value: float | None = None
    tolerance: float = 0.0
    reveal: str = ""

    def correct(self, answer) -> bool:
        """Whether a student's answer is right (a choice's text, or a number within the tolerance)."""
        if self.kind == "choice":
            return answer == self.answer
        return isinstance(answer, int | float) and not isinstance(answer, bool) and \
            abs(float(answer) - self.value) <= self.tolerance


@dataclass(frozen=True)
class Step:
    """One step: its explanation, and optionally a set-up, a prediction and a check (None when it has none)."""

    title: str
    explanation: str
    setup: Setup | None = None
    prediction: Prediction | None = None
    check: CheckSpec | None = None


@dataclass(frozen=True)
class Lesson:
    """A lesson as loaded from its file."""

    id: str
    title: str
    topic: str
    minutes: int
    summary: str
    steps: tuple[Step, ...]
    challenge: Challenge | None = None
    order: int = 100
    path: str = ""


def parse_lesson(doc: dict, path: str = "") -> Lesson:
    """A lesson from a parsed TOML document, every field checked.

    Raises:
        LessonError: the first field that is missing, unknown, of the wrong type, out of range, or names an unknown
            preset, dataset, page, tab, setting or check (``where`` says which, e.g. "steps[2].check.name").
    """
    values = LESSON.check(doc, "")
    if not ID.fullmatch(values["id"]) or values["id"].startswith(CUSTOM):
        raise LessonError("id", f"{short(values['id'])} should be lower-case letters, digits and hyphens (it goes "
                                f"into links and the database), not starting with {CUSTOM!r}")
    steps = tuple(_step(s, join("steps", i)) for i, s in enumerate(values["steps"]))
    challenge = None
    if values["challenge"] is not None:
        challenge = parse_challenge(values["challenge"], key=values["id"], where="challenge")
    return Lesson(id=values["id"], title=values["title"], topic=values["topic"], minutes=values["minutes"],
                  summary=values["summary"], steps=steps, challenge=challenge, order=values["order"], path=path)


def _step(table, where: str) -> Step:
    values = STEP.check(table, where)
    setup = _setup(values["setup"], join(where, "setup")) if values["setup"] is not None else None
    prediction = _prediction(values["prediction"], join(where, "prediction")) \
        if values["prediction"] is not None else None
    check = parse_check(values["check"], join(where, "check")) if values["check"] is not None else None
    return Step(values["title"], values["explanation"], setup, prediction, check)


def _setup(table, where: str) -> Setup:
    values = SETUP.check(table, where)
    if values["preset"] and values["network"] is not None:
        raise LessonError(where, "give a preset or a network, not both")
    spec = None
    if values["network"] is not None:
        try:
            spec = ModelSpec.from_dict(values["network"]).to_dict()
        except (SpecError, InputError, TypeError, ValueError, KeyError) as exc:
            raise LessonError(join(where, "network"), f"not a valid network: {exc}") from None
    elif values["preset"]:
        spec = presets.get(values["preset"]).to_dict()
    options = values["dataset_options"] or {}
    if options and not values["dataset"]:
        raise LessonError(join(where, "dataset_options"), "options need a dataset")
    if options:
        check_options(values["dataset"], options, join(where, "dataset_options"))
    settings = values["settings"] or {}
    try:
        TrainConfig.from_dict({**settings, **({"dataset": values["dataset"]} if values["dataset"] else {})})
    except (InputError, TypeError, ValueError) as exc:
        raise LessonError(join(where, "settings"), f"{exc}") from None
    page, tab = values["page"], values["tab"]
    if tab is not None:
        tabs = PAGES.get(page) if page else None
        if not tabs or tab not in tabs:
            raise LessonError(join(where, "tab"), f"unknown tab {tab!r} of page {page!r}; "
                                                  f"its tabs: {', '.join(tabs) if tabs else 'none'}")
    depth = DEPTH_LAB.check(values["depth_lab"], join(where, "depth_lab")) if values["depth_lab"] else {}
    time = TIME_LAB.check(values["time_lab"], join(where, "time_lab")) if values["time_lab"] else {}
    return Setup(preset=values["preset"], spec=spec, dataset=values["dataset"], dataset_options=options,
                 settings=settings, page=page, tab=tab, depth_lab={k: v for k, v in depth.items() if v is not None},
                 time_lab={k: v for k, v in time.items() if v is not None})


def _prediction(table, where: str) -> Prediction:
    values = PREDICTION.check(table, where)
    if values["kind"] == "choice":
        if not values["options"] or values["answer"] not in values["options"]:
            raise LessonError(join(where, "answer"), "a choice question needs options and an answer among them")
        return Prediction(values["question"], "choice", tuple(values["options"]), values["answer"],
                          reveal=values["reveal"])
    if values["value"] is None:
        raise LessonError(join(where, "value"), "a number question needs its value (and a tolerance)")
    return Prediction(values["question"], "number", value=values["value"], tolerance=values["tolerance"],
                      reveal=values["reveal"])
