"""The Convolution page's formula panel: the output size and parameter count with the live numbers."""
from __future__ import annotations

import streamlit as st

from engine import conv
from ui.convolution.widgets import Settings


def _axes(trace: conv.Trace) -> list[tuple]:
    """Per axis, what was actually computed: (name, N, (P before, P after), output size, K, S, D)."""
    names = ("length",) if trace.dims == 1 else ("height", "width")
    stride = trace.insert_stride if trace.op == "conv_transpose" else trace.stride
    rows = [(names[a], trace.input_shape[-trace.dims:][a], trace.padding[a], trace.output.shape[-trace.dims:][a],
             len(trace.taps[a]), stride[a], trace.dilation[a]) for a in range(trace.dims)]
    if trace.dims == 2 and rows[0][1:] == rows[1][1:]:
        rows = [("height and width", *rows[0][1:])]  # a square case needs one line
    return rows


def _padding_rule(mode: str, k: int, d: int, lo: int, hi: int) -> str:
    """LaTeX for how a padding mode sets P, with the live numbers."""
    if mode == "valid":
        return "\\text{valid: } P = 0"
    if mode == "full":
        return f"\\text{{full: }} P = D(K-1) = {d}({k}-1) = {lo}"
    split = f" = {lo}" if lo == hi else f" = {_half(lo + hi)}:\\ {lo}\\text{{ before, }}{hi}\\text{{ after}}"
    return f"\\text{{same: }} P = D(K-1)/2 = {d}({k}-1)/2{split}"


def _half(cells: int) -> str:
    """cells/2 as written by hand: 1, 1.5."""
    return str(cells // 2) if cells % 2 == 0 else f"{cells / 2:.1f}"


def _fit_note(s: Settings, axis: str, n: int, lo: int, hi: int, k: int, stride: int, d: int) -> None:
    """The plain-language note when the window does not fit, or when the stride skips cells."""
    fit = conv.fit(n, k, stride, (lo, hi), d)
    word = {"width": "columns", "height": "rows", "height and width": "rows and columns"}.get(axis, "positions")
    what = "window" if s.op == "pooling" else "filter"
    if fit.exact:
        if fit.uncovered:
            st.info(f"The stride skips input {word} {', '.join(map(str, fit.uncovered))} (0-based): "
                    "the windows do not touch them.", icon="ℹ️")
        return
    room = n + lo + hi - d * (k - 1) - 1
    most = min(4, k // 2) if s.op == "pooling" else 4  # the slider's range, and PyTorch's limit for pooling
    paddings = [p for p in range(most + 1) if p != lo and conv.fit(n, k, stride, p, d).exact]
    strides = [x for x in range(1, 6) if room % x == 0 and x != stride]
    unread = (f" Input {word} {', '.join(map(str, fit.uncovered))} (0-based) are never read." if fit.uncovered
              else " Only padding is dropped; every input cell is still read.")
    as_number = " (as a number)" if isinstance(s.padding, str) else ""
    fixes = ([f"padding {paddings[0]}{as_number}"] if paddings else []) \
        + ([f"stride {' or '.join(map(str, strides))}"] if strides else [])
    st.warning(f"The {what} does not fit along the {axis}: {room} is not a multiple of the stride {stride}, "
               f"so PyTorch drops the last {fit.leftover} padded cell(s).{unread}"
               + (f" To fit exactly, use {' or '.join(fixes)}." if fixes else ""), icon="✂️")


def _chain(first: str, *steps: str) -> str:
    """LaTeX for ``first = step = step …``, one step a line, so a formula fits a projector's narrow window."""
    lines = " \\\\ ".join(f"&= {step}" for step in steps)
    return f"\\begin{{aligned}}{first} {lines}\\end{{aligned}}"


def formula_ui(s: Settings, trace: conv.Trace, k: int, channels: int) -> None:
    """Output size and parameter count with the live numbers, and a note when the filter does not fit.

    Stride, padding, dilation and window size are read from the trace, so the panel shows what was computed.
    """
    for axis, n, (lo, hi), size, ka, sa, da in _axes(trace):
        label = ""
        if trace.dims == 2:  # on a line of its own: with it the formula is too wide for a projector's window
            st.markdown(f"Output {axis}:")
        if trace.op == "conv_transpose":
            p = da * (ka - 1) - lo  # the trace pads by D(K−1) − P
            st.latex(_chain(f"{label}(N-1)S - 2P + D(K-1) + 1",
                            f"({n}-1)\\cdot{sa} - 2\\cdot{p} + {da}({ka}-1) + 1 = {size}"))
            continue
        if isinstance(s.padding, str):
            st.latex(_padding_rule(s.padding, ka, da, lo, hi))
        pads, both = (f"2\\cdot{lo}", "2P") if lo == hi else (f"{lo} + {hi}", "P_{before} + P_{after}")
        room = n + lo + hi - da * (ka - 1) - 1
        ceil = trace.op.endswith("pool") and s.ceil_mode
        left, right = ("\\lceil", "\\rceil") if ceil else ("\\lfloor", "\\rfloor")
        windows = (-(-room // sa) if ceil else room // sa) + 1
        dropped = " - 1" if windows > size else ""  # ceil mode: PyTorch drops a window starting in the right padding
        st.latex(_chain(f"{label}\\left{left}\\frac{{N + {both} - D(K-1) - 1}}{{S}}\\right{right} + 1",
                        f"\\left{left}\\frac{{{n} + {pads} - {da}({ka}-1) - 1}}{{{sa}}}\\right{right} + 1",
                        f"{left} {room}/{sa} {right} + 1{dropped} = {size}"))
        if dropped:
            st.caption(f"Ceil mode would give {windows} windows, but the last would start at padded cell "
                       f"{(windows - 1) * sa}, in the right padding (the input is cells {lo}–{lo + n - 1}). "
                       "PyTorch drops a last window that starts in the right padding, hence − 1.")
        if not ceil:
            _fit_note(s, axis, n, lo, hi, ka, sa, da)
    if s.op == "pooling":
        st.markdown("**Parameters:** 0 (pooling has nothing to learn; it keeps the depth: "
                    f"{channels} channel(s) in, {channels} out).")
        return
    kk = "\\cdot".join([str(k)] * s.dims)
    if s.op == "transposed convolution":
        total = k ** s.dims * channels * s.maps + s.maps
        st.latex(_chain("\\text{parameters}", f"({kk})\\cdot C_{{in}}\\cdot C_{{out}} + C_{{out}}",
                        f"({kk})\\cdot{channels}\\cdot{s.maps} + {s.maps} = {total}"))
    else:
        window = "K" if s.dims == 1 else "K·K"
        st.latex(_chain("\\text{parameters}", f"(({window})\\cdot C_{{in}} + 1)\\cdot C_{{out}}",
                        f"(({kk})\\cdot{channels} + 1)\\cdot{s.maps} = {(k ** s.dims * channels + 1) * s.maps}"))
