"""The Train page's Diagnostics tab: histograms over time, unit health and update-to-weight ratios of the active run,
drawn from its records (live, ended, or restored from the workspace) with ``engine.diagnostics``."""
from __future__ import annotations

import time

import streamlit as st

from engine.diagnostics import figures as diag_figures
from engine.diagnostics import series
from engine.training import PROBE
from ui.core import present, runs_ui
from ui.core.session import Run, SessionState
from ui.core.text import plain
from ui.train import widgets

TAB = "train_tab"  # the page's tabs ("Training", "Diagnostics"), kept in the address
TABS = ["Training", "Diagnostics"]
QUANTITY = "tr-diag-quantity"
LAYERS = "tr-diag-layers"  # one multiselect per quantity: f"{LAYERS}-{quantity}" (each has its own layers)
STEP = "tr-diag-step"
SCRATCH = "train-diag"  # s.extras: the records and figures kept until the run records more
# Why each problem blocks learning, shown under its warning: the derivative the backward pass multiplies by.
FORMULAS = {"saturated": r"\sigma'(x) = \sigma(x)\,(1-\sigma(x)) \le \tfrac14,\quad "
                         r"\tanh'(x) = 1-\tanh^2(x) \to 0 \text{ as } |x| \to \infty",
            "dead": r"\mathrm{ReLU}'(x) = 0 \text{ for } x < 0:\ \text{a unit that is } 0 "
                    r"\text{ for every input passes no gradient}"}
RATIO_NOTE = ("Rule of thumb (Karpathy, CS231n): each step should change a layer's weights by about a thousandth "
              "of their size, ‖Δw‖/‖w‖ ≈ 10⁻³; far below, the layer barely learns (η too small, or vanishing "
              "gradients); far above, it is thrown around (η too large).")


def live_ui(s: SessionState) -> None:
    """The active run's diagnostics, redrawn on the page's live tick while it trains."""
    runs_ui.live_view(lambda: [run] if (run := widgets.active(s)) is not None else [],
                      lambda current: diagnostics_ui(s, current[0]))


REBUILD_EVERY = 2.0  # seconds between rebuilds of a live run's figures (~100-190 ms each at 5,000 steps)


def _diagnostic(record: dict) -> bool:
    return "hist" in record or "update_ratio" in record or "health" in record


def _kept(s: SessionState, run: Run) -> dict:
    """This run's diagnostic records (read incrementally: only the new ones each tick) and the figures built from
    them. The figures are rebuilt when a new histogram record came, and while the run trains at most every
    ``REBUILD_EVERY`` s: a tick in between resends the kept figures (no series built)."""
    trainer = run.trainer
    identity = (run.number, trainer.status.generation, run.label)
    kept = s.extras.get(SCRATCH)
    if kept is None or kept["identity"] != identity:
        kept = s.extras[SCRATCH] = {"identity": identity, "read": 0, "records": [], "pending": [], "figures": {},
                                    "built": 0.0}
    count = trainer.record_count
    if count != kept["read"]:
        kept["pending"] += [r for r in trainer.records(since=kept["read"]) if _diagnostic(r)]
        kept["read"] = count
    if kept["pending"] and (not run.live or time.monotonic() - kept["built"] >= REBUILD_EVERY):
        kept["records"] = kept["records"] + kept["pending"]  # a new list: the old figures' series stay as built
        kept["pending"], kept["figures"], kept["built"] = [], {}, time.monotonic()
    return kept


def _figure(kept: dict, key: tuple, build):
    figures = kept["figures"]
    if key not in figures:
        figures[key] = build()
    return figures[key]


def diagnostics_ui(s: SessionState, run: Run) -> None:
    """Histograms over time, one step's histograms, mean and spread, unit health and update ratios of ``run``."""
    kept = _kept(s, run)
    records = kept["records"]
    status = run.trainer.status
    st.caption(f"{plain(run.label)}: {status.state} · step {status.step}/{status.total_steps}. Recorded from the "
               "batches the run trains on, every few steps (no extra pass): what each layer's values look like and "
               "how they change as it learns.")
    steps = series.steps(records)
    if not steps:
        st.info("No histograms recorded yet: the run records them on its first step, then every few steps (a run "
                "saved before diagnostics existed has none).")
        return
    histograms_ui(kept, steps, s.extras.setdefault(f"{SCRATCH}-step", {}))
    health_ui(kept)
    ratios_ui(kept)


def histograms_ui(kept: dict, steps: list[int], follow: dict) -> None:
    """Heat maps per layer over training, every layer's histogram at a chosen step, mean and spread per layer;
    ``follow`` remembers the latest step the slider offered (kept across the run's records)."""
    records = kept["records"]
    st.subheader("Histograms over training")
    quantity = st.radio("Quantity", list(series.QUANTITIES), format_func=series.QUANTITIES.get, horizontal=True,
                        key=QUANTITY, help="activations: each layer's output; weight gradients and weights: of the "
                                           "layers that have weights (biases left out)")
    names = _figure(kept, ("layers", quantity), lambda: series.layers(records, quantity))
    if not names:
        st.info(f"No {series.QUANTITIES[quantity]} recorded.")
        return
    chosen = st.multiselect("Layers to show over training", names, default=[names[0], names[-1]][:len(names)],
                            key=f"{LAYERS}-{quantity}",
                            help="x: training step, y: value, colour: how many values fall in that bin (log scale)")
    for name in chosen:
        fig = _figure(kept, ("heat", quantity, name),
                      lambda n=name: diag_figures.heatmap_figure(series.heatmap(records, n, quantity), n, quantity))
        st.plotly_chart(present.figure(fig), key=f"tr-diag-heat-{names.index(name)}")
    _follow_latest(follow, steps)
    step = st.select_slider("Step", steps, key=STEP,
                            help="every layer's histogram at this step, side by side (Glorot and Bengio's figure)")
    fig = _figure(kept, ("at", quantity, step),
                  lambda: diag_figures.step_figure(series.at_step(records, step, quantity), quantity))
    st.plotly_chart(present.figure(fig), key="tr-diag-step-chart")
    fig = _figure(kept, ("moments", quantity),
                  lambda: diag_figures.moments_figure(series.moments(records, quantity), quantity))
    st.plotly_chart(present.figure(fig), key="tr-diag-moments")


def _follow_latest(follow: dict, steps: list[int]) -> None:
    """A step slider left at the latest step moves on with the run; one the student moved stays."""
    value = st.session_state.get(STEP)
    if value is None or value not in steps or value == follow.get("latest"):
        st.session_state[STEP] = steps[-1]
    follow["latest"] = steps[-1]


def health_ui(kept: dict) -> None:
    """The latest dead and saturated shares per activation layer, with a warning for each that passes its bar."""
    records = kept["records"]
    health = _figure(kept, ("health",), lambda: series.health(records))
    st.subheader("Unit health")
    if not health:
        st.info("No unit health recorded (the network has no activation layers, or the run recorded none yet).")
        return
    rows = [{"layer": name, "activation": h["kind"], "dead": h["dead"][-1], "saturated": h["saturated"][-1],
             "at step": h["steps"][-1]} for name, h in health.items()]
    st.dataframe(rows, hide_index=True, key="tr-diag-health-table", column_config={
        "dead": st.column_config.ProgressColumn("dead", format="percent", min_value=0.0, max_value=1.0,
                                                help="units that are 0 for every probe sample"),
        "saturated": st.column_config.ProgressColumn(
            "saturated", format="percent", min_value=0.0, max_value=1.0,
            help="units within 1% of a bound for at least 95% of the probe samples")})
    st.caption(f"Measured on the first {PROBE} validation samples, in evaluation mode. A warning "
               f"appears when more than {series.DEAD_WARN:.0%} of a layer's units are dead or more than "
               f"{series.SATURATED_WARN:.0%} saturated.")
    for warning in _figure(kept, ("warnings",), lambda: series.warnings(records)):
        st.warning(plain(warning["text"]), icon=":material/warning:")
        st.latex(FORMULAS[warning["what"]])
        st.caption(plain(warning["formula"]))


def ratios_ui(kept: dict) -> None:
    """‖Δw‖/‖w‖ per layer on a log axis with the 1e-3 reference line."""
    records = kept["records"]
    ratios = _figure(kept, ("ratios",), lambda: series.update_ratios(records))
    st.subheader("Update-to-weight ratio")
    if not ratios:
        st.info("No update ratios recorded.")
        return
    fig = _figure(kept, ("ratio-fig",), lambda: diag_figures.update_ratio_figure(ratios))
    st.plotly_chart(present.figure(fig), key="tr-diag-ratios")
    st.caption(RATIO_NOTE)
