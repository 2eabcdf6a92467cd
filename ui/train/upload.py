"""Train page uploads: your own text for the character model, and trained weights for the session's network."""
from __future__ import annotations

import streamlit as st

import engine
from engine import data, limits
from engine.training import load_weights
from ui.core import workspace
from ui.core.session import SessionState
from ui.core.text import message, plain


def text_ui(p: dict, seq_len: int, seed: int):
    """A .txt uploader for character models; returns its Dataset, or None (built-in text) with the reason shown.

    The parsed dataset is kept per session (never in a shared cache) and rebuilt only for a new file or seed.
    """
    file = st.file_uploader("Your own text (.txt)", type=["txt"], key="tr-text",
                            help=f"plain UTF-8 text, at most {limits.MAX_UPLOAD_BYTES // 2**20} MB; "
                                 "the model learns to continue it one character at a time")
    if file is None:
        p.pop("text", None)
        return None
    key = (file.file_id, seq_len, seed)
    cached = p.get("text")
    if cached is None or cached["key"] != key:
        try:
            if file.size > limits.MAX_UPLOAD_BYTES:
                raise engine.InputError(f"the file is {file.size / 2**20:.1f} MB, over the limit of "
                                        f"{limits.MAX_UPLOAD_BYTES / 2**20:.0f} MB; upload a shorter text")
            dataset = data.from_text(file.getvalue(), seq_len=seq_len, seed=seed, name=f"upload:{file.name}")
            cached = {"key": key, "dataset": dataset, "error": None}
        except engine.InputError as err:
            cached = {"key": key, "dataset": None, "error": str(err)}
        p["text"] = cached
    if cached["error"]:
        st.error(f"Your text cannot be used: {message(cached['error'])}. Training uses the built-in text until you "
                 "upload another file.")
        return None
    st.caption(f"Training on **{plain(file.name)}**: {message(cached['dataset'].description)}")
    return cached["dataset"]


def weights_ui(s: SessionState, p: dict) -> None:
    """Load a .safetensors (or weights-only state_dict) file into the session's network; refusals say why."""
    file = st.file_uploader("Load weights (.safetensors)", type=["safetensors", "pt", "pth"], key="tr-weights",
                            help="weights exported from a run of this same network (Compare runs → Weights); "
                                 "they become the session's model, which Inspect and Gradients show")
    if file is None:
        p.pop("weights_file", None)
        return
    if p.get("weights_file", (None,))[0] != file.file_id:  # each file is read once, not on every rerun
        p["weights_file"] = (file.file_id, _load(s, file))
    ok, said = p["weights_file"][1]
    (st.success if ok else st.error)(said)


def _load(s: SessionState, file) -> tuple[bool, str]:
    if file.size > limits.MAX_UPLOAD_BYTES:
        return False, (f"Weights refused: the file is {file.size / 2**20:.1f} MB, over the upload limit of "
                       f"{limits.MAX_UPLOAD_BYTES / 2**20:.0f} MB.")
    try:
        model = engine.build(s.spec, seed=0)
        load_weights(model, file.getvalue())  # safetensors, or torch.load(weights_only=True): never a pickle
    except (engine.InputError, engine.SpecError) as err:
        return False, f"Weights refused: {message(err)}. The session's network and its weights are unchanged."
    s.set_model(model, trained=True)
    s.dataset = None  # unknown: the file does not say what it was trained on
    workspace.sync(s)  # saved by this run, not the next click's
    return True, (f"Loaded **{plain(file.name)}** into {plain(s.spec.name or 'the network')}: the session's model "
                  "now has "
                  "these weights (Inspect and Gradients use them).")
