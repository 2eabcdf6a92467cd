"""The Inspect page for autoencoders: an input next to its reconstruction, the codes at the bottleneck (their 2-D
PCA, coloured by digit), and a walk along the straight line between two test digits' codes, decoded."""
from __future__ import annotations

import numpy as np
import streamlit as st

from engine import inspect
from engine.inspect import figures as figs
from ui.core import present
from ui.inspect.widgets import Sample, cached

STEPS = 9  # points decoded on the line between the two codes, both ends included


def reconstruction_ui(s, model, sample: Sample) -> None:
    """The input and the autoencoder's output for it, with the squared error between them."""
    out = cached(s, ("out", sample.key), lambda: inspect.outputs(model, sample.x)).reshape(sample.x.shape)
    left, right = st.columns(2)
    left.plotly_chart(present.figure(figs.input_figure(sample.x, f"Input: {sample.origin}")), key="inspect_input")
    right.plotly_chart(present.figure(figs.input_figure(out, "Reconstruction")), key="inspect_reconstruction")
    label = f" (a {sample.label})" if sample.label is not None else ""
    st.caption(f"The autoencoder squeezes the input{label} through its bottleneck and draws it again: mean squared "
               f"error {float(np.mean((out - sample.x) ** 2)):.4f} per pixel.")


def _labels(ds) -> np.ndarray | None:
    """The test images' classes: the labels of a classification set, or those a reconstruction set keeps."""
    if ds.task == "classification":
        return ds.y_test.numpy()
    kept = (ds.labels or {}).get("test")
    return None if kept is None else kept.numpy()


def _name(ds, labels, i: int) -> str:
    return f"test #{i}" + (f" ({ds.classes[int(labels[i])]})" if labels is not None else "")


def codes_ui(s, model, ds, draw: bool = True) -> None:
    """Two test images to walk between and the step (the widgets only unless ``draw``); the PCA of every test
    image's code with the walk on it; the decoded images along the line and the one at the chosen step."""
    if ds is None or tuple(ds.input_shape) != tuple(s.spec.input) or ds.input_kind != "image":
        st.info("The codes need the test images this autoencoder reads as they are: train it on the Train page "
                "(mnist for a 1×28×28 input).")
        return
    n, labels = len(ds.x_test), _labels(ds)
    other = np.flatnonzero(labels != labels[0]) if labels is not None else np.array([1])
    a, b, c = st.columns(3)
    first = int(a.number_input(f"First test image (0 to {n - 1})", 0, n - 1, 0, key="inspect_walk_a"))
    second = int(b.number_input(f"Second test image (0 to {n - 1})", 0, n - 1,
                                min(int(other[0]) if len(other) else 0, n - 1), key="inspect_walk_b"))
    step = int(c.slider("Step along the line", 0, STEPS - 1, 0, key="inspect_walk_step",
                        help="0 decodes the first image's code, the last step the second's; in between, the "
                             "straight line from one code to the other"))
    if not draw:
        return
    data_key = (ds.name, id(ds))  # the shared cache keeps one object per dataset, seed and options
    codes = cached(s, ("codes", data_key), lambda: inspect.codes(model, ds))
    x = ds.x_test.numpy()
    walk = cached(s, ("walk", data_key, first, second),
                  lambda: inspect.interpolate(model, x[first], x[second], steps=STEPS))
    t = step / (STEPS - 1)
    left, right = st.columns([3, 2])
    with left:
        fig = figs.code_scatter(codes.xy, codes.labels, list(ds.classes), codes.explained)
        # PCA is affine, so the walk's codes project onto the straight line between the two ends.
        ends = codes.xy[[first, second]]
        here = ends[0] + t * (ends[1] - ends[0])
        fig.add_scatter(x=ends[:, 0], y=ends[:, 1], mode="lines+markers+text", name="the walk",
                        text=["A", "B"], textposition="top center", line=dict(color="black", dash="dot"),
                        marker=dict(size=11, color="black", symbol="x"))
        fig.add_scatter(x=[here[0]], y=[here[1]], mode="markers", name=f"step {step}",
                        marker=dict(size=16, color="black", symbol="star"))
        st.plotly_chart(present.figure(fig), key="inspect_codes")
        st.caption(f"Each point is one of the {n} test images' code at layer {codes.layer} ({codes.z.shape[1]} "
                   "values), projected on its two principal components. A is "
                   f"{_name(ds, labels, first)}, B is {_name(ds, labels, second)}.")
    with right:  # drawn as the sequence below draws it (dark ink on white, 0 to 1), only larger
        image = figs.grey_grid(walk[[step]], 1, f"Step {step}: {1 - t:.0%} A + {t:.0%} B")
        st.plotly_chart(present.figure(image.update_layout(height=340)), key="inspect_walk_step_image")
    st.plotly_chart(present.figure(figs.interpolation_figure(walk)), key="inspect_walk")
