"""Widget groups of the Convolution page: settings, input, kernel, formulas, animation, receptive field, features."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from engine import InputError, SpecError, conv
from engine.conv import examples as conv_examples
from engine.conv import figures as conv_figures
from engine.conv import receptive
from engine.inspect import images
from ui.core import present
from ui.core.text import message

OPERATIONS = ("convolution", "transposed convolution", "pooling")
PADDINGS = ("number", "valid", "same", "full")
FEATURE_SIDE = 128  # uploads are shrunk to this for the feature maps
ANIMATION_KERNEL = "the Animation tab's kernel"
PADDING_HELP = {
    "convolution": "zeros added on every side",
    "transposed convolution": "removes P rows and columns from each side of the output (−2P in the formula): "
                              "the zero-inserted grid is padded by D(K−1)−P instead of D(K−1)",
    "max": "cells of −∞ added on every side (never the max); at most K/2, as in PyTorch",
    "avg": "zeros added on every side, counted in the mean; at most K/2, as in PyTorch",
}


@dataclass
class Settings:
    """Everything the sidebar chose."""

    dims: int
    op: str
    stride: int
    padding: int | str
    dilation: int
    flip: bool
    channels: int
    maps: int
    pool_mode: str
    ceil_mode: bool


def settings_ui() -> Settings:
    """Sidebar: dimension, operation and the sliding-window parameters."""
    sb = st.sidebar
    sb.caption("Settings of the Animation tab")
    dims = 1 if sb.segmented_control("Dimensions", ["1-D", "2-D"], default="2-D", key="conv_dims",
                                     required=True) == "1-D" else 2
    op = sb.selectbox("Operation", OPERATIONS, key="conv_op")
    if op == "pooling":  # pooling's stride usually equals its window (PyTorch's default), so it has its own slider
        stride = sb.slider("Stride S", 1, 5, 2, key="conv_pool_stride", help="cells the window moves per step")
    else:
        stride = sb.slider("Stride S", 1, 5, 1, key="conv_stride", help="cells the window moves per step")
    pool_mode = sb.radio("Pooling", ["max", "avg"], horizontal=True, key="conv_pool_mode") if op == "pooling" else "max"
    pad_mode = "number"
    if op == "convolution":
        pad_mode = sb.selectbox("Padding", PADDINGS, key="conv_pad_mode",
                                help="valid: none (narrow); same: output as wide as the input (stride 1); "
                                     "full: D(K−1) each side (wide)")
    padding = sb.slider("Padding P", 0, 4, 0, key="conv_pad", help=PADDING_HELP[pool_mode if op == "pooling" else op]) \
        if pad_mode == "number" else pad_mode
    dilation = 1  # PyTorch's avg_pool has no dilation, so the slider is not offered there
    if not (op == "pooling" and pool_mode == "avg"):
        dilation = sb.slider("Dilation D", 1, 4, 1, key="conv_dilation", help="gaps between kernel taps (atrous)")
    flip = channels = maps = None
    if op == "convolution":
        flip = sb.toggle("True convolution (flip the kernel)", key="conv_flip",
                         help="off: cross-correlation, as PyTorch computes it")
    if op != "pooling":
        channels = sb.radio("Input channels C_in", [1, 3], horizontal=True, key="conv_channels",
                            help="3 for an RGB image: the kernel gets one slice per channel")
        maps = sb.slider("Kernels C_out (output maps)", 1, 3, 1, key="conv_maps",
                         help="extra kernels: the first one turned by 90° (2-D), or reversed, then negated (1-D)")
    ceil_mode = op == "pooling" and sb.toggle("Ceil mode", key="conv_ceil",
                                              help="round the output size up: windows may run past the edge")
    return Settings(dims, op, stride, padding, dilation, bool(flip), channels or 1, maps or 1, pool_mode, ceil_mode)


def _grid_editor(values: np.ndarray, key: str) -> np.ndarray:
    """An editable grid of numbers; empty cells come back as NaN (the engine then explains)."""
    frame = pd.DataFrame(np.atleast_2d(values), columns=[str(i) for i in range(np.atleast_2d(values).shape[1])])
    edited = st.data_editor(frame, key=key, hide_index=True, width="content")
    out = edited.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return out[0] if values.ndim == 1 else out


def _upload(key: str, rgb_key: str, max_side: int, channels_choice: bool = True,
            decode: bool = True) -> tuple[np.ndarray | None, list[str]]:
    """The uploader (and colour toggle); the decoded, resized pixels unless ``decode`` is off (a closed tab)."""
    file = st.file_uploader("Image (PNG, JPEG, GIF, BMP, WebP)", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
                            key=key)
    rgb = st.toggle("Keep colour (3 channels)", key=rgb_key) if channels_choice else False
    if file is None:
        return None, ["Upload an image to use it."]
    if not decode:
        return None, []
    decoded = images.decode(file.getvalue(), "RGB" if rgb else "L")
    pixels, note = images.resize(decoded.pixels, max_side)
    return pixels, decoded.notes + ([note] if note else [])


def input_ui(s: Settings) -> tuple[np.ndarray | None, list[str], bool]:
    """The input: random integers, an editable grid, a signal, X/O, a digit or an upload.

    Returns the input, notes, and whether it is an RGB photo (drawn in colour when too large to animate).
    """
    channels = 1 if s.op == "pooling" else s.channels
    sources = (["random integers", "edit a signal", "test signal"] if s.dims == 1 else
               ["random integers", "edit a grid", "X image", "O image", "digit", "upload"])
    source = st.selectbox("Input", sources, key="conv_input" if s.dims == 2 else "conv_input_1d")
    notes = []
    if source in ("random integers", "edit a grid", "edit a signal"):
        default = (3 if s.op == "transposed convolution" else 7) if s.dims == 2 else 10
        key = "conv_n" + ("_1d" if s.dims == 1 else "") + ("_t" if s.op == "transposed convolution" else "")
        n = st.slider("Input size N", 2, 12 if s.dims == 2 else 24, default, key=key)
        seed = st.number_input("Seed", 0, 10_000, 0, key="conv_seed")
        x = conv_examples.random_grid((n,) * s.dims, channels, seed)
        if source.startswith("edit"):
            st.caption("Edit any cell" + (" (channel 1; the others stay random)." if channels > 1 else "."))
            first = _grid_editor(x[0] if channels > 1 else x, key=f"conv_grid_{s.dims}_{n}_{seed}")
            x = np.concatenate([first[None], x[1:]]) if channels > 1 else first
        return x, notes, False
    if channels > 1 and source != "upload":
        notes.append(f"The {source} has one channel: C_in is 1 here.")
    if source == "test signal":
        return conv_examples.signal(st.selectbox("Signal", conv_examples.SIGNALS, key="conv_signal")), notes, False
    if source in ("X image", "O image"):
        return (conv_examples.X_IMAGE if source == "X image" else conv_examples.O_IMAGE).copy(), notes, False
    if source == "digit":
        index = st.number_input("Digit number", 0, conv_examples.digit_count() - 1, 0, key="conv_digit")
        image, label = conv_examples.digit(index)
        notes.append(f"An 8×8 handwritten {label}, pixels scaled to 0–1.")
        return image, notes, False
    pixels, upload_notes = _upload("conv_upload", "conv_rgb", conv_figures.MAX_ANIMATED_SIDE[2])
    rgb = pixels is not None and pixels.ndim == 3
    if pixels is not None and channels > 1 and not rgb:
        notes.append("The upload is read in grey (one channel): C_in is 1 here. Switch on “Keep colour” for 3.")
    return pixels, notes + upload_notes, rgb


def kernel_ui(s: Settings, channels: int) -> tuple[np.ndarray | None, int]:
    """Kernel preset, size and an editable grid; for pooling only the window size. Returns (kernel, K)."""
    if s.op == "pooling":
        k = st.slider("Window size K", 1, 5, 2, key="conv_k")
        st.caption(f"Pooling has no weights: each output is the {s.pool_mode} of a {k}×{k} window, "
                   "computed on every channel separately.")
        return None, k
    table = conv_examples.KERNELS_1D if s.dims == 1 else conv_examples.KERNELS_2D
    name = st.selectbox("Kernel", list(table), index=2 if s.dims == 2 else 0, key="conv_kernel" if s.dims == 2
                        else "conv_kernel_1d", format_func=lambda n: f"{n}: {table[n][0]}")
    fixed = conv_examples.fixed_size(name, s.dims)
    if fixed:  # its own key, so the disabled slider shows this preset's size, not the last K chosen
        k = st.slider("Kernel size K", 1, 7, fixed, key=f"conv_k_fixed_{fixed}", disabled=True,
                      help="this preset has a fixed size")
    else:
        k = st.slider("Kernel size K", 1, 7, 3, key="conv_k")
    w = _grid_editor(conv_examples.kernel(name, s.dims, k), key=f"conv_kgrid_{s.dims}_{name}_{k}")
    slice_name = f"{k}-tap" if s.dims == 1 else f"{k}×{k}"
    st.caption("Edit any weight." + (f" The same {slice_name} slice is used for all {channels} input channels."
                                     if channels > 1 else ""))
    flipped = w[::-1] if s.dims == 1 else w[::-1, ::-1]
    if s.op == "convolution" and not s.flip and np.isfinite(w).all() and not np.array_equal(w, flipped):
        st.caption("Flip is off: this is cross-correlation (what PyTorch's conv layers compute), so the kernel is "
                   "used as shown. This kernel is not symmetric, so true convolution (flip on) uses it rotated "
                   "and gives a different result (the first difference, for example, gives minus the slope here "
                   "and the slope with flip on).")
    if s.dims == 2:  # offered to the Feature maps tab
        st.session_state["conv_animation_kernel"] = (name, w, s.flip and s.op == "convolution")
    kernels = [np.rot90(w, o) if s.dims == 2 else [w, w[::-1], -w][o] for o in range(s.maps)]
    stacked = np.stack([np.stack([kk] * channels) for kk in kernels])  # (C_out, C_in, *K)
    if s.op == "transposed convolution":
        stacked = stacked.swapaxes(0, 1)  # PyTorch's layout for transposed kernels: (C_in, C_out, *K)
    elif s.maps == 1:
        stacked = stacked[0] if channels > 1 else stacked[0, 0]
    return stacked, k


def compute(s: Settings, x: np.ndarray, w: np.ndarray | None, k: int) -> conv.Trace:
    """Run the chosen operation; raises InputError with the fix when the parameters do not fit."""
    if s.op == "pooling":
        pool = conv.pool1d if s.dims == 1 else conv.pool2d
        return pool(x, k, s.stride, s.pool_mode, s.ceil_mode, padding=s.padding, dilation=s.dilation)
    if s.op == "transposed convolution":
        channels = 1 if x.ndim == s.dims else x.shape[0]
        if s.maps == 1 and channels == 1:
            w = w.reshape(w.shape[-s.dims:])
        fn = conv.conv_transpose1d if s.dims == 1 else conv.conv_transpose2d
        return fn(x, w, stride=s.stride, padding=s.padding, dilation=s.dilation)
    fn = conv.conv1d if s.dims == 1 else conv.conv2d
    return fn(x, w, stride=s.stride, padding=s.padding, dilation=s.dilation, flip=s.flip)


def _move_step(delta: int, n: int) -> None:
    st.session_state["conv_step"] = int(np.clip(st.session_state.get("conv_step", 1) + delta, 1, n))


def _before_after(trace: conv.Trace, before: np.ndarray, rgb: bool) -> None:
    """Input and output as static images: a colour photo only for an RGB upload, else one heatmap per slice."""
    pooling = trace.op.endswith("pool")
    output = trace.output
    if trace.dims == 1:  # (C, L) -> (C, 1, L): one labelled row per channel or map
        before = before[:, None] if before.ndim == 2 else before
        output = output[:, None] if trace.has_maps else output
    out_layers = ("rgb" if rgb else "channel") if pooling else "map"
    st.plotly_chart(present.figure(conv_figures.grids([("Input", before, "rgb" if rgb else "channel"),
                                                       ("Output", output, out_layers)])), key="conv_before_after")


def animation_ui(trace: conv.Trace, before: np.ndarray, rgb: bool = False, draw: bool = True) -> None:
    """The animated figure (or before/after images when too large) and a step control with the sum written out.

    ``draw=False`` (the tab is closed): the step control only, so the step outlives a visit to another tab.
    """
    n = trace.n_steps
    if st.session_state.get("conv_step", 1) > n:
        st.session_state["conv_step"] = n
    step_no = st.session_state.get("conv_step", 1)
    reasons = conv_figures.too_large(trace)
    if draw and not reasons:
        st.plotly_chart(present.figure(conv_figures.animation(trace, active=step_no - 1)),
                        key="conv_animation", width="content", config={"displayModeBar": False})
        st.caption("▶ Play runs in your browser; the slider under the figure scrubs through the steps. "
                   "The buttons and slider below move the page's own step (its sum is written under them); "
                   "the two do not follow each other.")
    elif draw:
        st.info(f"Too large to animate smoothly: {'; '.join(reasons)}. Showing it before and after instead; "
                "the steps below still write out every sum.", icon="🖼️")
        _before_after(trace, before, rgb)
    cols = st.columns([1, 1, 6])
    cols[0].button("◀ Previous", key="conv_prev", on_click=_move_step, args=(-1, n), disabled=step_no <= 1)
    cols[1].button("Next ▶", key="conv_next", on_click=_move_step, args=(1, n), disabled=step_no >= n)
    if n > 1:
        cols[2].slider("Step", 1, n, key="conv_step", label_visibility="collapsed")
    step = trace.step(st.session_state.get("conv_step", 1) - 1)
    with st.container(key="conv_equation"):
        st.code(conv_figures.step_equation(trace, step), language=None, wrap_lines=True)


def receptive_ui(draw: bool = True) -> None:
    """Stack L layers and show which input pixels one output unit sees (only the widgets unless ``draw``)."""
    a, b, c, d, e = st.columns(5)
    n_layers = a.slider("Layers L", 1, 8, 3, key="rf_layers")
    k = b.slider("Kernel size K", 1, 7, 3, key="rf_k")
    stride = c.slider("Stride", 1, 3, 1, key="rf_stride")
    pool = d.selectbox("2×2 max pooling", ["none", "after every layer", "after every 2 layers"], key="rf_pool")
    size = e.slider("Input size", 8, 64, 32, key="rf_n")
    pool_every = {"none": 0, "after every layer": 1, "after every 2 layers": 2}[pool]
    if not draw:
        return
    try:
        fields = receptive.fields(receptive.stack(n_layers, k, stride, pool_every), size)
    except (InputError, SpecError) as err:
        st.error(message(err))
        return
    last = fields[-1]
    left, right = st.columns([1, 1])
    with right:
        if stride == 1 and not pool_every:
            st.latex(f"1 + L(K-1) = 1 + {n_layers}\\cdot({k}-1) = {1 + n_layers * (k - 1)}")
        else:
            st.latex("r_l = r_{l-1} + (K_l - 1)\\,j_{l-1},\\quad j_l = j_{l-1} S_l")
            st.caption(f"Strides and pooling multiply the jump j, so each later layer adds more: "
                       f"{last.size}×{last.size} pixels instead of {1 + n_layers * (k - 1)}×{1 + n_layers * (k - 1)} "
                       "with stride 1 and no pooling.")
        convs = np.cumsum([f.layer.kind == "conv" for f in fields])  # L counts conv layers; pooling rides along
        names = [f"conv {c}" if f.layer.kind == "conv" else f"pool (after conv {c})" for f, c in zip(fields, convs)]
        st.dataframe(pd.DataFrame([{"layer": name, "K": f.layer.kernel_size,
                                    "S": f.layer.stride, "jump j": f.jump, "receptive field": f"{f.size}×{f.size}",
                                    "output": f"{f.output_size}×{f.output_size}"} for name, f in zip(names, fields)]),
                     hide_index=True, key="rf_table")
    with left:
        st.plotly_chart(present.figure(conv_figures.receptive(fields, size)), key="rf_figure")
        st.caption(f"One unit in the middle of the last layer sees the red {last.size}×{last.size} square "
                   "(blue shades: what the units of earlier layers along the way see).")


def feature_maps_ui(draw: bool = True) -> None:
    """A filter applied to a real image: input, output, and output after ReLU (only the widgets unless ``draw``)."""
    a, b = st.columns(2)
    source = a.selectbox("Image", ["digit", "X image", "O image", "upload"], key="fm_source")
    animated = st.session_state.get("conv_animation_kernel")  # (name, K×K weights, flip) from the Animation tab
    choices = ([ANIMATION_KERNEL] if animated else []) + [n for n in conv_examples.KERNELS_2D if n != "random"]
    name = b.selectbox("Filter", choices, index=choices.index("vertical edge"), key="fm_kernel",
                       help="the Animation tab's kernel: its preset or edited weights, any K, flipped if flip is on")
    notes = []
    if source == "digit":
        x, label = conv_examples.digit(a.number_input("Digit number", 0, conv_examples.digit_count() - 1, 0,
                                                      key="fm_digit"))
        notes.append(f"An 8×8 handwritten {label}.")
    elif source == "upload":
        try:
            x, notes = _upload("fm_upload", "fm_rgb", FEATURE_SIDE, channels_choice=False, decode=draw)
        except InputError as err:
            st.error(message(err))
            return
        if not draw:
            return
        if x is None:
            st.info(notes[0])
            return
    else:
        x = conv_examples.X_IMAGE if source == "X image" else conv_examples.O_IMAGE
    if not draw:
        return
    flip = False
    if name == ANIMATION_KERNEL:
        preset, w, flip = animated
        name = f"Animation tab's {preset}" + (", flipped" if flip else "")
    else:
        w = conv_examples.kernel(name, 2, 3)
    try:
        y = conv.conv2d(x, w, padding="same", flip=flip).output
    except InputError as err:  # an edited kernel with an empty cell
        st.error(message(err))
        return
    for note in notes:
        st.caption(note)
    st.plotly_chart(present.figure(conv_figures.grids([("Input", x), (f"Output ({name}, same padding)", y),
                                                       ("After ReLU max(0, ·)", np.maximum(y, 0))], height=320)),
                    key="fm_figure")
    st.caption("ReLU keeps only where the filter's pattern is present (positive responses) and sets the rest to 0.")
