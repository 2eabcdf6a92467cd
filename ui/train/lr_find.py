"""Train page: the learning-rate range test (``engine.diagnostics.lr_find``) in the background, its curve, "Use this η".

The test trains a seeded copy of the network (built from the Build page's spec with the data's seed, as a new run
starts) on the current data with the current optimiser; the student's runs and weights are never touched. It counts
as the student's live run: refused while a run of theirs is live (``refusal``), and a run cannot start while it is
live (``busy``); it holds one of the server's training slots (``LIMITER``) while it trains, queueing like Start. Its
thread ends when the page stops polling it for ``HEARTBEAT_TIMEOUT`` seconds (a closed tab, or the student gone to
another page meanwhile: the test is short, and nobody would see its result), like a run left without a heartbeat.
The last result is kept with the workspace (its settings entry ``SAVED``): a reload or a second tab draws it again.
"""
from __future__ import annotations

import itertools
import json
import threading
import time

import streamlit as st

import engine
from engine import diagnostics
from engine.training import LIMITER, OPTIMIZERS, TrainConfig
from ui.core import present, workspace
from ui.core.datasets import load_dataset
from ui.core.page import state
from ui.core.session import SessionState
from ui.core.settings import queue_settings
from ui.core.text import message, plain
from ui.train import dataset_picker
from ui.train.settings import PAGE, row
from ui.train.widgets import page, runs

STEPS = 100  # rates tried at most, 1e-7 to 10 (issue 21); the tests pass fewer by setting this constant
START, END = 1e-7, 10.0
POLL = 0.5  # seconds between the progress bar's redraws while the test runs
HEARTBEAT_TIMEOUT = 30.0  # seconds without a poll from the page before the test cancels itself (a closed tab)
KEY = "lr-find"  # the job in the page's scratch
SAVED = "lr_find"  # the workspace's settings entry that keeps the last result (a reload or a second tab shows it)
LIVE = ("queued", "running", "paused")  # a run in these states is the student's live run
_TOKENS = itertools.count(-1, -1)  # limiter tokens of their own: negative, never a Trainer's control token
HOW = ("The suggestion is the rate where the smoothed loss falls fastest (the steepest descent against log η, "
       "before its minimum); the other usual pick is the rate at the minimum divided by 10.")


class Job:
    """One range test in a background thread: waits for a training slot, then runs ``lr_find``."""

    def __init__(self, spec, dataset, config: TrainConfig, steps: int):
        self.token = next(_TOKENS)
        self.state, self.progress, self.result, self.error = "queued", 0.0, None, None
        self._cancel = threading.Event()
        self._beat = time.monotonic()
        self._args = spec, dataset, config, steps
        self.optimizer = config.optimizer
        self.network, self.dataset = spec.name, dataset.name
        self.kept = False  # its result is in the workspace
        self.thread = threading.Thread(target=self._run, name=f"lr-find{self.token}", daemon=True)
        self.thread.start()

    @property
    def live(self) -> bool:
        return self.state in ("queued", "running")

    def heartbeat(self) -> None:
        self._beat = time.monotonic()

    def cancel(self) -> None:
        self._cancel.set()

    def _give_up(self) -> bool:
        return self._cancel.is_set() or time.monotonic() - self._beat > HEARTBEAT_TIMEOUT

    def _run(self) -> None:
        spec, dataset, config, steps = self._args
        engine.device.background_priority(engine.limits.TRAIN_NICE)  # like a run: the page scripts go first
        if not LIMITER.acquire(self.token, self._give_up):
            self.state = "cancelled"
            return
        try:
            self.state = "running"
            self.result = diagnostics.lr_find(spec, dataset, config, start=START, end=END, steps=steps,
                                              seed=config.seed, progress=self._progress, cancel=self._give_up)
            self.state = "cancelled" if self.result.stopped.startswith("cancelled") else "done"
        except (engine.InputError, engine.SpecError) as err:
            self.error, self.state = str(err), "cancelled" if self._give_up() else "failed"
        except Exception as err:  # noqa: BLE001 - a failure is shown on the page, never raised into the server
            self.error, self.state = f"the range test failed: {err}", "failed"
        finally:
            LIMITER.release(self.token)

    def _progress(self, share: float) -> None:
        self.progress = share


def job(s: SessionState) -> Job | None:
    """The session's range test (live or ended), if any."""
    return page(s).get(KEY)


def shown(s: SessionState) -> bool:
    """Whether there is a range test to show: this session's, or the last one kept with the workspace."""
    return job(s) is not None or SAVED in s.settings


def _keep(s: SessionState, current: Job) -> None:
    """The ended test's result into the workspace (once), with what it ran on."""
    if not current.kept and current.result is not None:
        s.set_settings(SAVED, {"result": current.result.to_dict(), "optimizer": current.optimizer,
                               "network": current.network, "dataset": current.dataset})
        current.kept = True
        workspace.sync(s)  # queued now: no rerun may follow before a reload (a run syncs when it starts)


def busy(s: SessionState) -> str | None:
    """Why a run cannot start now (a range test is live), or None."""
    j = job(s)
    if j is not None and j.live:
        return ("The learning-rate range test is still running: each student trains one thing at a time. Wait for "
                "it to finish, or press Cancel under it.")
    return None


def refusal(s: SessionState) -> str | None:
    """Why the range test cannot start now (a live run of the student's), or None."""
    live = [f"#{run.number}" for run in runs(s) if run.state in LIVE]
    if live:
        return (f"Run {', '.join(live)} is still live: each student trains one thing at a time, so that the server's "
                "training slots stay free for the class. Stop it (or let it finish) first.")
    return None


def start(s: SessionState, config: TrainConfig | None) -> None:
    """Start the range test on a copy of the network with ``config``'s data and optimiser, or leave why not."""
    p = page(s)
    if config is None:
        p["lr-error"] = "Fix the settings above first."
        return
    if (why := refusal(s) or busy(s)) is not None:
        p["lr-error"] = why
        return
    upload = p.get("upload")
    try:
        if upload is not None and config.dataset == upload.name:
            dataset = upload
        elif dataset_picker.must_download(config.dataset, config.dataset_options):
            p["lr-error"] = (f"The {config.dataset} data is not downloaded yet: press Start new run once to fetch it, "
                             "then run the test.")
            return
        else:
            dataset = load_dataset(config.dataset, config.seed, json.dumps(config.dataset_options, sort_keys=True))
    except engine.InputError as err:
        p["lr-error"] = f"Cannot load the data: {err}"
        return
    p[KEY] = Job(s.spec, dataset, config, STEPS)
    if s.settings.pop(SAVED, None) is not None:  # the kept one is no longer the last test, whatever this one gives
        s.dirty.add("settings")


def use(value: float, optimizer: str) -> None:
    """Leave ``value`` for ``optimizer``'s learning-rate widget through the settings table (shown on the next draw);
    the optimiser the test ran with comes back too, since a rate found for one means nothing to another."""
    queue_settings(PAGE, {"optimizer": optimizer, "lr": value})


def lr_find_ui(s: SessionState, config: TrainConfig | None) -> None:
    """The button, the live progress, and the result with its "Use this η" buttons."""
    p = page(s)
    st.caption("Train a copy of this network for at most "
               f"{STEPS} batches with η growing from {START:g} to {END:g}, and see where the loss falls fastest "
               "(Smith 2017). Your runs and weights are not touched; it counts as your one live run.")
    current = job(s)
    a, b = st.columns(2)
    a.button("Find a learning rate", key="tr-lrf-start", disabled=current is not None and current.live,
             on_click=lambda: start(s, config))
    if current is not None and current.live:
        b.button("Cancel", key="tr-lrf-cancel", on_click=current.cancel)
    if error := p.pop("lr-error", None):
        st.error(message(error))
    if current is not None:
        _view(s, current)
    elif SAVED in s.settings:
        _kept_ui(s.settings[SAVED])


def _kept_ui(kept) -> None:
    """The last range test kept with the workspace (a reload, another tab), drawn as when it ended."""
    try:
        if not isinstance(kept, dict) or not isinstance(kept.get("optimizer"), str) \
                or kept["optimizer"] not in OPTIMIZERS:
            raise engine.InputError("its optimiser is not one the playground has")
        result = diagnostics.LRFind.from_dict(kept.get("result"))
    except engine.InputError as err:
        st.caption(f"The range test kept with this workspace could not be read ({message(err)}): run it again.")
        return
    network, data = (plain(str(kept.get(k))[:80]) for k in ("network", "dataset"))
    st.caption(f"The last range test, kept with your workspace: network **{network}** on **{data}** with "
               f"{kept['optimizer']}.")
    _result_ui(result, kept["optimizer"])


def _view(s: SessionState, current: Job) -> None:
    """Progress in a fragment that redraws alone while the test runs; a full rerun when it ends."""
    live = current.live

    @st.fragment(run_every=POLL if live else None)
    def view():
        state()
        current.heartbeat()
        if current.live:
            if current.state == "queued":
                st.progress(0.0, text=f"queued: place {LIMITER.position(current.token) or 1} for one of the "
                                      f"server's {LIMITER.slots} training slots")
            else:
                st.progress(min(current.progress, 1.0), text=f"range test: {current.progress:.0%}")
        elif live:
            st.rerun()  # ended: draw the result with the page (its buttons)

    view()
    if current.live:
        return
    _keep(s, current)
    if current.state == "failed":
        st.error(f"The range test stopped: {message(current.error)}")
    elif current.state == "cancelled" and current.result is None:
        st.info("The range test was cancelled.")
    elif current.result is not None:
        _result_ui(current.result, current.optimizer)


def _result_ui(result, optimizer: str) -> None:
    """The curve, the two picks, the sentence on how the suggestion is chosen, and the buttons that use them."""
    st.plotly_chart(present.figure(diagnostics.figures.lr_find_figure(result)), key="tr-lrf-chart")
    st.caption(HOW)
    note = f"Stopped: {message(result.stopped)}."  # a kept result's text may come from an imported file
    # passing 4× its best is how the test ends, and a NaN past a usable curve is its rates' end too: only a curve
    # whose loss never fell (it diverged at once) needs the student's attention
    (st.caption if result.usable else st.warning)(note)
    a, b = st.columns(2)
    a.metric("Suggested η (steepest descent)", f"{result.suggestion:.3g}")
    b.metric("Minimum / 10", f"{result.min_tenth:.3g}")
    lowest = row("lr").lo
    if min(result.suggestion, result.min_tenth) < lowest:
        st.caption(f"The learning-rate box takes rates from {lowest:g}: a smaller pick is set to {lowest:g}.")
    a.button(f"Use this η ({result.suggestion:.3g})", key="tr-lrf-use", on_click=use,
             args=(result.suggestion, optimizer))
    b.button(f"Use minimum / 10 ({result.min_tenth:.3g})", key="tr-lrf-use-min", on_click=use,
             args=(result.min_tenth, optimizer))
