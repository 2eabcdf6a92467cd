"""The data of one browser session: its workspace (network, model, run book), kept under one session key
(``ui.core.page.state`` opens it and keeps it saved); data only, no Streamlit."""
from __future__ import annotations

from dataclasses import dataclass, field

import engine
from engine.training import TERMINAL, TrainConfig, load_weights

KEY = "playground"
DEFAULT_PRESET = "mnist-cnn"
CHOSEN_SETTING = "train_chosen"  # saved settings' flag: the Train dataset was picked by the student or a teacher
# ``extras`` key: a lesson step's Gradients lab settings ({"depth_lab": ..., "time_lab": ...}, engine.lessons names),
# left by the Lessons page for the Gradients page to put in its widgets when it next draws (rooms never import rooms).


@dataclass(eq=False)
class Run:
    """One training run of the workspace, from any page: what it was started with and the trainer that runs it.

    ``group`` says which page's experiment it belongs to ("train"; the Gradients page's "depth", "time",
    "compare"); runs started together for one experiment (the RNN/LSTM/GRU comparison) share ``shared``, the
    experiment's own context (probe batch, snapshots, baseline...). ``trainer`` is an ``engine.training.Trainer``.
    """

    number: int
    group: str
    trainer: object
    spec: engine.ModelSpec
    config: TrainConfig
    label: str = ""
    key: tuple | None = None  # the page settings it was started for: other settings replace it (Gradients)
    shared: dict = field(default_factory=dict)
    results: dict | None = None  # the test split's evaluation, once the run has ended (Train)
    auto_adopt: bool = False  # becomes the session's model when it ends (a run started on the Build network)
    figures: tuple | None = None  # (version, figures) kept by the live view until the run records more
    model: object | None = None  # a private copy for drawing from the weights (boundary, reconstructions)

    @property
    def state(self) -> str:
        return self.trainer.state

    @property
    def live(self) -> bool:
        """Running, queued, paused or not started yet: it holds (or may take) a thread and a training slot."""
        return self.trainer.state not in TERMINAL


class RunBook:
    """Every run of one workspace, on every page: one place that starts, finds, stops and forgets them."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.next_number = 1
        self._active: dict[str, int] = {}
        self.changed: set[int] = set()  # numbers of runs added or removed since the workspace was last saved

    def add(self, group: str, trainer, spec: engine.ModelSpec, config: TrainConfig, **fields) -> Run:
        """Record a new (not yet started) run of ``group``; it becomes the group's active run."""
        return self.restore(Run(self.next_number, group, trainer, spec, config, **fields))

    def restore(self, run: Run) -> Run:
        """Put a run (new, or brought back from the workspace's storage) in the book under its own number."""
        self.next_number = max(self.next_number, run.number + 1)
        self.runs.append(run)
        self._active[run.group] = run.number
        self.changed.add(run.number)
        return run

    def touch(self, run: Run) -> None:
        """The run's shared context changed after it ended (a last snapshot, a verdict): save it again."""
        self.changed.add(run.number)

    def of(self, group: str) -> list[Run]:
        """The group's runs, oldest first."""
        return [r for r in self.runs if r.group == group]

    def get(self, number: int | None) -> Run | None:
        return next((r for r in self.runs if r.number == number), None)

    def active(self, group: str) -> Run | None:
        """The run the group's controls act on."""
        return self.get(self._active.get(group))

    def activate(self, run: Run) -> None:
        self._active[run.group] = run.number

    def remove(self, number: int) -> Run | None:
        """Stop a run (its thread ends) and forget it; the group's newest run becomes active."""
        run = self.get(number)
        if run is None:
            return None
        run.trainer.stop()
        self.runs.remove(run)
        self.changed.add(number)
        if self._active.get(run.group) == number:
            rest = self.of(run.group)
            self._active.pop(run.group)
            if rest:
                self._active[run.group] = rest[-1].number
        return run

    def clear(self, group: str) -> None:
        """Stop and forget every run of ``group``."""
        for run in self.of(group):
            self.remove(run.number)

    def live(self, group: str | None = None) -> list[Run]:
        """Runs that have not ended, of one group or of all."""
        return [r for r in self.runs if r.live and (group is None or r.group == group)]

    def heartbeat(self) -> None:
        """The workspace is in use: its live runs keep training (a closed tab stops beating and they end)."""
        for run in self.live():
            run.trainer.heartbeat()


@dataclass
class SessionState:
    """Everything one browser session owns: its network, its built model and its run book.

    ``version`` goes up whenever the spec or the weights change, so pages can key caches on it.
    """

    spec: engine.ModelSpec
    model: object | None = None  # torch.nn.Module, built lazily from spec
    version: int = 0
    book: RunBook = field(default_factory=RunBook)
    adopted: list = field(default_factory=list)  # numbers of the runs whose networks became the model, in order
    trained: bool = False  # the current model's weights came from a training run (not a fresh build)
    dataset: dict | None = None  # the data the model was trained on: {"name", "seed", "options"}
    extras: dict = field(default_factory=dict)  # per-page scratch space (caches, messages), keyed by page name
    settings: dict = field(default_factory=dict)  # the pages' saved settings, e.g. {"train": TrainConfig dict}
    # The stored workspace (ui.core.workspace): its token (the ?ws= link), and what changed since it was last saved.
    token: str | None = None
    read_only: bool = False  # a shared snapshot: everything can be looked at, nothing is saved
    class_name: str | None = None
    display_name: str | None = None
    pushed_version: int = 0
    dirty: set = field(default_factory=set)  # "spec", "settings", "model"
    notice: str | None = None  # shown once, by the next page drawn (a bad link, a teacher's push)
    save_error: str | None = None  # why nothing is saved (the database is down, a cap)
    weights_source: object | None = None  # () -> bytes: the stored weights of the model, loaded on first use
    # Counts restores and teacher's pushes: each page shows the network and settings they brought in its widgets
    # once, when it next draws (it keeps the count it last showed), so the core never names a page's widget.
    outside: int = 0
    outside_spec: engine.ModelSpec | None = None  # the network that restore or push came with

    def set_spec(self, spec: engine.ModelSpec) -> None:
        """Make ``spec`` the session's network; the model is rebuilt on next use."""
        self.spec = spec
        self.model = None
        self.trained = False
        self.weights_source = None
        self.version += 1
        self.dirty.update(("spec", "model"))

    def set_model(self, model, trained: bool = True, dataset: dict | None = None) -> None:
        """Replace the model's weights (e.g. after training); bumps the version.

        ``dataset`` ({"name", "seed", "options"}) records what it was trained on, for the Inspect page.
        """
        self.model = model
        self.trained = trained
        self.weights_source = None
        if dataset is not None:
            self.dataset = dataset
        self.version += 1
        self.dirty.add("model")

    def set_settings(self, page: str, values: dict) -> None:
        """A page's settings as they should be restored (saved only when they changed)."""
        if self.settings.get(page) != values:
            self.settings[page] = values
            self.dirty.add("settings")

    def live_trainers(self) -> list:
        """The trainers of every run that has not ended, on any page."""
        return [run.trainer for run in self.book.live()]

    def heartbeat(self) -> None:
        """The session is in use (on any page): its runs keep training. A closed tab stops beating."""
        self.book.heartbeat()

    def get_model(self):
        """The session's model, built from the spec if needed. Raises engine.SpecError when the spec is invalid."""
        if self.model is None:
            model = engine.build(self.spec, seed=0)
            source, self.weights_source = self.weights_source, None
            if source is not None:  # the trained weights of a restored workspace
                try:
                    load_weights(model, source())
                except engine.InputError as err:
                    self.notice, self.trained = f"The saved weights could not be loaded ({err}).", False
            self.model = model
        return self.model
