"""One state object per browser session, under one st.session_state key."""
from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

import engine
from engine.training import TERMINAL

KEY = "playground"
DEFAULT_PRESET = "mnist-cnn"


@dataclass
class SessionState:
    """Everything one browser session owns: its network, its built model, its runs.

    ``version`` goes up whenever the spec or the weights change, so pages can key caches on it.
    """

    spec: engine.ModelSpec
    model: object | None = None  # torch.nn.Module, built lazily from spec
    version: int = 0
    runs: list = field(default_factory=list)
    trained: bool = False  # the current model's weights came from a training run (not a fresh build)
    dataset: dict | None = None  # the data the model was trained on: {"name", "seed", "options"}
    extras: dict = field(default_factory=dict)  # per-page scratch space, keyed by page name

    def set_spec(self, spec: engine.ModelSpec) -> None:
        """Make ``spec`` the session's network; the model is rebuilt on next use."""
        self.spec = spec
        self.model = None
        self.trained = False
        self.version += 1

    def set_model(self, model, trained: bool = True, dataset: dict | None = None) -> None:
        """Replace the model's weights (e.g. after training); bumps the version.

        ``dataset`` ({"name", "seed", "options"}) records what it was trained on, for the Inspect page.
        """
        self.model = model
        self.trained = trained
        if dataset is not None:
            self.dataset = dataset
        self.version += 1

    def live_trainers(self) -> list:
        """Every run of this session that has not ended: the Train page's runs and the Gradients page's labs."""
        trainers = [run.get("trainer") for run in self.extras.get("train", {}).get("runs", [])]
        labs = self.extras.get("gradients", {}).get("runs", {})
        for run in labs.values() if isinstance(labs, dict) else []:
            trainers += list(run.get("trainers", [])) if isinstance(run, dict) else []
        return [t for t in trainers if t is not None and t.state not in TERMINAL]

    def heartbeat(self) -> None:
        """The session is in use (on any page): its runs keep training. A closed tab stops beating."""
        for trainer in self.live_trainers():
            trainer.heartbeat()

    def get_model(self):
        """The session's model, built from the spec if needed. Raises engine.SpecError when the spec is invalid."""
        if self.model is None:
            self.model = engine.build(self.spec, seed=0)
        return self.model


def state() -> SessionState:
    """This browser session's state, created on first use."""
    # Every page comes through here, also when a link opens it directly without app.py running first.
    engine.device.configure_threads()
    if KEY not in st.session_state:
        st.session_state[KEY] = SessionState(spec=engine.network.presets.get(DEFAULT_PRESET))
    s = st.session_state[KEY]
    s.heartbeat()  # a run keeps going while its student works on another page, not only on Train
    return s


def keep_alive(every: float = 10.0) -> None:
    """For pages without a live view: while the tab stays open, a tiny fragment beats the session's live runs.

    state() beats them on every rerun, but a student who only reads a page makes no reruns; without this a run
    would stop itself after its heartbeat timeout (30 s). A closed tab stops ticking, so its runs still end.
    """
    if not state().live_trainers():
        return

    @st.fragment(run_every=every)
    def beat():
        state()  # beats

    beat()


def page_link(path: str, label: str) -> None:
    """st.page_link, or a plain link when the page runs on its own (AppTest starts at the page itself)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link(path, label=label)
    except StreamlitAPIException:
        st.markdown(f"[{label}](./{path.split('_', 1)[-1].removesuffix('.py')})")
