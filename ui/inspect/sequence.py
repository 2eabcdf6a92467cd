"""The Inspect page's Sequence tab: per-character attribution, hidden states and LSTM gates over time."""
from __future__ import annotations

import streamlit as st

from engine import inspect
from engine.inspect import attribution
from engine.inspect import figures as figs
from ui.core import present
from ui.inspect.widgets import Sample, cached, page_state, target_ui


def _shown(chars) -> str:
    return "".join(figs.visible(c) for c in chars)


def tokens_ui(s, model, sample: Sample, draw: bool = True) -> None:
    """Which position and character to explain, and each input character's share of it (unless not ``draw``)."""
    chars = [sample.vocab[int(t)] for t in sample.x]
    steps = len(chars)
    ps = page_state(s)
    if ps.get("seq_input") != sample.key:  # new text: explain the prediction after its last character again
        ps["seq_input"] = sample.key
        st.session_state["inspect_pos"] = steps - 1
    cols = st.columns(2)
    if steps > 1:
        pos = cols[0].select_slider("Explain the prediction after character", list(range(steps)), key="inspect_pos",
                                    format_func=lambda i: f"{i}: {figs.visible(chars[i])}")
    else:
        pos = 0
    top = cached(s, ("predict", sample.key, pos),
                 lambda: inspect.predict(model, sample.x, sample.classes, k=1, position=pos))
    target, name, is_predicted = target_ui(cols[1], "Explain character", sample.classes, top[0][0],
                                           "inspect_seq_target")
    if not draw:
        return
    tid = sample.classes.index(name) if target is None else target
    scores = cached(s, ("tokens", sample.key, pos, tid),
                    lambda: attribution.token_attribution(model, sample.x, target_pos=pos, target=tid))
    title = (f"Why {'the predicted' if is_predicted else 'the'} next character '{figs.visible(name)}' after "
             f"'{_shown(chars[max(0, pos - 24):pos + 1])}' (position {pos}): each character's share "
             "(Integrated Gradients on the embedding)")
    st.plotly_chart(present.figure(figs.coloured_text(chars, scores, title)), key="inspect_tokens")
    if inspect.recurrent_info(model)["bidirectional"]:
        st.caption("The recurrent layer is bidirectional: characters after the position can matter too.")


def _layer_ui(info: dict) -> tuple[int, int, str]:
    """The stacked layer and (bidirectional) gate direction to draw; their names for titles."""
    n = info["num_layers"]
    cols = st.columns(2)
    layer = n - 1
    if n > 1:
        layer = cols[0].selectbox("Stacked layer", list(range(n)), index=n - 1, key="inspect_rnn_layer",
                                  format_func=lambda k: f"layer {k + 1} of {n}" + (" (top)" if k == n - 1 else ""))
    direction = 0
    if info["bidirectional"] and info["cell"] == "LSTM":
        direction = ["forward", "backward"].index(cols[1].radio("Gates of the direction", ["forward", "backward"],
                                                                key="inspect_rnn_dir", horizontal=True))
    return layer, direction, f"layer {layer + 1} of {n}"


def sequence_ui(s, model, sample: Sample, draw: bool = True) -> None:
    """Per-character attribution, the hidden state over time, LSTM gates, for one chosen stacked layer.

    ``draw=False`` (the tab is closed): only the widgets, so their choices outlive a visit to another tab.
    """
    if sample.vocab is not None:
        tokens_ui(s, model, sample, draw)
    info = inspect.recurrent_info(model)
    layer, direction, where = _layer_ui(info)
    if not draw:
        return
    labels = [sample.vocab[int(t)] for t in sample.x] if sample.vocab is not None else None
    states = cached(s, ("hidden", sample.key, layer), lambda: inspect.hidden_states(model, sample.x, layer=layer))
    hidden = info["hidden_size"]
    both = (f", forward | backward (units 0–{hidden - 1} forward, {hidden}–{2 * hidden - 1} backward)"
            if info["bidirectional"] else "")
    title = f"Hidden state h_t of {info['cell']} {where}{both} (units × steps)"
    st.plotly_chart(present.figure(figs.time_heatmap(states, title, x_labels=labels)), key="inspect_hidden")
    if info["cell"] == "LSTM":
        gates = cached(s, ("gates", sample.key, layer, direction),
                       lambda: inspect.lstm_gates(model, sample.x, layer=layer, direction=direction))
        side = ("forward", "backward")[direction] + " direction"
        for name, fig in figs.gates_figures(gates, f"{where}, {side}", x_labels=labels).items():
            st.plotly_chart(present.figure(fig), key=f"inspect_gate_{name}")
    if len(inspect.recurrent_layers(model)) > 1:
        st.caption("Only the model's first recurrent layer is drawn.")
