"""The Gradients page's time tab, part two: RNN vs LSTM vs GRU trained side by side, measured before and after."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from engine.gradients import figures, lab
from engine.training import TERMINAL, SavedRun
from ui.core import present
from ui.core.page import state
from ui.core.runs_ui import status_text
from ui.core.session import Run
from ui.gradients.depth import ERRORS, PROBE, TASK_NAMES, is_live, live_view, new_run, run_of, scratch, stop_run
from ui.gradients.settings import BUDGETS, COMPARE_SECONDS, COMPARE_STEPS, TIME

COMPARE_CELLS = lab.COMPARE_CELLS
LONG_PRESET = "Long sequences: LSTM learns, RNN does not (T = 100)"
TABLE = "gradients-compare"  # the settings entry that keeps the comparisons' table: {"rows": [...]}


def _start_compare(settings: dict, ds, budget: tuple[str, int], key: tuple) -> None:
    """Start button: three runs with the same task, T, hidden size and seed, trained one after another."""
    kind, amount = budget
    cap = dict(max_seconds=amount / len(COMPARE_CELLS)) if kind == "seconds" else dict(steps=amount)
    try:
        trainers = lab.compare_trainers(settings["hidden"], ds, **cap)
        probe = lab.probe_batch(ds, PROBE)
        at_init = {cell: lab.time_norms(t.model, *probe)["h"] for cell, t in zip(COMPARE_CELLS, trainers)}
    except ERRORS as err:
        scratch()["compare_error"] = f"Could not start the comparison: {err}"
        return
    new_run("compare", key, trainers, at_init=at_init, after=None, baseline=lab.baseline(ds), T=settings["T"],
            row={"task": TASK_NAMES[settings["task"]], "T": settings["T"], "hidden": settings["hidden"],
                 "budget": _budget_text(budget)})
    trainers[0].start()


def _budget_text(budget: tuple[str, int]) -> str:
    kind, amount = budget
    return f"{amount / len(COMPARE_CELLS):.0f} s each" if kind == "seconds" else f"{amount} steps each"


def long_preset() -> dict:
    """The widget values ``LONG_PRESET`` sets: ``lab.LONG_SEQUENCES`` on the page's controls."""
    long = lab.LONG_SEQUENCES
    return TIME.widgets({"task": long["task"], "T": long["T"], "hidden": long["hidden"],
                         "compare_budget": BUDGETS[0], "compare_steps": long["steps"]})


def _apply_long_preset() -> None:
    st.session_state.update(long_preset())


def compare_ui(settings: dict, ds) -> None:
    """Vanilla RNN vs LSTM vs GRU on the same task: curves at initialisation, live losses, a verdict table."""
    st.subheader("Side by side: RNN vs LSTM vs GRU")
    long = lab.LONG_SEQUENCES
    st.button(LONG_PRESET, key="time-compare-long", icon=":material/timeline:", on_click=_apply_long_preset,
              help=f"sets {TASK_NAMES[long['task']].lower()}, T = {long['T']}, hidden size {long['hidden']}, "
                   f"{long['steps']} steps each; then press Compare (about a minute per cell on a small CPU)")
    c0, c1, c2, c3 = st.columns([1, 2, 1, 1], vertical_alignment="bottom")
    by = c0.radio("Budget", BUDGETS, key=TIME.key("compare_budget"),
                  help="equal steps: the verdict does not depend on the server's load; equal seconds: the "
                       "faster cell gets more steps")
    if by == "equal seconds":
        budget = ("seconds", c1.select_slider("Training time, all three together (seconds)", COMPARE_SECONDS,
                                              key=TIME.key("compare_seconds"),
                                              help="split equally; the cells train one after another"))
    else:
        budget = ("steps", c1.select_slider("Training steps, each", COMPARE_STEPS, key=TIME.key("compare_steps"),
                                            help="rounded up to whole epochs; the cells train one after another"))
    key = (settings["task"], settings["T"], settings["hidden"], budget)
    runs = run_of("compare", key)
    c2.button("Compare", key="time-compare", type="primary", width="stretch", on_click=_start_compare,
              args=(settings, ds, budget, key))
    c3.button("Stop", key="time-compare-stop", width="stretch", disabled=not is_live(runs), on_click=stop_run,
              args=("compare",))
    st.caption(f"Same task, T = {settings['T']}, hidden size {settings['hidden']}, seed 0, PyTorch's "
               f"initialisation; Adam (learning rate {lab.COMPARE_LR:g}), batches of {lab.BATCH}, clipping at "
               f"{lab.COMPARE_CLIP:g}; "
               f"{_budget_text(budget)}, one after another. Each finished comparison adds a row to the table. "
               "The chart: each cell's ‖∂L/∂h_t‖ at initialisation (solid) and, once all three have trained, after "
               f"training (dashed), on the same {PROBE} sequences.")
    if error := scratch().pop("compare_error", None):
        st.error(error)
    if runs:
        live_view("compare", lambda runs: _draw_compare(runs, ds))
    if table := _rows():
        st.dataframe(pd.DataFrame(table), hide_index=True, key="time-compare-table")
        st.button("Clear the table", key="time-compare-clear", on_click=_clear_table)


def _rows() -> list:
    """The verdict table's rows as saved (a list of dicts), [] when there are none or they are unreadable."""
    saved = state().settings.get(TABLE)
    rows = saved.get("rows") if isinstance(saved, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _clear_table() -> None:
    state().set_settings(TABLE, {"rows": []})


def _draw_compare(runs: list[Run], ds) -> None:
    trainers = dict(zip(COMPARE_CELLS, [r.trainer for r in runs]))
    run = runs[0].shared
    next_turn(runs)
    st.caption(" · ".join(f"{cell}: {status_text(t)}" for cell, t in trainers.items()))
    left, right = st.columns(2)
    left.plotly_chart(present.figure(figures.compare_figure(run["at_init"], _after_training(runs, ds))),
                      key="time-compare-chart")
    curves = {cell: lab.loss_series(t.records()) for cell, t in trainers.items()}
    right.plotly_chart(present.figure(figures.loss_figure(curves, run["baseline"])), key="time-compare-loss-chart")
    if not is_live(runs):
        st.markdown(_verdict(run, trainers))
        if run.get("recorded") and not run.get("saved"):  # the verdict came after the runs' final save
            run["saved"] = True
            for r in runs:
                state().book.touch(r)


def _after_training(runs: list[Run], ds) -> dict | None:
    """Each cell's ‖∂L/∂h_t‖ once every cell has trained, on the probe batch of the curves at initialisation:
    measured once and kept with the comparison (one saved before they were kept: from its stored weights)."""
    run = runs[0].shared
    after = run.get("after")
    if isinstance(after, dict) and all(isinstance(after.get(c), np.ndarray) and after[c].ndim == 1
                                       for c in COMPARE_CELLS):
        return after
    trainers = [r.trainer for r in runs]
    if is_live(runs) or not all(t.status.step > 0 and (not isinstance(t, SavedRun) or t.has_weights)
                                for t in trainers):
        return None
    try:
        probe = lab.probe_batch(ds, PROBE)
        after = {cell: lab.trained_time_norms(t, *probe) for cell, t in zip(COMPARE_CELLS, trainers)}
    except ERRORS:  # stored weights that no longer load: the curves at initialisation alone
        return None
    run.update(after=after)  # one update: the flusher's thread may be copying the context meanwhile
    for r in runs:
        state().book.touch(r)  # saved with the comparison, so a reopened workspace draws them too
    return after


FALLBACK = "training loss: no epoch ended"  # a cell judged on its training loss, held-out loss not yet measured


def _losses(result: dict) -> str:
    if result["held_out"] is None:
        return f"**{result['train']:.3f}** ({FALLBACK})"
    return f"held-out loss **{result['held_out']:.3f}** (training {result['train']:.3f})"


def _row_cell(result: dict, steps: int) -> str:
    """A cell of the verdict table: the verdict, the loss it was judged on (and which), the steps trained."""
    if result["train"] is None:
        return "no steps"
    on = "held-out" if result["judged_on"] == "held-out" else FALLBACK
    memorised = ": memorised its training sequences" if result["memorised"] else ""
    return f"{result['verdict']}{memorised} ({result['judged']:.3f} {on}, {steps} steps)"


def next_turn(runs: list[Run]) -> None:
    """Sequential runs: when one has ended, start the next (fairer on a few cores than three at once)."""
    for trainer in (r.trainer for r in runs):
        if trainer.state == "idle":
            trainer.start()
            return
        if trainer.state not in TERMINAL:
            return


def _verdict(run: dict, trainers: dict) -> str:
    """The measured losses against the memoryless baseline, and what they say; adds the table's row once.

    Judged on held-out sequences: a long copy task can be memorised (training loss low, held-out loss at chance).
    """
    reference = run["baseline"]
    results = {cell: lab.outcome(t.records(), reference) for cell, t in trainers.items()}
    verdicts = {cell: r["verdict"] + (": memorised its training sequences" if r["memorised"] else "")
                for cell, r in results.items()}
    parts = [f"{cell}: {trainers[cell].status.step} steps, {_losses(r)} ({verdicts[cell]})"
             if r["train"] is not None else f"{cell}: no steps" for cell, r in results.items()]
    # A comparison cut short (stopped, its tab closed, the server restarted) is not a measurement: every cell
    # must have had its whole budget (all its steps, or its seconds).
    measured = all(t.state == "finished" or t.status.message.startswith("stopped at the time limit")
                   for t in trainers.values())
    if not run.get("recorded") and measured:
        run["recorded"] = True
        s = state()
        rows = _rows()
        s.set_settings(TABLE, {"rows": rows + [
            run["row"] | {cell: _row_cell(r, trainers[cell].status.step) for cell, r in results.items()}]})
    text = ("Measured: " + " · ".join(parts) + f". Without memory the best loss is {reference:.3f}; "
            "\"learned\" means a loss on held-out sequences (never trained on) below half of that")
    if any(r["judged_on"] == "training" for r in results.values()):
        text += f" (a cell marked \"{FALLBACK}\" is judged on its training loss)"
    text += "."
    if any(r["memorised"] for r in results.values()):
        text += " A training loss far below the held-out loss: the network memorised its examples, not the rule."
    verdicts = {cell: r["verdict"] for cell, r in results.items()}
    learned = [c for c, v in verdicts.items() if v == "learned"]
    failed = [c for c, v in verdicts.items() if v == "did not learn"]
    if learned and failed:
        text += f" At T = {run['T']}, {' and '.join(learned)} learned where {' and '.join(failed)} did not."
    elif len(learned) == len(verdicts):
        text += f" At T = {run['T']} all three learned: try a longer T."
    elif not learned:
        text += f" At T = {run['T']} none learned in this time: try a shorter T or more time."
    return text
