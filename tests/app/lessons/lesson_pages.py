"""Helpers of the Lessons page tests: the app opened at the Lessons page (st.navigation runs, so Set it up can switch
pages), a workspace's token, and a real short seeded run stored as the Train page stores it."""
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

import engine
from engine import data, lessons
from engine import workspace as store_mod
from engine.training import TERMINAL, RunLimiter, TrainConfig, Trainer, evaluate
from engine.workspace import RunRecord
from ui.core.session import KEY

ROOT = Path(__file__).resolve().parents[3]
APP = str(ROOT / "app.py")
LESSONS = "views/7_Lessons.py"


def lessons_page(lesson: str | None = None, **params) -> AppTest:
    """The Lessons page (a lesson open when given) in a new browser session, run once, without an exception."""
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    if lesson:
        at.query_params["lesson"] = lesson
    at.switch_page(LESSONS)
    at.run()
    assert not at.exception, at.exception
    return at


def set_up(lesson_id: str, index: int, **params) -> AppTest:
    """The Lessons page at a lesson, its step's prediction answered first where it asks one, then Set it up."""
    at = lessons_page(lesson=lesson_id, **params)
    prediction = lessons.catalogue().get(lesson_id).steps[index].prediction
    if prediction is not None:  # asked before acting
        store().record_prediction(token(at), lesson_id, index,
                                  prediction.answer if prediction.kind == "choice" else prediction.value)
        at.run()
    at.button(key=f"lesson-setup-{index}").click().run()
    assert not at.exception, at.exception
    return at


def session(at):
    return at.session_state[KEY]


def token(at) -> str:
    return session(at).token


def store():
    return store_mod.get_store()


def texts(at) -> str:
    """Every text the page shows (markdown, captions, alerts, titles), joined."""
    parts = []
    for kind in ("markdown", "caption", "title", "subheader", "info", "warning", "error", "success"):
        parts += [element.value for element in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def stored_run(number: int, spec: dict, **settings) -> RunRecord:
    """A real finished run (the engine's trainer, seeded), stored as the Train page stores it."""
    spec = engine.ModelSpec.from_dict(spec)
    config = TrainConfig(**{"device": "cpu", "seed": 0, **settings})
    dataset = data.load(config.dataset, config.seed, **config.dataset_options)
    trainer = Trainer(spec, config, dataset=dataset, limiter=RunLimiter(1))
    trainer.start()
    end = time.monotonic() + 120
    while trainer.state not in TERMINAL and time.monotonic() < end:
        time.sleep(0.02)
    assert trainer.state == "finished", trainer.status
    results = evaluate(trainer.model, trainer.dataset, "test")
    return RunRecord(number=number, group="train", label=f"run {number}", spec=trainer.spec.to_dict(),
                     config=config.to_dict(), state="finished", records=trainer.records(),
                     results={"loss": results["loss"], "accuracy": results["accuracy"]})
