"""The Build page's summary: the shapes-and-parameters table, the totals and the graph of the network."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import engine
from engine.network import Summary, fmt_shape, network_figure
from ui.core import present, text


def summary_or_error(spec: engine.ModelSpec) -> tuple[Summary, engine.SpecError | None]:
    """The summary, or the rows above the first error and the error itself."""
    try:
        return engine.summarize(spec), None
    except engine.SpecError as err:
        out = err.rows[-1].output_shape if err.rows else tuple(spec.input)
        top = [r for r in err.rows if r.depth == 0]
        return Summary(tuple(spec.input), out, err.rows, sum(r.params for r in top),
                       sum(r.activation_bytes for r in err.rows), sum(r.macs for r in top)), err


def _bytes(n: float) -> str:
    """Bytes in binary units, labelled as such (1 KiB = 1024 B)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024


def summary_ui(summary: Summary, error: engine.SpecError | None) -> None:
    """The VGG-style table, totals and the graph; the failing layer is flagged, rows above it stay."""
    if error is not None:
        st.error(text.message(error))
    table = pd.DataFrame([{"#": ("  " * r.depth) + r.index, "Layer": r.type, "Details": r.detail,
                           "Output": fmt_shape(r.output_shape), "Memory": _bytes(r.activation_bytes),
                           "Parameters": f"{r.params:,}", "MACs": f"{r.macs:,}"} for r in summary.rows],
                         columns=["#", "Layer", "Details", "Output", "Memory", "Parameters", "MACs"])
    if error is not None:
        table = pd.concat([table, pd.DataFrame([{"#": error.path or "", "Layer": "⚠ error", "Details": str(error),
                                                 "Output": "", "Memory": "", "Parameters": "",
                                                 "MACs": ""}])], ignore_index=True)
    styled = table.style.apply(lambda row: ["background-color: #fde2e1" if row["Layer"] == "⚠ error" else ""
                                            for _ in row], axis=1) if error is not None else table
    st.dataframe(styled, hide_index=True, width="stretch", key="summary-table")
    above = " (layers above the error)" if error is not None else ""
    cols = st.columns(3)
    cols[0].metric("Parameters" + above, f"{summary.total_params:,}", help=f"{_bytes(summary.param_bytes)} as float32")
    cols[1].metric("Activations / sample" + above, _bytes(summary.total_activation_bytes),
                   help="sum of every layer's float32 output (ReLU, Dropout and Flatten outputs counted too)")
    cols[2].metric("MACs / sample" + above, f"{summary.total_macs:,}", help="multiply-accumulates, counted by "
                   "torch.utils.flop_counter")
    cols = st.columns(3)
    batch = int(cols[0].number_input("Batch size", 1, 65_536, 64, key="memory-batch",
                                     help="for the memory estimate on the right"))
    mem = summary.memory_bytes(batch_size=batch)
    cols[1].metric(f"Forward memory, B={batch}", _bytes(mem["params"] + mem["forward"]),
                   help=f"parameters {_bytes(mem['params'])} + activations {_bytes(mem['forward'])}")
    cols[2].metric(f"Backward memory, B={batch}", _bytes(mem["backward"]),
                   help="gradients of the activations: roughly twice the forward activations (an estimate), "
                        f"plus {_bytes(mem['params'])} of parameter gradients")
    if error is None and (summary.total_params > engine.limits.MAX_PARAMS
                          or summary.total_activation_bytes > engine.limits.MAX_ACTIVATION_BYTES):
        st.info(f"Summarised only: this server builds networks of at most {engine.limits.MAX_PARAMS:,} parameters "
                f"and {_bytes(engine.limits.MAX_ACTIVATION_BYTES)} of activations per sample, so this one is too big "
                "to train or inspect here. Export it to run it elsewhere, or make it smaller to use it on the Train "
                "and Inspect pages.")
    st.plotly_chart(present.figure(network_figure(summary, error.path if error else None)), key="graph",
                    config={"displayModeBar": False})
