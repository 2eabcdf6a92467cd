"""Widget groups of the Inspect page: input picker, predictions, filters, activations, attribution, recurrent states.

The "Draw a digit" source is a Plotly chart of cells with selection events (no canvas component:
nothing outside Streamlit and Plotly): the cells a click, box or lasso selects are painted.

Results are cached per browser session in ``state().extras["inspect"]``, keyed on the model's
version: st.cache_data / cache_resource are shared by every user and must never hold a session's model.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from engine import attribution, data, images, inspect
from engine import inspect_figures as figs
from engine.errors import InputError

BRUSHES = {"Click": "pan", "Lasso": "lasso", "Box": "select"}  # the drawing grid's Plotly dragmode
FALLBACK_VOCAB = list(" abcdefghijklmnopqrstuvwxyz.,'!?\n")
MAX_CACHED = 64


@dataclass
class Sample:
    """The chosen input: one sample in the model's input shape, and what we know about it."""

    x: np.ndarray
    key: str  # names the input in cache keys
    label: str | None = None
    classes: list[str] = field(default_factory=list)
    vocab: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def page_state(s) -> dict:
    """This page's scratch space; cached results are dropped when the model's version changes."""
    ex = s.extras.setdefault("inspect", {"version": None, "results": {}})
    if ex["version"] != s.version:
        ex["version"], ex["results"] = s.version, {}
    return ex


def cached(s, key: tuple, compute):
    """``compute()`` once per (model version, key) for this session."""
    results = page_state(s)["results"]
    if key not in results:
        if len(results) >= MAX_CACHED:
            results.clear()
        results[key] = compute()
    return results[key]


@st.cache_resource(max_entries=4, show_spinner=False)  # read-only datasets, shared safely; never a model
def _dataset(name: str):
    return data.load(name, seed=0)


def _dataset_name(s) -> str | None:
    """The Train page's dataset, else digits for image models and zen for character models."""
    name = s.extras.get("train", {}).get("dataset_name")
    if name:
        return name
    if s.spec.vocab_size:
        return "zen"
    return "digits" if len(s.spec.input) == 3 else None


def input_ui(s, model) -> Sample | None:
    """Sidebar: where the input comes from (dataset sample by class or mistake, upload, text for character models)."""
    sample = _source_ui(s, model)
    if sample is None:
        return None
    outputs = len(cached(s, ("probs", sample.key), lambda: inspect.probabilities(model, sample.x)))
    if sample.classes and len(sample.classes) != outputs and sample.vocab is None:
        sample.notes.append(f"The dataset has {len(sample.classes)} classes but the model {outputs} outputs: "
                            "showing output numbers, without the true label.")
        sample.classes, sample.label = [], None
    if not sample.classes:
        sample.classes = [str(i) for i in range(outputs)]
    return sample


def _source_ui(s, model) -> Sample | None:
    spec = s.spec
    sb = st.sidebar
    sb.header("Input")
    if spec.vocab_size:
        return _text_ui(s)
    sources = ["Dataset sample"]
    if len(spec.input) == 3:
        sources += ["Draw a digit", "Upload image"] if spec.input[0] == 1 else ["Upload image"]
    source = sb.radio("Source", sources, key="inspect_source", horizontal=True)
    if source == "Upload image":
        return _upload_ui(spec)
    name = _dataset_name(s)
    try:
        ds = _dataset(name) if name else None
    except InputError as err:
        sb.warning(str(err))
        ds = None
    if source == "Draw a digit":
        return _draw_ui(s, model, ds)
    if ds is None or (ds.input_kind != "image" and tuple(ds.input_shape) != tuple(spec.input)):
        sb.info("No dataset matches this model's input; showing a random input. Pick a dataset on the Train page.")
        rng = np.random.default_rng(0)
        return Sample(rng.random(tuple(spec.input)).astype(np.float32), "random")
    return _dataset_ui(s, model, ds)


def _dataset_ui(s, model, ds) -> Sample:
    sb = st.sidebar
    x_test, y_test = ds.x_test.numpy(), ds.y_test.numpy()
    choices = ["any class", "misclassified"] + list(ds.classes) if ds.task == "classification" else ["any"]
    pick = sb.selectbox(f"Samples from {ds.name} (test split)", choices, key="inspect_filter")
    notes = []
    if pick == "misclassified":
        fitted = cached(s, ("fitted", ds.name), lambda: _fit_all(x_test, s.spec.input))
        predicted = cached(s, ("predicted", ds.name), lambda: inspect.predicted_classes(model, fitted))
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
    page_state(s)["last_sample"] = (np.asarray(x, dtype=np.float32), label, f"{ds.name} test #{i}")
    return Sample(np.asarray(x, dtype=np.float32), f"{ds.name}:{i}", label, list(ds.classes), None, notes)


def _pixel_range(ds) -> tuple[float, float, str]:
    """Blank and full-ink pixel values: the dataset's own range when it holds grey images, else 0 and 1."""
    if ds is not None and ds.input_kind == "image" and int(ds.input_shape[0]) == 1:
        return float(ds.x_test.min()), float(ds.x_test.max()), f"the {ds.name} data"
    return 0.0, 1.0, "no grey-image dataset chosen; assumed"


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
    low, high, origin = _pixel_range(ds)
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
                     f"({origin})."] + notes)
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
                st.caption(f"Started from {drawing['origin']}.")
            probs = cached(s, ("probs", sample.key), lambda: inspect.probabilities(model, sample.x))
            best = int(np.argmax(probs))
            name = classes[best] if len(classes) == len(probs) else str(best)
            st.markdown(f"The model says **{name}** ({probs[best]:.0%}); all classes in the Prediction tab below.")
        with left:
            st.plotly_chart(figs.drawing_canvas(drawing["grid"], revision=drawing["revision"], dragmode=BRUSHES[brush]),
                            key="inspect_draw", on_select=stroke, selection_mode=("points", "box", "lasso"),
                            width="content", config={"displayModeBar": False})
    return sample


def _fit_all(xs: np.ndarray, shape) -> np.ndarray:
    if tuple(xs.shape[1:]) == tuple(shape) or len(shape) != 3:
        return xs
    return np.stack([inspect.fit_to_input(x, tuple(shape))[0] for x in xs])


def _upload_ui(spec) -> Sample | None:
    file = st.sidebar.file_uploader("Image (PNG, JPEG, GIF, BMP, WebP)", type=["png", "jpg", "jpeg", "gif", "bmp",
                                                                              "webp"], key="inspect_upload")
    if file is None:
        st.info("Upload an image in the sidebar.")
        return None
    try:
        decoded = images.decode(file.getvalue(), "RGB" if spec.input[0] == 3 else "L")
        x, notes = inspect.fit_to_input(decoded.pixels, tuple(spec.input))
    except InputError as err:
        st.error(str(err))
        return None
    read = ["Read as grey: the model has one input channel."] if spec.input[0] == 1 else []
    return Sample(x, f"upload:{file.file_id}", notes=decoded.notes + read + notes)


def _text_ui(s) -> Sample:
    spec = s.spec
    vocab, notes, default = None, [], "hello world"
    try:
        ds = _dataset(_dataset_name(s))
        if ds.task == "char" and len(ds.vocab) <= spec.vocab_size:
            vocab = list(ds.vocab)
            default = "".join(vocab[int(t)] for t in ds.x_test[0])
    except (InputError, KeyError):
        pass
    if vocab is None:
        vocab = FALLBACK_VOCAB[:spec.vocab_size]
        notes.append(f"No character dataset fits this model's {spec.vocab_size} tokens; using the characters "
                     f"{''.join(vocab)!r}.")
    text = st.sidebar.text_area("Text", default[:spec.input[0]], key="inspect_text", max_chars=spec.input[0])
    kept = [c for c in text if c in vocab] or [vocab[0]]
    if len(kept) < len(text):
        notes.append("Characters outside the vocabulary were dropped.")
    ids = np.array([vocab.index(c) for c in kept], dtype=np.int64)
    return Sample(ids, "text:" + "".join(kept), None, vocab, vocab, notes)


def prediction_ui(s, model, sample: Sample) -> None:
    """Top-k bars and the true label."""
    top = cached(s, ("predict", sample.key), lambda: inspect.predict(model, sample.x, sample.classes, k=5))
    st.plotly_chart(figs.topk_bars(top, sample.label), key="inspect_topk")
    if sample.label is not None:
        right = "✓ correct" if top[0][0] == sample.label else "✗ wrong"
        st.caption(f"True label: **{sample.label}** · predicted **{top[0][0]}** ({right})")


def filters_ui(s, model) -> None:
    """A conv layer's kernels as a grid with their histogram; or a first Linear layer's units as images."""
    convs = [p for p, _ in inspect.conv_layers(model)]
    linears = [p for p, m in inspect.linear_layers(model)
               if len(s.spec.input) == 3 and m.in_features == int(np.prod(s.spec.input))]
    options = [f"{p} Conv" for p in convs] + [f"{p} Linear" for p in linears]
    if not options:
        st.info("This model has no convolution, and no dense layer right after an image input.")
        return
    choice = st.selectbox("Layer", options, key="inspect_filter_layer")
    path, kind = choice.split(" ")
    if kind == "Conv":
        w = inspect.filters(model, path)
        rgb = w.shape[1] == 3 and st.toggle("Show as RGB", True, key="inspect_rgb")
        st.caption(f"{w.shape[0]} filters × {w.shape[1]} input channels, {w.shape[2]}×{w.shape[3]} each "
                   f"(rows: filters, columns: input channels; at most 64 × 8 drawn)")
        st.plotly_chart(figs.filter_grid(w, rgb=rgb), key="inspect_filters")
    else:
        w = inspect.linear_unit_images(model, path, tuple(s.spec.input))
        st.caption(f"{w.shape[0]} units; each unit's weights drawn as an input image (channel mean)")
        st.plotly_chart(figs.mosaic(w.mean(axis=1), signed=True), key="inspect_filters")
    st.plotly_chart(figs.histogram(w, "weights"), key="inspect_hist")


def activations_ui(s, model, sample: Sample) -> None:
    """Every layer's output for the input, in order, capped with a "show more" toggle."""
    acts = cached(s, ("acts", sample.key), lambda: inspect.activations(model, sample.x))
    more = st.toggle("Show more maps (up to 256 per layer)", False, key="inspect_more")
    cap = 256 if more else 16
    for a in acts:
        shape = "×".join(map(str, a.shape))
        with st.expander(f"{a.path} {a.type} → {shape}", expanded=a.array.ndim == 3 and a.path.count(".") == 0):
            shown = min(cap, a.shape[0]) if a.array.ndim == 3 else None
            if shown is not None and shown < a.shape[0]:
                st.caption(f"{shown} of {a.shape[0]} maps")
            st.plotly_chart(figs.activation_figure(a.array, max_maps=cap), key=f"inspect_act_{a.path}")


def attribution_ui(s, model, sample: Sample) -> None:
    """Method, target and options; the attribution overlaid on the input."""
    labels = {v[0]: k for k, v in attribution.METHODS.items()}
    cols = st.columns(3)
    method = labels[cols[0].selectbox("Method", list(labels), key="inspect_method")]
    classes = sample.classes
    predicted = cached(s, ("predict", sample.key), lambda: inspect.predict(model, sample.x, sample.classes, k=5))[0][0]
    target_name = cols[1].selectbox("Explain class", classes, index=classes.index(predicted) if predicted in classes
                                    else 0, key="inspect_target", help="defaults to the predicted class")
    opts = {}
    if method == "gradcam":
        convs = [p for p, m in inspect.conv_layers(model) if m.__class__.__name__ == "Conv2d"]
        if convs:
            opts["layer"] = cols[2].selectbox("Conv layer", convs, index=len(convs) - 1, key="inspect_cam_layer")
    elif method == "occlusion":
        side = int(max(s.spec.input[1:])) if len(s.spec.input) == 3 else int(s.spec.input[0])
        opts["window"] = cols[2].slider("Window", 1, max(1, side), min(4, side), key="inspect_window")
        opts["stride"] = cols[2].slider("Stride", 1, max(1, opts["window"]), max(1, opts["window"] // 2),
                                        key="inspect_stride")
    elif method == "integrated_gradients":
        opts["n_steps"] = cols[2].slider("Steps", 10, 200, 50, key="inspect_steps")
    elif method == "smoothgrad":
        opts["nt_samples"] = cols[2].slider("Noisy copies", 5, 50, 25, key="inspect_samples")
    st.caption(attribution.METHODS[method][1])
    target = classes.index(target_name)
    key = ("attr", sample.key, method, target, tuple(sorted(opts.items())))
    try:
        attr = cached(s, key, lambda: attribution.attribute(model, sample.x, method, target=target, **opts))
    except InputError as err:
        st.warning(str(err))
        return
    if sample.x.ndim == 3:
        st.plotly_chart(figs.overlay(sample.x, attr, f"{attribution.METHODS[method][0]} for class {target_name}"),
                        key="inspect_overlay")
    else:
        st.plotly_chart(figs.activation_figure(attr), key="inspect_overlay")


def sequence_ui(s, model, sample: Sample) -> None:
    """Per-character attribution, the hidden state over time, LSTM gates."""
    if sample.vocab is not None:
        chars = [sample.vocab[int(t)] for t in sample.x]
        scores = cached(s, ("tokens", sample.key), lambda: attribution.token_attribution(model, sample.x))
        st.plotly_chart(figs.coloured_text(chars, scores, "Each character's share of the next-character prediction "
                                           "(Integrated Gradients on the embedding)"), key="inspect_tokens")
    states = cached(s, ("hidden", sample.key), lambda: inspect.hidden_states(model, sample.x))
    st.plotly_chart(figs.time_heatmap(states, "Hidden state h_t (units × steps)"), key="inspect_hidden")
    if inspect.recurrent_layers(model)[0][1].cell == "LSTM":
        gates = cached(s, ("gates", sample.key), lambda: inspect.lstm_gates(model, sample.x))
        for name, fig in figs.gates_figures(gates).items():
            st.plotly_chart(fig, key=f"inspect_gate_{name}")
