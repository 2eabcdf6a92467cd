"""Widget groups of the Inspect page: the chosen input, predictions, filters, activations and attribution.

The input picker is in ``ui.inspect.inputs``, the Sequence tab in ``ui.inspect.sequence``.
Results are cached per browser session in ``state().extras["inspect"]``, keyed on the model's
version: st.cache_data / cache_resource are shared by every user and must never hold a session's model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from engine import InputError, inspect
from engine.inspect import attribution
from engine.inspect import figures as figs
from ui.core import present
from ui.core.text import message, plain

MAX_CACHED = 64
PREDICTED = "predicted"  # the target option that follows the prediction of whatever input is chosen


@dataclass
class Sample:
    """The chosen input: one sample in the model's input shape, and what we know about it."""

    x: np.ndarray
    key: str  # names the input in cache keys
    label: str | None = None
    classes: list[str] = field(default_factory=list)
    vocab: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    origin: str = ""  # what the user sees it called: "digits test #12", "upload x.png", "your drawing"
    task: str = "classification"  # the dataset's: "classification", "regression" or "char"
    target: np.ndarray | None = None  # a regression sample's true values
    low: float = 0.0  # the data's pixel values for blank and full ink
    high: float = 1.0
    dataset: object | None = None  # the engine Dataset it comes from (for the mean baseline)


def page_state(s) -> dict:
    """This page's scratch space; cached results and the model's copy are dropped when the model's version changes."""
    ex = s.extras.setdefault("inspect", {"version": None, "results": {}})
    if ex["version"] != s.version:
        ex["version"], ex["results"] = s.version, {}
        ex.pop("copy", None)
    return ex


def model_copy(s, model):
    """This session's private copy of its model (``inspect.private_copy``), made once per model version.

    Every engine call of the page gets it, so hooks and eval mode never touch the session's model and
    no rerun pays for a deepcopy. It lives in this session's scratch space only: never shared.
    """
    ex = page_state(s)
    made = ex.get("copy")  # (the session's model it copies, the copy)
    if made is None or made[0] is not model or inspect.private_copy(made[1]) is not made[1]:  # new model, or hooked
        made = ex["copy"] = (model, inspect.private_copy(model))
    return made[1]


def cached(s, key: tuple, compute):
    """``compute()`` once per (model version, key) for this session."""
    results = page_state(s)["results"]
    if key not in results:
        if len(results) >= MAX_CACHED:
            results.clear()
        results[key] = compute()
    return results[key]


def input_view_ui(sample: Sample, key: str) -> None:
    """The chosen input itself: the image, the sequence or the typed text."""
    if sample.vocab is not None:
        text = "".join(figs.visible(sample.vocab[int(t)]) for t in sample.x)
        st.markdown(f"**Input** ({plain(sample.origin)}, {len(sample.x)} characters)")
        st.code(text, language=None)
        return
    title = f"Input: {sample.origin}" if sample.origin else "Input"
    st.plotly_chart(present.figure(figs.input_figure(sample.x, title)), key=key)


def prediction_ui(s, model, sample: Sample) -> None:
    """The input, then the top-k bars and the true label; a regression model's values and the true target."""
    left, right = st.columns([1, 2])
    with left:
        input_view_ui(sample, "inspect_input")
    with right:
        if sample.task == "regression":
            _regression_ui(s, model, sample)
            return
        top = cached(s, ("predict", sample.key), lambda: inspect.predict(model, sample.x, sample.classes, k=5))
        title = None
        if sample.vocab is not None:
            after = "".join(figs.visible(sample.vocab[int(t)]) for t in sample.x[-12:])
            title = f"Next character after '{after}'"
        st.plotly_chart(present.figure(figs.topk_bars(top, sample.label, title)), key="inspect_topk")
        if sample.label is not None:
            right_or_wrong = "✓ correct" if top[0][0] == sample.label else "✗ wrong"
            st.caption(f"True label: **{sample.label}** · predicted **{top[0][0]}** ({right_or_wrong})")


def _regression_ui(s, model, sample: Sample) -> None:
    """Predicted values against the true target: a softmax over regression outputs would mean nothing."""
    values = cached(s, ("out", sample.key), lambda: inspect.outputs(model, sample.x))
    target = None if sample.target is None else np.asarray(sample.target, dtype=np.float64).ravel()
    st.markdown("**Regression output** (the model's raw values; no probabilities)")
    cols = st.columns(min(4, len(values)))
    for i, value in enumerate(values[:8]):
        delta = None if target is None or i >= len(target) else f"{value - target[i]:+.4g} vs the target"
        cols[i % len(cols)].metric(f"Predicted value {i}" if len(values) > 1 else "Predicted value", f"{value:.4g}",
                                   delta, delta_color="off")
    if target is not None:
        st.caption("True target: " + ", ".join(f"**{t:.4g}**" for t in target[:8]))


def filters_ui(s, model, draw: bool = True) -> None:
    """A conv layer's kernels as a grid with their histogram; or a first Linear layer's units as images.

    ``draw=False`` (the tab is closed): only the widgets, so their choices outlive a visit to another tab.
    """
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
        channel = 0
        if w.shape[1] > 1 and not rgb:
            channel = st.slider("Input channel", 0, w.shape[1] - 1, 0, key="inspect_filter_channel",
                                help="each filter has one kernel per input channel; the grid shows this one")
        if not draw:
            return
        scale = ("each filter's 3 channels as red, green and blue, scaled from the smallest weight of the layer "
                 "(black) to the largest (white)" if rgb else
                 "one colour scale for every filter and channel, white = 0")
        st.caption(f"{w.shape[0]} filters × {w.shape[1]} input channels, {w.shape[2]}×{w.shape[3]} each "
                   f"(at most {figs.MAX_MAPS} drawn; {scale})")
        # its own width: each filter keeps its drawn size instead of stretching (or shrinking) with the page
        st.plotly_chart(present.figure(figs.filter_grid(w, rgb=rgb, channel=channel)), width="content",
                        key="inspect_filters")
    elif not draw:
        return
    else:
        w = inspect.linear_unit_images(model, path, tuple(s.spec.input))
        st.caption(f"{w.shape[0]} units; each unit's weights drawn as an input image (channel mean)")
        st.plotly_chart(present.figure(figs.mosaic(w.mean(axis=1), signed=True)), key="inspect_filters")
    st.plotly_chart(present.figure(figs.histogram(w, "weights")), key="inspect_hist")


def activations_ui(s, model, sample: Sample, draw: bool = True) -> None:
    """Every layer's output for the input, in order, capped with a "show more" toggle (just the toggle unless ``draw``).

    Each layer is a keyed expander that reruns when opened: a closed layer's figure is never built.
    """
    more = st.toggle("Show more maps (up to 256 per layer)", False, key="inspect_more")
    if not draw:
        return
    acts = cached(s, ("acts", sample.key), lambda: inspect.activations(model, sample.x))
    cap = 256 if more else 16
    with st.expander(f"Input → {'×'.join(map(str, np.shape(sample.x)))}", expanded=True):
        input_view_ui(sample, "inspect_act_input")
    for a in acts:
        shape = "×".join(map(str, a.shape))
        layer = st.expander(f"{a.path} {a.type} → {shape}", expanded=a.array.ndim == 3 and a.path.count(".") == 0,
                            key=f"inspect_layer_{a.path}", on_change="rerun")
        if not layer.open:
            continue
        with layer:
            shown = min(cap, a.shape[0]) if a.array.ndim == 3 else None
            if shown is not None and shown < a.shape[0]:
                st.caption(f"{shown} of {a.shape[0]} maps")
            st.plotly_chart(present.figure(figs.activation_figure(a.array, max_maps=cap)),
                            key=f"inspect_act_{a.path}")


def target_ui(column, label: str, classes: list[str], predicted: str, key: str, regression: bool = False):
    """The class to explain: "Predicted (X)" by default, which follows the prediction of every new input.

    Returns:
        (target index or None for the predicted class, the class's name, whether it is the predicted one).
    """
    if regression:
        name = column.selectbox("Explain output", classes, key=key)
        return classes.index(name), name, False
    choice = column.selectbox(label, [PREDICTED] + list(classes), key=key,
                              format_func=lambda c: f"Predicted ({figs.visible(predicted)})" if c == PREDICTED
                              else figs.visible(c), help="by default the class the model predicts for this input")
    if choice == PREDICTED or choice not in classes:  # the browser may send the option's old label back
        return None, predicted, True
    return classes.index(choice), choice, choice == predicted


def _baseline_ui(column, s, sample: Sample) -> tuple[str, np.ndarray | float]:
    """Integrated Gradients' and Occlusion's "absent" input, and a caption saying what it is in the data's range."""
    kinds = ["zero"] + (["mean"] if sample.dataset is not None and sample.x.ndim == 3 else []) + \
        (["blur"] if sample.x.ndim == 3 else [])
    kind = column.selectbox("Baseline", kinds, key="inspect_baseline", format_func=lambda k: attribution.BASELINES[k],
                            help="the input that stands for 'nothing': attributions explain the change from it")
    if kind == "zero":
        if sample.low < 0 < sample.high:
            what = (f"every value 0, which in this data's range ({sample.low:g} to {sample.high:g}) is mid-grey, "
                    "not blank")
        elif sample.low == 0:
            what = "every value 0: the data's blank (black) background"
        else:
            what = f"every value 0 (the data's range is {sample.low:g} to {sample.high:g})"
        return f"Baseline: {what}.", 0.0
    if kind == "mean":
        ds = sample.dataset

        def mean():
            m = ds.x_train.float().mean(dim=0).numpy()
            return m if m.shape == sample.x.shape else inspect.fit_to_input(m, tuple(sample.x.shape))[0]
        return "Baseline: the mean image of the training split.", cached(s, ("mean", ds.name, sample.x.shape), mean)
    return (f"Baseline: the input blurred over {attribution.BLUR_KERNEL}×{attribution.BLUR_KERNEL} pixels.",
            attribution.make_baseline(sample.x, "blur"))


def _gradcam_layer_ui(column, s, model, sample: Sample) -> str | None:
    layers = attribution.gradcam_layers(model)
    if not layers:
        return None
    acts = cached(s, ("acts", sample.key), lambda: inspect.activations(model, sample.x))
    shapes = {a.path: "×".join(map(str, a.shape)) for a in acts}

    def label(p):
        return f"{p} · Conv2d → {shapes.get(p, '?')}" + (" (shortcut projection)" if p.endswith("shortcut") else "")
    default = attribution.default_gradcam_layer(model)
    return column.selectbox("Conv layer", layers, index=layers.index(default), key="inspect_cam_layer",
                            format_func=label, help="default: the last convolution's feature maps")


def attribution_ui(s, model, sample: Sample, draw: bool = True) -> None:
    """Method, target and options; the attribution overlaid on the input (only the widgets unless ``draw``)."""
    labels = {v[0]: k for k, v in attribution.METHODS.items()}
    cols = st.columns(3)
    method = labels[cols[0].selectbox("Method", list(labels), key="inspect_method")]
    classes = sample.classes
    predicted = cached(s, ("predict", sample.key), lambda: inspect.predict(model, sample.x, classes, k=5))[0][0]
    target, target_name, is_predicted = target_ui(cols[1], "Explain class", classes, predicted, "inspect_target",
                                                  regression=sample.task == "regression")
    opts, base_caption = {}, None
    if method == "gradcam":
        layer = _gradcam_layer_ui(cols[2], s, model, sample)
        if layer is not None:
            opts["layer"] = layer
    elif method == "occlusion":
        side = int(max(s.spec.input[1:])) if len(s.spec.input) == 3 else int(s.spec.input[0])
        opts["window"] = cols[2].slider("Window", 1, max(1, side), min(4, side), key="inspect_window")
        opts["stride"] = 1 if opts["window"] == 1 else cols[2].slider(  # a slider needs min < max
            "Stride", 1, opts["window"], max(1, opts["window"] // 2), key="inspect_stride")
    elif method == "integrated_gradients":
        opts["n_steps"] = cols[2].slider("Steps", 10, 200, 50, key="inspect_steps")
    elif method == "smoothgrad":
        opts["nt_samples"] = cols[2].slider("Noisy copies", 5, 50, 25, key="inspect_samples")
    if method in ("integrated_gradients", "occlusion"):
        base_caption, baseline = _baseline_ui(cols[2], s, sample)
        opts["baseline"] = baseline
    opacity = st.slider("Overlay opacity", 0.0, 1.0, figs.OVERLAY_OPACITY, 0.05, key="inspect_opacity",
                        help="how strongly the attribution covers the input (0: the input alone)") \
        if sample.x.ndim == 3 else figs.OVERLAY_OPACITY
    if not draw:
        return
    st.caption(attribution.METHODS[method][1] + (f". {base_caption}" if base_caption else ""))
    if method == "guided_backprop" and not attribution.uses_relu(model):
        st.info("This model has no ReLU, so Guided Backprop has nothing to stop: it equals the plain gradient here.")
    index = classes.index(target_name) if target is None else target
    hashable = tuple(sorted((k, v if np.isscalar(v) else st.session_state.get("inspect_baseline"))
                            for k, v in opts.items()))
    key = ("attr", sample.key, method, index, hashable)
    try:
        attr = cached(s, key, lambda: attribution.attribute(model, sample.x, method, target=target, **opts))
    except InputError as err:
        st.warning(message(err))
        return
    what = f"output {index}" if sample.task == "regression" else f"class {figs.visible(target_name)}"
    title = f"{attribution.METHODS[method][0]} for {what}" + (" (predicted)" if is_predicted else "")
    if method == "gradcam":
        title += f", layer {opts.get('layer')}"
    if not np.any(attr):
        if method == "gradcam":
            st.info(f"{title}: all zero. Grad-CAM keeps only positive evidence, and this layer has none for "
                    f"{what}. Try another layer or class.")
        elif method in ("integrated_gradients", "occlusion"):
            st.info(f"{title}: all zero. The score does not change between the baseline and this input (the input "
                    "may equal the baseline); draw or pick another input, or change the baseline.")
        else:
            st.info(f"{title}: all zero. The score does not depend on the input here (no gradient reaches it).")
        return
    if sample.x.ndim == 3:
        st.plotly_chart(present.figure(figs.overlay(sample.x, attr, title, opacity=opacity)), key="inspect_overlay")
    else:
        st.plotly_chart(present.figure(figs.activation_figure(attr, title)), key="inspect_overlay")
    if method == "integrated_gradients":
        start = np.array(np.broadcast_to(np.asarray(opts["baseline"], dtype=np.float32), sample.x.shape))  # writable
        gap = (cached(s, ("out", sample.key), lambda: inspect.outputs(model, sample.x))[index]
               - inspect.outputs(model, start)[index])
        st.caption(f"Completeness: the attributions add up to {float(attr.sum()):.4g}; the score changed by "
                   f"{gap:.4g} from the baseline to the input (more steps bring them closer).")
