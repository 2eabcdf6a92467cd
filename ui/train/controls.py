"""Train page run controls: start (one live run per student), pause, resume with new settings, step, stop, reset."""
from __future__ import annotations

import dataclasses
import json

import streamlit as st

import engine
from engine.training import OPTIMIZERS, TERMINAL, SavedRun, TrainConfig, Trainer
from ui.core import runs_ui
from ui.core.datasets import load_dataset
from ui.core.session import Run, SessionState
from ui.core.text import message
from ui.train import dataset_picker, lr_find
from ui.train.compare import run_label
from ui.train.widgets import GROUP, UPDATABLE, active, change_text, delete_run, elsewhere, page, runs

LIVE = ("queued", "running", "paused")  # states that hold, or wait for, a training slot


def doomed(s: SessionState) -> list[Run]:
    """The runs a new run would delete, oldest ended first: its own over ``MAX_RUNS_KEPT`` (imported runs do not
    count there), then any over ``MAX_RUNS_PER_WORKSPACE``, the cap their file was accepted under. Never one another
    server trains (a replica's): it counts, but stays."""
    def oldest(among, excess):
        among = [r for r in among if not elsewhere(r)]
        return ([r for r in among if not r.live] + [r for r in among if r.live])[:max(excess, 0)]

    own = [r for r in runs(s) if not getattr(r.trainer, "imported", False)]
    going = oldest(own, len(own) + 1 - engine.limits.MAX_RUNS_KEPT)
    rest = [r for r in runs(s) if all(r is not g for g in going)]
    going += oldest(rest, len(rest) + 1 - engine.limits.MAX_RUNS_PER_WORKSPACE)
    return sorted(going, key=lambda r: r.number)


def start_run(s: SessionState, config: TrainConfig, downloaded: bool = False, confirmed: list | None = None) -> None:
    """A new run of the session's network; a live run of this session is stopped first (one per student).

    Runs it would delete (``doomed``) are named first and deleted only once ``confirmed`` lists them. Data still to be
    downloaded is left to ``controls_ui``, which downloads it and calls back with ``downloaded`` (after the confirm).
    """
    p = page(s)
    if (why := lr_find.busy(s)) is not None:  # the range test is the student's live run meanwhile
        p["error"] = why
        return
    going = doomed(s)
    if going and [r.number for r in going] != confirmed and not downloaded:  # changed since: ask again
        p["confirm-start"] = config, [r.number for r in going]
        return
    p.pop("confirm-start", None)
    try:
        upload = p.get("upload")
        if upload is not None and config.dataset == upload.name:
            dataset = upload
        elif not downloaded and dataset_picker.must_download(config.dataset, config.dataset_options):
            p["fetch"] = config  # downloaded by the script, under the buttons, with a progress bar; then started
            return
        else:
            dataset = load_dataset(config.dataset, config.seed, json.dumps(config.dataset_options, sort_keys=True))
        trainer = Trainer(s.spec, config, dataset=dataset)
    except (engine.SpecError, engine.InputError) as err:
        p["error"] = f"Cannot start: {err}"
        return
    _stop_other_live(s, None)
    if kept := [f"#{r.number}" for r in runs(s) if elsewhere(r)]:
        p["info"] = " ".join(filter(None, [p.get("info"), (
            f"Run {', '.join(kept)} is training on another server: it is kept, not deleted to make room, so this "
            "workspace may hold a run more than the Train page's cap until it ends there and you delete it.")]))
    number = s.book.next_number
    s.book.add(GROUP, trainer, s.spec, config, label=run_label(number, s.spec, config, dataset.name),
               auto_adopt=True)
    st.session_state.pop("tr-compare", None)  # the new run joins the comparison
    trainer.start()
    for old in going:  # named and confirmed above
        delete_run(s, old.number)


def _confirm_start_ui(s: SessionState) -> None:
    """Start over the cap: which runs it deletes for good, then Start and delete them, or Cancel."""
    p = page(s)
    if (pending := p.get("confirm-start")) is None:
        return
    config, numbers = pending
    names = ", ".join(f"#{n}" for n in numbers)
    st.warning(f"Starting a new run will delete run{'s' * (len(numbers) != 1)} {names} for good: the Train page "
               f"keeps {engine.limits.MAX_RUNS_KEPT} runs trained here (PLAYGROUND_MAX_RUNS_KEPT) and a workspace "
               f"{engine.limits.MAX_RUNS_PER_WORKSPACE} runs in all, imported ones included "
               "(PLAYGROUND_MAX_RUNS_PER_WORKSPACE). Download the workspace from the sidebar first to keep them, or "
               "delete other runs yourself.")
    a, b = st.columns(2)
    a.button(f"Start and delete {names}", key="tr-start-confirm", type="primary",
             on_click=lambda: start_run(s, config, confirmed=numbers))
    b.button("Cancel", key="tr-start-cancel", on_click=lambda: p.pop("confirm-start", None))


def _settings(config: TrainConfig) -> dict:
    """The values a paused run can still change, as in ``config`` (a run's own: ``trainer.config``)."""
    values = {"lr": config.learning_rate, "betas": tuple(config.betas)}
    return {k: values.get(k, getattr(config, k)) for k in UPDATABLE}


def _stop_other_live(s: SessionState, keep: int | None) -> None:
    """One live run per browser session, so that one student cannot take every training slot of the server."""
    live = [run for run in runs(s) if run.number != keep and run.state in LIVE]
    for run in live:
        run.trainer.stop()
    stopped = [f"#{run.number}" for run in live]
    if stopped:
        page(s)["info"] = f"Run {', '.join(stopped)} was stopped first: each student trains one run at a time, so " \
                    "that the server's training slots stay free for the class."


def pending_changes(run: Run, config: TrainConfig | None) -> dict:
    """Settings in the widgets that differ from what the run uses and that a paused run can take over."""
    if config is None:
        return {}
    current, planned = _settings(run.trainer.config), run.config
    new = _settings(config)
    if config.optimizer != planned.optimizer:
        new["lr"] = current["lr"]  # another optimiser's η means nothing to this one
    for key in new:
        if not OPTIMIZERS[planned.optimizer].uses(key):  # another optimiser's setting: not this run's to change
            new[key] = current[key]
    return {k: v for k, v in new.items() if v != current[k]}


def _fixed_changes(run: Run, config: TrainConfig | None) -> list[str]:
    """Changed settings that only a new run (or Reset) can use."""
    if config is None:
        return []
    old, new = run.config.to_dict(), config.to_dict()
    skip = {*UPDATABLE, "dataset", "dataset_options", "seed"}
    skip |= {k for k in new if not OPTIMIZERS[run.config.optimizer].uses(k)}
    return [k.replace("_", " ") for k in new if k not in skip and new[k] != old[k]]


def controls_ui(s: SessionState, config: TrainConfig | None) -> None:
    """Start / pause / resume / step / stop / reset, acting on the active run."""
    p = page(s)
    run = active(s)
    state = run.state if run else None
    cols = st.columns(6)
    cols[0].button("Start new run", key="tr-start", type="primary", disabled=config is None, width="stretch",
                   on_click=lambda: start_run(s, config))
    cols[1].button("Pause", key="tr-pause", disabled=state not in ("running", "queued"), width="stretch",
                   on_click=lambda: run.trainer.pause())
    training_elsewhere = run is not None and elsewhere(run)  # another server trains it
    resumable = state == "interrupted" and getattr(run.trainer, "resumable", False) and not training_elsewhere
    cols[2].button("Start" if state == "idle" else "Resume", key="tr-resume",
                   disabled=state not in ("idle", "paused") and not resumable, width="stretch",
                   on_click=lambda: _resume(s, run, config))
    cols[3].button("Step (1 batch)", key="tr-step", disabled=state not in ("idle", "paused", "running"),
                   width="stretch", on_click=lambda: _step(s, run))
    cols[4].button("Stop", key="tr-stop", disabled=state in (None, *TERMINAL), width="stretch",
                   on_click=lambda: run.trainer.stop())
    cols[5].button("Reset", key="tr-reset", disabled=run is None or training_elsewhere, width="stretch",
                   on_click=lambda: _reset(s, run, config))
    # (No help= on these buttons: with a tooltip and width="stretch" Streamlit draws each button twice.)
    if run is not None:
        st.caption("Start new run stops a run of yours that is still live (one at a time per student, so the "
                   "class shares the server's training slots). Resume hands a paused run new values of: "
                   f"{', '.join(UPDATABLE.values())}; Reset starts the run over with the current settings "
                   "(same data and seed).")
    if training_elsewhere:
        st.info(f"Run {run.number} is {run.trainer.message}.", icon=":material/dns:")
    if state == "paused":
        changes = pending_changes(run, config)
        if changes:
            current = _settings(run.trainer.config)
            st.caption("On Resume: " + ", ".join(change_text(k, current[k], v) for k, v in changes.items()))
        fixed = _fixed_changes(run, config)
        if fixed:
            st.caption(f"Changed {', '.join(fixed)}: these apply to a new run or after Reset.")
    _confirm_start_ui(s)
    if (pending := p.pop("fetch", None)) is not None and dataset_picker.fetch_ui(pending.dataset):
        start_run(s, pending, downloaded=True)
        st.rerun()  # the buttons above were drawn before the run existed
    # Shown once, until the next run a click causes; the live view's own rerun (a run ended or started training
    # within this one) shows them again, else they would flash and vanish.
    fresh = {kind: p.pop(kind, None) for kind in ("error", "info")}
    shown = p["shown"] = p.get("shown", {}) if runs_ui.rerun_by_live_view() and not any(fresh.values()) else fresh
    if shown.get("error"):
        st.error(message(shown["error"]))
    if shown.get("info"):
        st.info(shown["info"])


def _resume(s: SessionState, run: Run, config: TrainConfig | None) -> None:
    """Start an idle run or resume a paused one, handing a paused run the new settings first."""
    p = page(s)
    if (why := lr_find.busy(s)) is not None:
        p["error"] = why
        return
    trainer = run.trainer
    if isinstance(trainer, SavedRun):  # interrupted by a server restart: on from its last checkpoint
        try:
            trainer = run.trainer = Trainer(run.spec, run.config, dataset=trainer.dataset, resume=trainer.checkpoint(),
                                            history=trainer.records())  # the same curve, on from the checkpoint
        except (engine.InputError, engine.SpecError) as err:
            p["error"] = f"Cannot resume this run: {err}. Reset starts it again from the beginning."
            return
        s.book.changed.add(run.number)  # saved again as it trains
    changes = pending_changes(run, config) if trainer.state == "paused" else {}
    if changes:
        try:
            trainer.update(**changes)  # the engine records each change (status.changes) when it first acts
        except (ValueError, engine.InputError) as err:
            p["error"] = f"Cannot change the run: {err}. It stays paused with its old settings."
            return
    _stop_other_live(s, run.number)
    trainer.start()  # resumes a paused run; starts an idle one (after Reset)


def _step(s: SessionState, run: Run) -> None:
    if (why := lr_find.busy(s)) is not None:
        page(s)["error"] = why
        return
    _stop_other_live(s, run.number)
    run.trainer.step()


def _reset(s: SessionState, run: Run, config: TrainConfig | None) -> None:
    """Fresh weights and the current settings; the data (and its seed) stay the run's."""
    p = page(s)
    old = run.config
    new = old if config is None else dataclasses.replace(config, dataset=old.dataset,
                                                         dataset_options=old.dataset_options, seed=old.seed)
    try:
        if isinstance(run.trainer, SavedRun):  # a run reopened from the workspace: a new trainer, same data
            run.trainer = Trainer(run.spec, new, dataset=run.trainer.dataset)
        else:
            run.trainer.reset(new)
    except (ValueError, engine.InputError, engine.SpecError) as err:
        p["error"] = f"Cannot reset with these settings: {err}"
        return
    s.book.changed.add(run.number)  # saved again as it trains
    run.config, run.label = new, run_label(run.number, run.spec, new, run.trainer.dataset.name)
    run.results = run.model = None
    st.session_state.pop("tr-compare", None)
    st.session_state.pop("tr-run-pick", None)
