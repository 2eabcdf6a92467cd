"""A teacher's push reaching a class member's workspace: opened with a notice of what changed, or, while one of
the student's runs is live, offered with a button (their run is never replaced without asking).

A page load opens what was pushed since (``ui.core.workspace.restore``); an open page's push watch
(``ui.core.sidebar``) polls every ``PUSH_POLL`` seconds.
"""
from __future__ import annotations

import time

import engine
from engine.training import TrainConfig
from ui.core import database, text
from ui.core.session import CHOSEN_SETTING

PUSH_POLL = 4.0  # seconds between a class member's checks for a network pushed by the teacher
SHOWN_CHANGES = 6  # changed training settings named in a push's notice; more are counted


def poll_push(s) -> bool:
    """A class member's open session takes a teacher's push within a few seconds, without a reload.

    Polls about every ``PUSH_POLL`` seconds (the page's push watch ticks at that pace; reruns in between skip it).
    Returns True when the page has something new to show: the push was opened, or offered (a run is live).
    """
    if not s.class_name or s.read_only:
        return False
    if time.monotonic() - s.extras.get("push_polled", 0.0) < 0.8 * PUSH_POLL:  # a tick comes every PUSH_POLL
        return False
    s.extras["push_polled"] = time.monotonic()
    store, flusher = database.services()
    if store is None:
        return False
    try:
        class_name, push = store.class_poll(s.token)
    except engine.InputError:
        return False
    if class_name is None:  # removed by the teacher, or left in another tab
        s.notice = ("You are no longer in the class (your teacher removed you, or you left it in another tab): your "
                    "teacher sees this workspace no more. Your network and runs are still here.")
        s.class_name = s.display_name = None
        s.pushed_version = 0
        return True
    return take_push(s, push, flusher)


def take_push(s, push, flusher) -> bool:
    """A network and settings the class's teacher pushed since this workspace last looked: open them, or, while
    one of the student's runs is live, offer them (``offered_push``) and change nothing. True when new."""
    if push is None or s.read_only or push.version <= s.pushed_version:
        return False
    offered = s.extras.get("push_offer")
    if s.book.live() or (offered is not None and offered.version == push.version):
        s.extras["push_offer"] = push  # the student's run is never replaced without asking; an offer stays
        return offered is None or offered.version != push.version
    return _apply_push(s, push, flusher)


def offered_push(s):
    """The push waiting for the student's go-ahead (it came while a run of theirs was live), or None."""
    push = s.extras.get("push_offer")
    return push if push is not None and push.version > s.pushed_version else None


def accept_push(s) -> None:
    """The student opens the offered push: their live runs are stopped first (and kept with what they learnt)."""
    push = s.extras.get("push_offer")
    if push is None:
        return
    for run in s.book.live():
        run.auto_adopt = False  # it ends for the push: the pushed network, not this run's, becomes the model
        run.trainer.stop()
    _apply_push(s, push, database.services()[1])  # opened even while saving is off: its run was just stopped


def _apply_push(s, push, flusher) -> bool:
    s.extras.pop("push_offer", None)
    try:
        spec = engine.ModelSpec.from_dict(push.spec)
    except (engine.SpecError, engine.InputError):
        return False
    before, settings = s.spec.name, dict(s.settings.get("train") or {})
    train = push.settings.get("train") if push.settings else None
    changes = settings_changes(settings, train) if train else []
    s.pushed_version = push.version
    s.notice = push_notice(before, spec.name, changes, bool(train))
    put(s, spec, train, flusher, pushed_version=push.version)
    return True


def put(s, spec, train: dict | None, flusher, **fields) -> None:
    """A network and Train settings into the workspace, the way a teacher's push opens them (a lesson's Set it up
    too): the dataset counts as chosen, each page shows them in its widgets when it next draws, saved at once.

    ``spec``: an ``engine.ModelSpec`` (None keeps the network); ``train``: a ``TrainConfig`` dict (None keeps the
    settings); ``fields``: more workspace fields saved with them (a push's version).
    """
    if spec is not None:
        s.set_spec(spec)
    if train:
        s.settings["train"] = train
        s.settings[CHOSEN_SETTING] = True  # named by the teacher or the lesson: it stays while it fits
    s.outside, s.outside_spec = s.outside + 1, s.spec  # each page shows them in its widgets when it next draws
    if flusher is None:  # the database cannot be reached: the page says saving is off
        s.dirty.add("settings")
        return
    # The model reset goes with the network: else the database keeps the old trained weights under the new
    # network (a page load clears ``dirty``, and a push watch's tick may be the tab's last run).
    model = {"model": {"trained": s.trained, "dataset": s.dataset, "adopted": list(s.adopted)},
             "model_weights": None} if spec is not None else {}
    flusher.save_fields(s.token, spec=s.spec.to_dict(), settings=dict(s.settings), **model, **fields)


def settings_changes(old: dict, new: dict) -> list[str]:
    """The training settings a push changes, as "epochs 10 → 7" (both read as ``TrainConfig`` dicts)."""
    try:
        old = TrainConfig.from_dict(old).to_dict() if old else {}
        new = TrainConfig.from_dict(new).to_dict()
    except (engine.InputError, TypeError, ValueError):
        return []
    skip = ("device", "metrics_every", "max_seconds", "heartbeat_timeout")
    out = []
    for key, value in new.items():
        if key in skip or old.get(key) == value:
            continue
        name = {"lr": "learning rate"}.get(key, key.replace("_", " "))
        out.append(f"{name} changed" if isinstance(value, dict) else
                   f"{name} {old[key]} → {value}" if key in old else f"{name} {value}")
    return out


def push_notice(before: str | None, after: str | None, changes: list[str], settings: bool) -> str:
    """What a push changed, in words: the network (was, now) and the training settings it set."""
    network = after or "custom"
    notice = f"Your teacher sent the class a network: {text.plain(network)}"
    notice += f" (yours was {text.plain(before or 'custom')})." if before != after else "."
    if changes:
        more = len(changes) - SHOWN_CHANGES
        notice += " New training settings: " + text.plain(", ".join(changes[:SHOWN_CHANGES])) + \
            (f" and {more} more." if more > 0 else ".")
    elif settings:
        notice += " Its training settings are the ones you had."
    return notice


def offer_text(s, push) -> str:
    """The notice of a push held back while a run of the student's is live (training, queued or paused)."""
    name = text.plain((push.spec or {}).get("name") or "custom")
    what = f"{name}, with training settings" if push.settings and push.settings.get("train") else name
    live = [f"#{r.number}" for r in s.book.live()]
    if len(live) > 1:  # a comparison holds several
        return (f"Your teacher sent the class a network: {what}. Your runs {', '.join(live)} have not ended, so "
                "nothing was changed. Opening the teacher's network stops your runs (they stay in your runs with "
                "what they learnt).")
    if live:
        return (f"Your teacher sent the class a network: {what}. Your run {live[0]} has not ended, so nothing was "
                "changed. Opening the teacher's network stops your run (it stays in your runs with what it learnt).")
    return f"Your teacher sent the class a network: {what}. Nothing was changed yet."

