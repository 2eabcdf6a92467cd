"""The student's lesson progress and the store calls the page makes: predict, tick, post (the store checks them)."""
from __future__ import annotations

import engine
from engine.workspace import Progress
from ui.core import database, workspace

FLUSH_SECONDS = 15.0  # how long a check waits for the workspace's queued saves (the run just finished) to land
NONE = Progress({}, {}, {})


def saving_off(s) -> str | None:
    """Why lesson progress cannot be kept (the database is down, a shared snapshot), or None."""
    if s.read_only:
        return "This is a read-only snapshot: its lesson progress is shown, nothing can be ticked or predicted."
    if s.token is None or database.services()[0] is None:
        return workspace.save_error(s) or "Saving is off: lesson progress cannot be kept right now."
    return None


def progress(s) -> Progress:
    """The workspace's ticks, predictions and challenge bests (none while the database cannot be read)."""
    store, _ = database.services()
    if store is None or s.token is None:
        return NONE
    try:
        return store.lesson_progress(s.token)
    except engine.InputError:
        return NONE


def assignments(s):
    """The lesson ids and challenges the student's class is set (empty outside a class)."""
    store, _ = database.services()
    if store is None or s.token is None or not s.class_name:
        return (), ()
    try:
        found = store.class_assignments(token=s.token)
    except engine.InputError:
        return (), ()
    return found.lessons, found.challenges


def saved(s) -> None:
    """Everything the session changed, in the database now: a check reads the stored runs, not this page's."""
    _, flusher = database.reachable()
    workspace.sync(s)
    flusher.flush(FLUSH_SECONDS)


def predict(s, lesson_id: str, step: int, answer):
    """Keep the student's prediction (the store refuses a second one, or one after the tick)."""
    store, _ = database.reachable()
    return store.record_prediction(s.token, lesson_id, step, answer)


def tick(s, lesson_id: str, step: int):
    """The step's check run on the saved workspace (after saving what is queued); its ``Verdict``."""
    saved(s)
    store, _ = database.reachable()
    return store.tick_step(s.token, lesson_id, step)


def post(s, key: str, run: int):
    """Run ``run`` judged against challenge ``key`` on the saved workspace; its ``ChallengeResult``."""
    saved(s)
    store, _ = database.reachable()
    return store.post_challenge(s.token, key, run)
