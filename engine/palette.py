"""One palette for every engine figure: Okabe–Ito colours (told apart by colour-blind viewers), a colour and a dash
per series role, and the log-axis settings (labels at powers of ten only)."""
from __future__ import annotations

import math

import numpy as np

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies.
OKABE_ITO = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
             "sky": "#56B4E9", "purple": "#CC79A7", "yellow": "#F0E442", "black": "#000000"}

# Categories (runs, classes, students, networks) take colours in this order; yellow last, it is faint on white.
CYCLE = [OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "purple", "sky", "black", "yellow")]

# A role keeps its colour AND its dash on every page, so a chart still reads in grey or for a colour-blind viewer.
SERIES = {
    "train": dict(color=OKABE_ITO["blue"], dash="solid"),
    "validation": dict(color=OKABE_ITO["vermillion"], dash="dash"),
    "train epoch mean": dict(color=OKABE_ITO["green"], dash="dot"),
    "test": dict(color=OKABE_ITO["purple"], dash="dashdot"),
}

# Diverging scale for signed values: blue negative, white at 0, vermillion positive (Okabe–Ito ends).
DIVERGING = [[0.0, OKABE_ITO["blue"]], [0.5, "#FFFFFF"], [1.0, OKABE_ITO["vermillion"]]]
SEQUENTIAL = "Viridis"  # magnitudes: dark (0) to yellow (largest), perceptually even, colour-blind safe
# The same ideas for a heatmap drawn OVER an image: 0 is fully transparent, so the image shows through where
# nothing is attributed; colour (and opacity) grow with |value|.
DIVERGING_CLEAR = [[0.0, "rgba(0,114,178,1)"], [0.5, "rgba(255,255,255,0)"], [1.0, "rgba(213,94,0,1)"]]
SEQUENTIAL_CLEAR = [[0.0, "rgba(230,159,0,0)"], [0.35, "rgba(230,159,0,0.75)"], [1.0, "rgba(213,94,0,1)"]]


TICKS = dict(tickfont=dict(size=14), title=dict(font=dict(size=15)))  # axis text that reads from a lecture hall's back


def axis(**settings) -> dict:
    """An axis dict with the legible tick and title fonts, e.g. ``axis(title={"text": "epoch"})``."""
    title = {**TICKS["title"], **settings.pop("title", {})}
    return {**TICKS, **settings, "title": title}


def colour(i: int) -> str:
    """The i-th category colour, cycling."""
    return CYCLE[i % len(CYCLE)]


def line(role: str, width: float = 2, color: str | None = None) -> dict:
    """A Scatter ``line`` dict for a series role ("train", "validation", "train epoch mean", "test");
    ``color`` overrides the role's colour (several runs on one chart: a colour per run, the dash per role)."""
    style = SERIES[role]
    return dict(color=color or style["color"], dash=style["dash"], width=width)


MAX_DECADE_LABELS = 8  # more labelled decades than this crowd a 300 px axis: label every 2nd, 5th, … decade


def log_axis(values=None, **extra) -> dict:
    """Axis settings for ``fig.update_yaxes(**log_axis())``: labels at powers of ten (1e-3, 1e-2, …) only,
    unlabelled minor ticks between them.

    Args:
        values: the plotted values, optional: the range is then widened to whole decades, so that at least
            two labelled powers of ten are always visible (a curve inside one decade would show none), and a
            range of many decades labels every 2nd, 5th, 10th … decade (``dtick`` stays a whole number).
        extra: more axis settings (e.g. ``title``).
    """
    # minexponent 0: every label in one form (1e-2, 1e-1, 1, 1e+1), not "0.01, 0.1, 1, 10" then "1e-3"
    axis = dict(type="log", dtick=1, exponentformat="e", showexponent="all", minexponent=0,
                tickfont=TICKS["tickfont"],
                minor=dict(dtick="D1", ticks="outside", ticklen=4, showgrid=True, gridcolor="#f0f0f0"))
    if values is not None:
        finite = [float(v) for v in _flat(values) if v is not None and math.isfinite(float(v)) and float(v) > 0]
        if finite:
            lo, hi = math.floor(math.log10(min(finite))), math.ceil(math.log10(max(finite)))
            hi = max(hi, lo + 1)
            step = next(d for d in (1, 2, 5, 10, 20, 50, 100, 200, 500) if (hi - lo) / d <= MAX_DECADE_LABELS)
            lo, hi = step * math.floor(lo / step), step * math.ceil(hi / step)  # both ends labelled
            axis["range"] = [lo, hi]  # log axes take the range as exponents
            if step > 1:  # minor ticks at every decade (unlabelled); D1's 2…9 would be a smear
                axis.update(dtick=step, tick0=0, minor=dict(dtick=1, ticks="outside", ticklen=4, showgrid=False))
    return {**axis, **extra}


def _flat(values):
    """Every number in a nested list or array."""
    try:
        return np.asarray(values, dtype=float).ravel().tolist()
    except (TypeError, ValueError):  # ragged: several curves of different lengths
        return [v for part in values for v in _flat(part)]


__all__ = ["OKABE_ITO", "CYCLE", "SERIES", "DIVERGING", "SEQUENTIAL", "DIVERGING_CLEAR", "SEQUENTIAL_CLEAR", "TICKS",
           "axis", "colour", "line", "log_axis"]
