"""Plotly figures for traced convolutions and pooling: the step-by-step animation and static grids.

Everything is drawn in one pair of axes with the grids placed side by side (no subplots): building
and animating stays fast, and every frame only replaces a few small traces.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

from engine import palette
from engine.conv.receptive import Field
from engine.conv.trace import INPUT, INSERTED, OUTSIDE, PAD, Step, Trace


class AnimatedFigure(go.Figure):
    """A go.Figure whose animation frames stay plain dicts.

    Plotly validates and deep-copies every frame (~15 ms each, seconds for a 12×12 input); these
    frames are built from checked numbers, so they skip that and are added when the figure is serialised.
    """

    def __init__(self, data: list[dict], layout: dict, frames: list[dict]):
        super().__init__(data=data, layout=layout, _validate=False)  # tests validate a serialised copy
        self._raw_frames = frames  # plotly only allows attributes that start with "_"

    @property
    def raw_frames(self) -> list[dict]:
        """The frames, one per step: {"name", "traces", "data"}."""
        return self._raw_frames

    def to_dict(self) -> dict:
        """The figure as plotly.js reads it, frames included (st.plotly_chart calls this)."""
        result = super().to_dict()
        result["frames"] = self._raw_frames
        return result


MAX_ANIMATED_SIDE = {1: 24, 2: 12}  # inputs larger than this are shown as before/after images
MAX_FRAMES = 400
_SIGNED = [[0, "#e8866f"], [0.5, "#f7f7f7"], [1, "#6fa8dc"]]  # light, so numbers stay readable
_POSITIVE = [[0, "#f7f7f7"], [1, "#6fa8dc"]]
_KIND_COLOURS = [[0, "#d9d9d9"], [0.33, "#d9d9d9"], [0.34, "#fde2b8"], [0.66, "#fde2b8"],
                 [0.67, "#f3eefa"], [1, "#f3eefa"]]  # padding grey, inserted zeros orange, past the edge lilac
_WINDOW, _HIT = palette.OKABE_ITO["vermillion"], palette.OKABE_ITO["green"]  # apart for colour-blind viewers too


def fmt(value: float) -> str:
    """A number as students write it: 3, −1.5, 0.333, −∞."""
    return _fmt(float(value))


@lru_cache(maxsize=8192)
def _fmt(value: float) -> str:
    if np.isnan(value):
        return ""
    if np.isinf(value):
        return "−∞" if value < 0 else "∞"
    if abs(value - round(value)) < 1e-9:
        text = str(int(round(value)))
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    else:
        text = f"{value:.3g}" if abs(value) >= 0.01 else f"{value:.2e}"
    return text.replace("-", "−")


def _paren(value: float) -> str:
    text = fmt(value)
    return f"({text})" if text.startswith("−") else text


def out_label(trace: Trace, step: Step) -> str:
    """Where the step writes, e.g. "out[1, 2]" or "out[map 2][1, 2]" when there are several maps."""
    index = step.out_index
    if trace.has_maps:
        return f"out[map {index[0] + 1}][{', '.join(map(str, index[1:]))}]"
    return f"out[{', '.join(map(str, index))}]"


def step_equation(trace: Trace, step: Step, newline: str = "\n", per_line: int = 9) -> str:
    """The step's arithmetic written out: products and their sum, or the pooled values."""
    label = f"{out_label(trace, step)} = "
    kinds = step.kinds.reshape(step.values.shape[1:])
    live = kinds != OUTSIDE
    if step.products is None:
        if trace.op == "avg_pool" and not trace.count_include_pad:
            live = kinds == INPUT  # PyTorch divides by the input cells only
        values = [fmt(v) for v in step.values[0][live]]
        if trace.op == "max_pool":
            body = f"max({', '.join(values)})"
        else:
            counted = int(live.sum())
            body = f"({' + '.join(values)}) / {counted}" if len(values) <= 2 * per_line else f"mean of {counted} cells"
        return f"{label}{body} = {fmt(step.value)}"
    terms = [f"{_paren(v)}·{_paren(w)}" for v, w in zip(step.values.ravel(), step.weights.ravel())]
    if len(terms) > 3 * per_line:  # many channels: one partial sum per channel
        terms = [f"Σ ch{c + 1} {_paren(p.sum())}" for c, p in enumerate(step.products)]
    lines = [" + ".join(terms[i:i + per_line]) for i in range(0, len(terms), per_line)]
    bias = "" if trace.bias is None else f" + bias {_paren(trace.bias[step.out_index[0] if trace.has_maps else 0])}"
    return f"{label}{(' +' + newline).join(lines)}{bias} = {fmt(step.value)}"


def too_large(trace: Trace) -> list[str]:
    """Why the trace is too large to animate smoothly (empty when it can be animated), e.g. "it needs 432 steps"."""
    side, dims = MAX_ANIMATED_SIDE[trace.dims], trace.dims
    n, grid = trace.input_shape[-dims:], trace.source.shape
    reasons = []
    if max(n) > side:
        reasons.append(f"the input is {_sizes(n)}, larger than {_sizes((side,) * dims)}")
    if max(grid) > 2 * side:
        reasons.append(f"the padded grid is {_sizes(grid)} cells, larger than {_sizes((2 * side,) * dims)}")
    if trace.n_steps > MAX_FRAMES:
        reasons.append(f"it needs {trace.n_steps} steps, more than {MAX_FRAMES}")
    return reasons


def _sizes(sizes) -> str:
    return "×".join(map(str, sizes))


def can_animate(trace: Trace) -> bool:
    """Small enough to animate smoothly: input sides ≤ MAX_ANIMATED_SIDE, padded sides at most twice that,
    and at most MAX_FRAMES steps."""
    return not too_large(trace)


def _as2d(a: np.ndarray, dims: int) -> np.ndarray:
    """(C, L) -> (C, 1, L) so 1-D grids draw as one-row images."""
    return a[:, None, :] if dims == 1 else a


def _stack(maps: np.ndarray) -> np.ndarray:
    """(N, H, W) -> one (N·(H+1)−1, W) image with a NaN gap row between maps."""
    n, h, w = maps.shape
    out = np.full((n * (h + 1) - 1, w), np.nan)
    for i in range(n):
        out[i * (h + 1):i * (h + 1) + h] = maps[i]
    return out


def _cells(xs, ys) -> tuple[list, list]:
    """Outline of unit cells centred at (xs, ys), as one scatter path with None breaks."""
    px, py = [], []
    for x, y in zip(xs, ys):
        px += [x - .5, x + .5, x + .5, x - .5, x - .5, None]
        py += [y - .5, y - .5, y + .5, y + .5, y - .5, None]
    return px, py


def _texts(a: np.ndarray) -> list[list[str]]:
    return [[_fmt(v) for v in row] for row in a.tolist()]


def _json(a: np.ndarray) -> list:
    """Nested lists with None for NaN (blank cells), as JSON needs them."""
    return np.where(np.isnan(a), None, a).tolist()


def _scale(a: np.ndarray) -> list:
    finite = a[np.isfinite(a)]
    return _SIGNED if finite.size and finite.min() < 0 else _POSITIVE


def _heatmap(z, x0, y0, colorscale, text=None, font=12, **kw) -> dict:
    finite = z[np.isfinite(z)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if colorscale is _SIGNED:
        bound = max(abs(lo), abs(hi), 1e-9)
        lo, hi = -bound, bound
    return dict(type="heatmap", z=_json(np.where(np.isfinite(z), z, np.nan)), x0=x0, y0=y0, dx=1, dy=1,
                colorscale=colorscale, zmin=lo, zmax=max(hi, lo + 1e-9), showscale=False, hoverinfo="skip",
                xgap=1, ygap=1, text=text, texttemplate="%{text}" if text is not None else None,
                textfont={"size": font}, **kw)


def animation(trace: Trace, active: int = 0, frame_ms: int = 700) -> go.Figure:
    """The sliding window, step by step, with play/pause and a step slider running in the browser.

    Args:
        trace: from engine.conv (1-D or 2-D, any operation).
        active: the step shown first (the page's own step control).
        frame_ms: time per step when playing.

    Returns:
        A figure whose frames hold only the traces that move: the output filling in, the window,
        the weights laid over the input, and the written-out sum.
    """
    dims, pooling = trace.dims, trace.kernel is None
    padded = _as2d(trace.padded, dims)  # (C, Hp, Wp)
    channels, hp, wp = padded.shape
    source = trace.source if dims == 2 else trace.source[None, :]
    out = trace.output if trace.has_maps else trace.output[None]
    out = _as2d(out, dims)  # (O, Ho, Wo)
    n_maps, ho, wo = out.shape
    gap_in, gap_out = hp + 1, ho + 1  # rows from one stacked grid to the next
    kernel = None if pooling else _as2d(trace.kernel.reshape(-1, *trace.kernel.shape[-dims:]), dims)  # (O·C, Kh, Kw)
    kw = 0 if pooling else kernel.shape[2]
    # Placement: 2-D grids side by side (input | kernel | output); 1-D rows one under another.
    if dims == 2:
        kx, ky, ox, oy = wp + 2, 0, wp + 2 + (0 if pooling else kw + 2), 0
        width, height = ox + wo, max(channels * gap_in, n_maps * gap_out) - 1
    else:
        kx, ky, ox = 0, channels * gap_in + 1, 0
        oy = ky + (0 if pooling else channels * gap_in + 1)
        width, height = max(wp, wo), oy + n_maps * gap_out - 1
    font = 11 if width <= 24 else 9
    cell_px = int(np.clip(860 / max(width, 1), 16, 40))
    input_z = _stack(np.where(source == INPUT, padded, np.nan))
    kinds = np.broadcast_to(np.select([source == PAD, source == INSERTED], [0, 1], 2), padded.shape)
    kind_z = _stack(np.where(source == INPUT, np.nan, kinds))
    kind_text = np.where(np.isnan(kind_z), "", np.array(_texts(_stack(padded)), dtype=object))
    traces = [_heatmap(input_z, 0, 0, _scale(input_z), _texts(input_z), font),
              dict(type="heatmap", z=_json(kind_z), x0=0, y0=0, dx=1, dy=1, zmin=0, zmax=2, colorscale=_KIND_COLOURS,
                   showscale=False, hoverinfo="skip", xgap=1, ygap=1, text=kind_text.tolist(), texttemplate="%{text}",
                   textfont={"size": font, "color": "#777"})]
    if not pooling:
        def kernel_grid(o):  # kernel o's channel slices, level with the input channels they multiply
            slices = np.full((channels, hp, kernel.shape[2]), np.nan)
            slices[:, :kernel.shape[1]] = kernel[o * channels:(o + 1) * channels]
            return _stack(slices)[:(channels - 1) * gap_in + kernel.shape[1]]
        kz, kernel_index = kernel_grid(0), len(traces)
        traces.append(_heatmap(kz, kx, ky, _scale(kernel), _texts(kz), font))
        kernel_frames = [dict(type="heatmap", z=_json(g), text=_texts(g)) for g in map(kernel_grid, range(n_maps))]
    full_out = _stack(out)
    traces.append(dict(type="heatmap", z=_json(np.where(np.isnan(full_out), np.nan, 0)), x0=ox, y0=oy, dx=1, dy=1,
                       colorscale=[[0, "#f2f2f2"], [1, "#f2f2f2"]], showscale=False, hoverinfo="skip", xgap=1, ygap=1))
    animated = len(traces)
    out_text = np.array(_texts(full_out), dtype=object)
    traces += [_heatmap(full_out, ox, oy, _scale(full_out), None, font),
               dict(type="scatter", mode="lines", line={"color": _WINDOW, "width": 3}, hoverinfo="skip"),
               dict(type="scatter", mode="text", textfont={"size": font - 2, "color": "#a0522d"}, hoverinfo="skip"),
               dict(type="scatter", mode="lines", line={"color": _WINDOW, "width": 3}, hoverinfo="skip"),
               dict(type="scatter", mode="text", textposition="bottom right",
                    textfont={"size": 13, "family": "monospace"}, hoverinfo="skip")]
    traces[animated]["texttemplate"] = "%{text}"
    indices = ([] if pooling else [kernel_index]) + list(range(animated, len(traces)))
    filled = np.full(out.shape, np.nan)
    frames, eq_lines = [], 1
    for i, step in enumerate(trace.steps):
        o = step.out_index[0] if trace.has_maps else 0
        spatial = step.out_index[1:] if trace.has_maps else step.out_index
        r, c = spatial if dims == 2 else (0, spatial[0])
        filled[o, r, c] = out[o, r, c]
        pos = step.positions if dims == 2 else np.column_stack([np.zeros(len(step.positions), int), step.positions])
        chans = [o] if pooling else range(channels)
        ys = [int(p[0]) + ch * gap_in for ch in chans for p in pos]
        xs = [int(p[1]) for ch in chans for p in pos]
        if pooling:
            best = pos[step.winner] if step.winner is not None else pos[0]
            overlay = ([int(best[1])], [int(best[0]) + o * gap_in + 0.32], ["max" if step.winner is not None else ""])
        else:
            overlay = (xs, [y + 0.32 for y in ys], [f"×{fmt(w)}" for w in step.weights.ravel()])
        equation = step_equation(trace, step, "<br>")
        eq_lines = max(eq_lines, equation.count("<br>") + 1)
        fz = _stack(filled)
        window, cell = _cells(xs, ys), _cells([ox + c], [oy + r + o * gap_out])
        data = [dict(type="heatmap", z=_json(fz), text=np.where(np.isnan(fz), "", out_text).tolist()),
                dict(type="scatter", x=window[0], y=window[1]),
                dict(type="scatter", x=overlay[0], y=overlay[1], text=overlay[2]),
                dict(type="scatter", x=cell[0], y=cell[1]),
                dict(type="scatter", x=[-0.5], y=[height + 0.3], text=[equation])]
        if not pooling:
            data.insert(0, kernel_frames[o])
        frames.append({"name": str(i), "traces": indices, "data": data})
    active = int(np.clip(active, 0, len(frames) - 1))
    for index, update in zip(frames[active]["traces"], frames[active]["data"]):
        traces[index].update(update)
    eq_px = 20 * eq_lines + 10
    fig_width = max(width * cell_px + 40, 560)
    buttons = 180 / fig_width  # the play/pause buttons' share of the width
    layout = dict(
        annotations=_labels(trace, channels, n_maps, kx, ky, ox, oy, gap_in, gap_out), width=fig_width,
        height=(height + 3.4) * cell_px + eq_px + 120, showlegend=False,
        margin={"l": 20, "r": 20, "t": 10, "b": 10}, plot_bgcolor="white", paper_bgcolor="white",
        xaxis={"visible": False, "range": [-0.6, max(width, 14) - 0.4], "fixedrange": True},
        yaxis={"visible": False, "range": [height + 0.6 + eq_px / cell_px, -2.8], "fixedrange": True},
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0, "y": 0, "xanchor": "left", "yanchor": "top",
                      "pad": {"t": 5, "r": 10}, "showactive": False, "buttons": [
                          {"label": "▶ Play", "method": "animate",
                           "args": [None, {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True,
                                           "transition": {"duration": 0}}]},
                          {"label": "❚❚ Pause", "method": "animate",
                           "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate",
                                             "transition": {"duration": 0}}]}]}],
        sliders=[{"active": active, "x": buttons, "y": 0, "len": 1 - buttons, "xanchor": "left", "yanchor": "top",
                  "pad": {"t": 5}, "font": {"color": "rgba(0,0,0,0)"}, "ticklen": 0, "minorticklen": 0,
                  "currentvalue": {"prefix": "Step ", "suffix": f" of {len(frames)}", "font": {"color": "#333"}},
                  "steps": [{"label": str(i + 1), "method": "animate",
                             "args": [[str(i)], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                                 "transition": {"duration": 0}}]} for i in range(len(frames))]}])
    return AnimatedFigure(traces, layout, frames)


def _labels(trace, channels, n_maps, kx, ky, ox, oy, gap_in, gap_out) -> list[dict]:
    """Say which grid is the input and which the output (the complaint about the classic GIFs)."""
    legend = {"conv": "Grey cells: padding (0).", "avg_pool": "Grey cells: padding (0).",
              "max_pool": "Grey cells: padding (−∞, never the max).",
              "conv_transpose": "Orange cells: zeros inserted between inputs "
                                f"(stride {(trace.insert_stride or [1])[0]}); grey: padding."}[trace.op]
    if not (trace.source == PAD).any() and trace.op != "conv_transpose":
        legend = "No padding."
    if (trace.source == OUTSIDE).any():
        legend += " Lilac: past the edge (ceil mode), ignored."
    what = "Input, zero-inserted" if trace.op == "conv_transpose" else "Input"
    bold = [(0, -1, what)]
    plain = [(0, c * gap_in - 1, f"channel {c + 1}") for c in range(1, channels)]
    if trace.kernel is not None:
        bold.append((kx, ky - 1, ("Kernel of the map being filled" if n_maps > 1 else "Kernel")
                     + (", rotated 180°" if trace.flip else "")))
    bold.append((ox, oy - 1, "Output" + (" maps" if n_maps > 1 else "")))
    plain += [(ox, oy + o * gap_out - 1, f"map {o + 1}") for o in range(1, n_maps)]
    notes = [(x, y, f"<b>{text}</b>", "#222") for x, y, text in bold] + [(x, y, text, "#222") for x, y, text in plain]
    notes.append((0, -2.2, legend, "#666"))
    return [dict(x=x - 0.5, y=y, text=text, showarrow=False, xanchor="left", yanchor="middle",
                 font={"size": 12, "color": colour}) for x, y, text, colour in notes]


def grids(panels: list[tuple], numbers: bool | None = None, height: int = 260) -> go.Figure:
    """Static images side by side, each with its own colour scale: before/after and feature maps.

    Args:
        panels: (title, array) or (title, array, layers) tuples; arrays are (H, W), (1, W) for signals, or
            (C, H, W) drawn as a column of heatmaps labelled "{layers} 1", "{layers} 2"… (layers defaults to
            "channel"); layers="rgb" draws a (3, H, W) array in [0, 1] as a colour image.
        numbers: write values in the cells; by default only for small grids.
    """
    fig, x = go.Figure(), 0.0
    tallest = 1
    for title, a, *layers in panels:
        a, layers = np.atleast_2d(a), (layers or ["channel"])[0]
        if a.ndim == 3 and layers == "rgb":
            rgb = (np.clip(a.transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8)
            fig.add_trace(go.Image(z=rgb, x0=x, y0=0, dx=1, dy=1, hoverinfo="skip"))
            tallest = max(tallest, a.shape[1])
        else:
            z = _stack(a) if a.ndim == 3 else a  # (C·(H+1)−1, W) with NaN rows between the slices
            write = numbers if numbers is not None else (a[0] if a.ndim == 3 else a).size <= 256
            fig.add_trace(_heatmap(z, x, 0, _scale(z), _texts(z) if write else None, 10))
            tallest = max(tallest, z.shape[0])
            for c in range(1, a.shape[0] if a.ndim == 3 else 1):
                fig.add_annotation(x=x - 0.5, y=c * (a.shape[1] + 1) - 0.5, text=f"{layers} {c + 1}",
                                   showarrow=False, xanchor="left", yanchor="bottom", font={"size": 11})
        first = f" · {layers} 1" if a.ndim == 3 and layers != "rgb" and len(a) > 1 else ""
        fig.add_annotation(x=x - 0.5, y=-0.5, text=f"<b>{title}</b>{first}", showarrow=False, xanchor="left",
                           yanchor="bottom", font={"size": 12})
        x += a.shape[-1] + max(1.0, 0.15 * a.shape[-1])
    if any(np.ndim(a) == 3 and (layers or ["channel"])[0] != "rgb" for _, a, *layers in panels):
        height = max(height, min(18 * tallest + 60, 900))  # stacked slices: keep cells large enough to read
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, plot_bgcolor="white",
                      xaxis={"visible": False, "fixedrange": True, "constrain": "domain"},
                      yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x", "fixedrange": True,
                             "range": [tallest - 0.5, -0.5 - 0.1 * tallest]})
    return fig


def receptive(field_list: list[Field], input_size: int) -> go.Figure:
    """The input grid with the pixels one central output unit sees, nested layer by layer."""
    last = field_list[-1]
    unit = (last.output_size - 1) // 2 if last.output_size else 0
    lo, hi = last.span(unit)
    centre = (lo + hi) / 2
    depth = np.zeros(input_size)  # per axis: how many layers' fields (around the same centre) cover each pixel
    for f in field_list:
        nearest = round((centre - f.first - (f.size - 1) / 2) / f.jump)  # that layer's unit on the path
        a, b = f.span(nearest)
        depth[max(a, 0):max(b + 1, 0)] += 1
    seen = np.minimum.outer(depth, depth)
    fig = go.Figure(go.Heatmap(z=seen, colorscale=[[0, "#f4f4f4"], [1, palette.OKABE_ITO["blue"]]], showscale=False,
                               xgap=1, ygap=1,
                               hovertemplate="row %{y}, column %{x}<extra></extra>"))
    fig.add_shape(type="rect", x0=lo - 0.5, x1=hi + 0.5, y0=lo - 0.5, y1=hi + 0.5, line={"color": _WINDOW, "width": 3})
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 10, "b": 10}, plot_bgcolor="white",
                      xaxis={"visible": False, "range": [-0.5, input_size - 0.5], "constrain": "domain"},
                      yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x"})
    return fig
