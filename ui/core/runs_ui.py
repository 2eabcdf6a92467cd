"""The run book's widgets shared by Train and Gradients: one live view and one status line for background runs."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from engine.training import TERMINAL
from ui.core.page import state
from ui.core.session import Run

FAST, SLOW = 0.5, 2.0  # seconds between redraws: while training; while waiting for a slot or paused
AGAIN = "runs_ui-again"  # session key: set when the live view reran the page itself (no click caused that run)


def rerun_by_live_view() -> bool:
    """Whether this full run is one the live view asked for (its runs ended, or started or stopped waiting), not
    a click's: a message the run before it showed is still news, so a page shows it again."""
    return bool(st.session_state.get(AGAIN))


def trains_now(trainer) -> bool:
    """Running, or queued with a slot free (about to run); False while it waits behind other runs or is paused."""
    if trainer.state == "queued":
        return trainer.limiter.running < trainer.limiter.slots
    return trainer.state == "running"


def status_text(trainer) -> str:
    """State, steps and time of one run, with the queue position when it waits for a training slot."""
    status = trainer.status
    if status.state == "queued":
        return (f"queued: place {status.queue_position} for one of the server's "
                f"{trainer.limiter.slots} training slots")
    if status.state == "idle":
        return "waiting for its turn"
    if status.state in TERMINAL:
        return f"{status.message or status.state}: {status.step} steps in {status.elapsed:.1f} s"
    return f"{status.state} · step {status.step} · {status.elapsed:.1f} s"


def live_view(runs: Callable[[], list[Run]], draw: Callable[[list[Run]], None]) -> None:
    """Draw ``runs()`` in a fragment that redraws alone while any of them is live; a full rerun when they end.

    It ticks twice a second while one trains and every 2 s while they only wait for a slot or are paused (only the
    queue place changes, and the tick keeps the heartbeat alive). ``run_every`` is fixed when the fragment is
    called by a full run, so the view asks for one when its runs end or start or stop waiting.
    """
    st.session_state.pop(AGAIN, None)  # read by the widgets drawn above this view in this run
    first = runs()
    live = any(r.live for r in first)
    fast = any(trains_now(r.trainer) for r in first)

    @st.fragment(run_every=(FAST if fast else SLOW) if live else None)
    def view():
        state()  # beats every live run of the session
        current = runs()
        if not current:
            return
        draw(current)
        if live and (not any(r.live for r in current) or any(trains_now(r.trainer) for r in current) != fast):
            st.session_state[AGAIN] = True
            st.rerun()

    view()
