"""The Inspect page's input picker (sidebar): a sample of the training dataset, a drawing, an upload or typed text.

The dataset is the one the model was trained on, loaded with the recorded seed and options through
the Train page's shared cache (so the split is the trainer's own); without a record, the one ``engine.data.fit``
names for the network, when the model can read it. The "Draw a digit" source is a Plotly chart of cells with
selection events (no canvas component: nothing outside Streamlit and Plotly): the cells a click, box or lasso
selects are painted.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import streamlit as st

from engine import InputError, data, inspect
from engine.inspect import figures as figs
from engine.inspect import images
from ui.core.datasets import load_dataset
from ui.core.text import message, plain
from ui.inspect.widgets import Sample, cached, page_state

BRUSHES = {"Click": "pan", "Lasso": "lasso", "Box": "select"}  # the drawing grid's Plotly dragmode
FALLBACK_VOCAB = list(" abcdefghijklmnopqrstuvwxyz.,'!?\n")


def _load(name: str, seed: int = 0, options: dict | None = None):
    return load_dataset(name, int(seed), json.dumps(options or {}, sort_keys=True))


def _kind(spec) -> str:
    return "tokens" if spec.vocab_size else {1: "vector", 2: "sequence", 3: "image"}.get(len(spec.input), "vector")


def _fits(ds, spec, outputs: int, exact: bool = True) -> bool:
    """The model can read the dataset's samples (images are resized) and has one output per class or target."""
    if spec.vocab_size:  # exact: a model with more tokens than characters would have unnamed outputs
        return ds.task == "char" and (len(ds.vocab) == spec.vocab_size if exact else len(ds.vocab) <= spec.vocab_size)
    if ds.input_kind == "image" and len(spec.input) == 3:
        shape_ok = not exact or tuple(ds.input_shape) == tuple(spec.input)
    else:
        shape_ok = tuple(ds.input_shape) == tuple(spec.input)
    return shape_ok and ds.output_size == outputs


def choose_dataset(s, model) -> tuple[object | None, dict | None]:
    """The training dataset (recorded seed and options), else ``data.fit``'s if the model reads it; and its record."""
    blank = np.zeros(tuple(s.spec.input), np.int64 if s.spec.vocab_size else np.float32)
    outputs = len(cached(s, ("zero-out",), lambda: inspect.outputs(model, blank)))
    rec = s.dataset
    if rec:
        try:
            ds = _load(rec["name"], rec.get("seed", 0), rec.get("options"))
            if s.trained or _fits(ds, s.spec, outputs, exact=False):
                return ds, rec
        except InputError as err:
            st.sidebar.warning(f"The training data ({plain(rec['name'])}) cannot be loaded here: {message(err)}")
    kind, name = _kind(s.spec), data.fit(s.spec)
    try:
        ds = _load(name)
    except InputError:
        return None, None
    # exact for tokens: a model with more tokens than characters would have unnamed outputs; images are resized,
    # and any images will do (without a true label when the classes differ)
    if kind == "image" or _fits(ds, s.spec, outputs, exact=kind == "tokens"):
        return ds, {"name": name, "seed": 0, "options": {}}
    return None, None


def _describe(rec: dict) -> str:
    opts = plain(", ".join(f"{k}={v}" for k, v in sorted((rec.get("options") or {}).items())))
    return f"**{plain(rec['name'])}** (seed {rec.get('seed', 0)}{', ' + opts if opts else ', default options'})"


def input_ui(s, model) -> Sample | None:
    """Sidebar: where the input comes from (dataset sample by class or mistake, drawing, upload, text)."""
    sample = _source_ui(s, model)
    if sample is None:
        return None
    outputs = len(cached(s, ("out", sample.key), lambda: inspect.outputs(model, sample.x)))
    if data.autoencodes(s.spec):  # its outputs are pixels, not classes: the sample keeps its digit's label
        return sample
    if sample.task == "regression":
        sample.classes = [f"output {i}" for i in range(outputs)]
        return sample
    if sample.classes and len(sample.classes) != outputs and sample.vocab is None:
        sample.notes.append(f"The dataset has {len(sample.classes)} classes but the model {outputs} outputs: "
                            "showing output numbers, without the true label.")
        sample.classes, sample.label = [], None
    if sample.vocab is not None and len(sample.classes) < outputs:  # outputs beyond the text's characters
        sample.classes = sample.classes + [str(i) for i in range(len(sample.classes), outputs)]
    if not sample.classes:
        sample.classes = [str(i) for i in range(outputs)]
    return sample


def _source_ui(s, model) -> Sample | None:
    spec = s.spec
    sb = st.sidebar
    sb.header("Input")
    ds, rec = choose_dataset(s, model)
    if spec.vocab_size:
        return _text_ui(s, ds)
    sources = ["Dataset sample"]
    if len(spec.input) == 3:
        sources += ["Draw a digit", "Upload image"] if spec.input[0] == 1 else ["Upload image"]
    source = sb.radio("Source", sources, key="inspect_source", horizontal=True)
    if source == "Upload image":
        return _upload_ui(spec, ds)
    if source == "Draw a digit":
        return _draw_ui(s, model, ds)
    if ds is None:
        sb.info("No dataset fits this model's input; showing a random input. Train the model on the Train page "
                "to inspect its own data.")
        rng = np.random.default_rng(0)
        return Sample(rng.random(tuple(spec.input)).astype(np.float32), "random", origin="a random input")
    return _dataset_ui(s, model, ds, rec)


def _dataset_ui(s, model, ds, rec) -> Sample:
    sb = st.sidebar
    x_test, y_test = ds.x_test.numpy(), ds.y_test.numpy()
    trained_on = "trained on" if s.dataset and s.trained and rec is s.dataset else "chosen to fit the model:"
    sb.caption(f"Samples come from the **test split** of the dataset {trained_on} {_describe(rec)}.")
    mistakes = [] if data.autoencodes(s.spec) else ["misclassified"]  # an autoencoder predicts no class
    choices = ["any class", *mistakes, *ds.classes] if ds.task == "classification" else ["any"]
    pick = sb.selectbox(f"Samples from {ds.name} (test split)", choices, key="inspect_filter")
    notes = []
    data_key = f"{ds.name}:{rec.get('seed', 0)}:{json.dumps(rec.get('options') or {}, sort_keys=True)}"
    if pick == "misclassified":
        fitted = cached(s, ("fitted", data_key), lambda: _fit_all(x_test, s.spec.input))
        predicted = cached(s, ("predicted", data_key), lambda: inspect.predicted_classes(model, fitted))
        indices = np.flatnonzero(predicted != y_test)
    elif pick in ds.classes:
        indices = np.flatnonzero(y_test == ds.classes.index(pick))
    else:
        indices = np.arange(len(x_test))
    if not len(indices):
        sb.success("No samples here: the model gets every test sample right.")
        indices = np.arange(len(x_test))
    n = int(sb.number_input(f"Sample (of {len(indices)})", 0, len(indices) - 1, 0, key="inspect_index"))
    i = int(indices[min(n, len(indices) - 1)])
    x = x_test[i]
    if len(s.spec.input) == 3 and tuple(x.shape) != tuple(s.spec.input):
        x, notes = inspect.fit_to_input(x, tuple(s.spec.input))
    label = ds.classes[int(y_test[i])] if ds.task == "classification" else None
    origin = f"{ds.name} test #{i}"
    sb.caption(f"Showing **{plain(origin)}** (index {i} of the {len(x_test)} test samples).")
    page_state(s)["last_sample"] = (np.asarray(x, dtype=np.float32), label, origin)
    low, high = _pixel_range(ds)
    return Sample(np.asarray(x, dtype=np.float32), f"{data_key}:{i}", label, list(ds.classes), None, notes,
                  origin=origin, task=ds.task, target=y_test[i] if ds.task == "regression" else None,
                  low=low, high=high, dataset=ds)


def _pixel_range(ds) -> tuple[float, float]:
    """Blank and full-ink pixel values: the dataset's own range for image data, else 0 and 1."""
    if ds is not None and ds.input_kind == "image":
        return float(ds.x_test.min()), float(ds.x_test.max())
    return 0.0, 1.0


def _drawing(s) -> dict:
    """The session's drawing: ink 0..1 per cell, and a revision that changes with every stroke."""
    shape = inspect.canvas_shape(tuple(s.spec.input))
    drawing = page_state(s).setdefault("drawing", {"grid": np.zeros(shape, np.float32), "revision": 0})
    if drawing["grid"].shape != shape:  # another model: start again on its grid
        drawing["grid"], drawing["revision"] = np.zeros(shape, np.float32), drawing["revision"] + 1
    return drawing


def _set_drawing(drawing: dict, grid: np.ndarray) -> None:
    drawing["grid"], drawing["revision"] = grid, drawing["revision"] + 1


def _draw_ui(s, model, ds) -> Sample:
    """Main area: the drawing grid, pen or eraser, ink, Clear and Start from a dataset digit; the drawing as input."""
    drawing = _drawing(s)
    low, high = _pixel_range(ds)
    origin = f"the {ds.name} data" if ds is not None and ds.input_kind == "image" else \
        "no grey-image dataset chosen; assumed"
    shape = drawing["grid"].shape

    def stroke():
        event = st.session_state.get("inspect_draw")
        points = (event or {}).get("selection", {}).get("points", [])
        if points:
            ink = 0.0 if st.session_state.get("inspect_pen") == "Eraser" else st.session_state.get("inspect_ink", 1.0)
            _set_drawing(drawing, inspect.paint(drawing["grid"], [(p["y"], p["x"]) for p in points], ink))

    def clear():
        _set_drawing(drawing, np.zeros(shape, np.float32))
        drawing.pop("origin", None)

    def from_dataset():
        last = page_state(s).get("last_sample")
        if last is None and ds is not None and ds.input_kind == "image":
            last = (_fit_all(ds.x_test[:1].numpy(), s.spec.input)[0], None, f"{ds.name} test #0")
        if last is not None:
            _set_drawing(drawing, inspect.input_to_drawing(last[0], shape, low, high))
            drawing["origin"] = last[2]

    x, notes = inspect.drawing_to_input(drawing["grid"], tuple(s.spec.input), low, high)
    classes = list(ds.classes) if ds is not None and ds.task == "classification" else []
    sample = Sample(x, "draw:" + hashlib.sha1(x.tobytes()).hexdigest()[:16], None, classes, None,
                    [f"Drawn on {shape[1]}×{shape[0]}; ink 0 to 1 becomes pixel values {low:g} to {high:g} "
                     f"({origin})."] + notes, origin="your drawing", low=low, high=high, dataset=ds)
    with st.container(border=True, key="inspect_drawing"):
        left, right = st.columns(2)
        with right:  # before the grid: its dragmode comes from the brush
            st.markdown("**Draw a digit**")
            st.caption("Lasso or Box: drag over cells. Click: click cells one at a time. The pen paints them, the "
                       "eraser clears them.")
            brush = st.segmented_control("Brush", list(BRUSHES), default="Lasso", key="inspect_brush") or "Lasso"
            st.segmented_control("Tool", ["Pen", "Eraser"], default="Pen", key="inspect_pen")
            st.slider("Ink", 0.1, 1.0, 1.0, 0.1, key="inspect_ink", help="how dark the pen paints (1 = full ink)")
            b1, b2 = st.columns(2)
            b1.button("Clear", key="inspect_clear", on_click=clear, width="stretch")
            b2.button("Start from a dataset digit", key="inspect_from_dataset", on_click=from_dataset,
                      width="stretch", help="copies the sample last picked under Dataset sample, so you can edit it")
            if drawing.get("origin"):
                st.caption(f"Started from {plain(drawing['origin'])}.")
            if data.autoencodes(s.spec):
                st.markdown("Its reconstruction is in the Prediction tab below, its code in the Codes tab.")
            else:
                probs = cached(s, ("probs", sample.key), lambda: inspect.probabilities(model, sample.x))
                best = int(np.argmax(probs))
                name = classes[best] if len(classes) == len(probs) else str(best)
                st.markdown(f"The model says **{name}** ({probs[best]:.0%}); all classes in the Prediction tab "
                            "below.")
        with left:
            st.plotly_chart(figs.drawing_canvas(drawing["grid"], revision=drawing["revision"], dragmode=BRUSHES[brush]),
                            key="inspect_draw", on_select=stroke, selection_mode=("points", "box", "lasso"),
                            width="content", config={"displayModeBar": False})
    return sample


def _fit_all(xs: np.ndarray, shape) -> np.ndarray:
    if tuple(xs.shape[1:]) == tuple(shape) or len(shape) != 3:
        return xs
    return np.stack([inspect.fit_to_input(x, tuple(shape))[0] for x in xs])


def _upload_ui(spec, ds) -> Sample | None:
    sb = st.sidebar
    file = sb.file_uploader("Image (PNG, JPEG, GIF, BMP, WebP)", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
                            key="inspect_upload")
    invert = spec.input[0] == 1 and sb.toggle(
        "Invert (dark ink on light paper)", False, key="inspect_invert",
        help="digit datasets store light ink on a black background; a photo of a digit on paper is the opposite")
    if file is None:
        st.info("Upload an image in the sidebar.")
        return None
    try:
        decoded = images.decode(file.getvalue(), "RGB" if spec.input[0] == 3 else "L")
        x, notes = inspect.fit_to_input(decoded.pixels, tuple(spec.input))
    except InputError as err:
        st.error(message(err))
        return None
    low, high = _pixel_range(ds)
    if spec.input[0] == 1 and not invert and float(x.mean()) > 0.5:
        notes.append("The picture is mostly light: if it is dark ink on light paper, turn on Invert.")
    x, mapped = images.to_pixel_range(x, low, high, invert)
    read = ["Read as grey: the model has one input channel."] if spec.input[0] == 1 else []
    classes = list(ds.classes) if ds is not None and ds.task == "classification" else []
    return Sample(x, f"upload:{file.file_id}:{int(invert)}", classes=classes,
                  notes=decoded.notes + read + notes + mapped, origin=f"upload {file.name}", low=low, high=high,
                  dataset=ds)


def _text_ui(s, ds) -> Sample:
    spec = s.spec
    vocab, notes, default = None, [], "hello world"
    if ds is not None and ds.task == "char" and len(ds.vocab) <= spec.vocab_size:
        vocab = list(ds.vocab)
        default = "".join(vocab[int(t)] for t in ds.x_test[0])
        st.sidebar.caption(f"Characters of the dataset **{plain(ds.name)}**.")
    if vocab is None:
        vocab = FALLBACK_VOCAB[:spec.vocab_size]
        notes.append(f"No character dataset fits this model's {spec.vocab_size} tokens; using the characters "
                     f"{''.join(vocab)!r}.")
    text = st.sidebar.text_area("Text", default[:spec.input[0]], key="inspect_text", max_chars=spec.input[0])
    kept = [c for c in text if c in vocab]
    if len(kept) < len(text):
        notes.append("Characters outside the vocabulary were dropped.")
    if not kept:
        kept = [vocab[0]]
        notes.append(f"The text is empty (or has no character the model knows), so the input is one "
                     f"{figs.visible(vocab[0])!r}; type some text in the sidebar.")
    ids = np.array([vocab.index(c) for c in kept], dtype=np.int64)
    return Sample(ids, "text:" + "".join(kept), None, list(vocab), vocab, notes, origin="your text", task="char")
