"""Presenter mode, for a projector: larger text and charts, the sidebar collapsed, secondary controls folded away.

It is kept in the address as ``?present=1`` (a reload or a shared link keeps it) and in the session, so a page link
or the sidebar's navigation, which drop the address's parameters, keep it too. Every page turns it on through
sidebar.sidebar_ui (the toggle sits in the workspace panel); rooms ask ``is_on()``, show their figures through
``figure()`` and fold their secondary controls with ``fold()``; ``beside()`` puts an explanation next to its chart.
A lesson step's Set it up names itself with ``follow_step()``; the page it opens wraps its main chart in
``step_beside(page, tab)``, which in presenter mode shows that step's explanation in a column beside it.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Iterator

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ui.core import layout, text

PARAM = "present"  # ?present=1 turns it on, ?present=0 off; without it the session's last choice holds
TOGGLE = "present"  # the sidebar toggle's key; AppTest finds it as at.toggle(key="present")
LEAVE = "present-leave"  # the floating button's key, the way out while the sidebar is collapsed
_KEPT = "_present_on"  # the session's choice, for the pages opened without the parameter
_DRAWN = "_present_drawn"  # the mode the last page was drawn in: the sidebar is moved only when it changes
_STEP = "_present_step"  # the lesson step a Set it up opened: {"page", "tab", "title", "explanation"}
HIDE_STEP = "present-step-hide"  # the button that puts the step's explanation away
FONT_SCALE = 1.4  # a chart's text, readable from the back of a lecture hall
HEIGHT_SCALE = 1.25  # a chart's height (its width already follows the wider main column)
PLOTLY_FONT = 12  # plotly.js's default text size, for figures that set none


def is_on() -> bool:
    """Whether this page is shown in presenter mode: the address's ``present`` parameter, else the session's."""
    asked = st.query_params.get(PARAM)
    if asked is not None:
        st.session_state[_KEPT] = asked.lower() in ("1", "true", "on", "yes")
    return bool(st.session_state.get(_KEPT, False))


def set_on(on: bool) -> None:
    """Turn presenter mode on or off for this session and its address."""
    st.session_state[_KEPT] = on
    if on:
        st.query_params[PARAM] = "1"
    elif PARAM in st.query_params:
        del st.query_params[PARAM]


def link_params() -> dict[str, str]:
    """The address parameters a page link carries along: st.page_link and st.switch_page clear the others, so
    pass ``query_params=present.link_params()`` (page.page_link does); the session would put it back anyway."""
    return {PARAM: "1"} if is_on() else {}


def apply() -> bool:
    """Once per page (sidebar.sidebar_ui does it): the address, the sidebar's state, the page-wide style and the
    toggle; returns whether presenter mode is on."""
    on = is_on()
    if on and st.query_params.get(PARAM) != "1":
        st.query_params[PARAM] = "1"  # the page navigation dropped it: a reload or a copied address keeps it
    # Streamlit applies a changed initial state on the open page too; "auto" gives a wide window its sidebar back.
    st.set_page_config(initial_sidebar_state="collapsed" if on else "auto")
    st.session_state[TOGGLE] = on  # the toggle shows the address's word, also right after a link opened it
    st.sidebar.toggle("Presenter mode", key=TOGGLE, on_change=_toggled,
                      help="For a projector: larger text and charts, the sidebar collapsed and secondary controls "
                           "folded away. The address keeps it (?present=1).")
    if st.session_state.get(_DRAWN, False) != on:  # this run enters or leaves presenter mode
        with st.sidebar:  # drawn there, it leaves no gap in the page
            layout.sidebar_script(collapse=on)
    st.session_state[_DRAWN] = on
    if on:
        layout.presenter_css()
        with st.container(key="present-bar"):  # pinned to the window's corner by presenter_css
            st.button("Leave presenter mode", key=LEAVE, icon=":material/close_fullscreen:", on_click=set_on,
                      args=(False,))
    return on


def _toggled() -> None:
    set_on(bool(st.session_state[TOGGLE]))


def figure(fig):
    """The figure as this page shows it: unchanged, or in presenter mode a copy with larger text and height."""
    return scaled(fig) if is_on() else fig


def scaled(fig, font: float = FONT_SCALE, height: float = HEIGHT_SCALE) -> go.Figure:
    """A copy of a Plotly figure (or its dict) with every layout text size times ``font`` and its height (and
    margins) times ``height``; a figure with a fixed width keeps its size, so its cells keep their shape.

    Only the layout's text grows (titles, axes, legends, annotations, sliders, also in animation frames): a
    trace's own text, such as the numbers inside a heatmap's cells, must keep fitting its cell.
    """
    d = copy.deepcopy(fig) if isinstance(fig, dict) else fig.to_dict()  # to_dict is already a deep copy
    lay = d.setdefault("layout", {})
    lay.setdefault("font", {}).setdefault("size", PLOTLY_FONT)
    _grow_fonts(lay, font)
    for frame in d.get("frames") or ():
        _grow_fonts(frame.get("layout") or {}, font)
    if "width" not in lay:
        lay["height"] = round((lay.get("height") or 450) * height)  # 450: plotly.js's default height
    margin = lay.get("margin") or {}
    for side in ("l", "r", "t", "b"):
        if isinstance(margin.get(side), (int, float)):
            margin[side] = round(margin[side] * height)
    return go.Figure(d)


def _grow_fonts(node, factor: float) -> None:
    """Multiply the ``size`` of every font dict under ``node`` (font, tickfont, title.font, …) by ``factor``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("font") and isinstance(value, dict) and isinstance(value.get("size"), (int, float)):
                value["size"] = round(value["size"] * factor, 1)
            if key != "template":  # the template's defaults are not this figure's text
                _grow_fonts(value, factor)
    elif isinstance(node, list):
        for item in node:
            _grow_fonts(item, factor)


@contextmanager
def fold(label: str, key: str | None = None, heading: bool = True) -> Iterator[DeltaGenerator]:
    """Secondary controls: in presenter mode inside a closed expander named ``label``; otherwise in place, under
    ``label`` as a subheader when ``heading``."""
    if is_on():
        with st.expander(label, expanded=False, key=key) as box:
            yield box
    else:
        if heading:
            st.subheader(label)
        with st.container() as box:
            yield box


def beside(ratio: tuple[int, int] = (2, 3)) -> tuple[DeltaGenerator, DeltaGenerator]:
    """(explanation, chart) containers: side by side in presenter mode, one above the other otherwise.

    For a lesson step: ``text, chart = present.beside()``, the explanation drawn in ``text``, its figure in
    ``chart``. On a narrow window (a projector at 200% zoom) layout.narrow_window_css stacks them again.
    """
    if is_on():
        words, chart = st.columns(list(ratio), gap="large", vertical_alignment="top")
        return words, chart
    return st.container(), st.container()


def columns(spec, **kwargs) -> list[DeltaGenerator]:
    """st.columns(spec, **kwargs), or in presenter mode as many containers one above the other: for a row whose
    wide content (a table beside a chart) no longer fits half the window once the text is larger."""
    if is_on():
        count = spec if isinstance(spec, int) else len(spec)
        return [st.container() for _ in range(count)]
    return st.columns(spec, **kwargs)


def follow_step(page: str, tab: str | None, title: str, explanation: str) -> None:
    """A lesson step's Set it up opens ``page`` (at ``tab``): remember the step, for ``step_beside`` there."""
    st.session_state[_STEP] = {"page": page, "tab": tab, "title": title, "explanation": explanation}


def followed_step(page: str, tab: str | None = None) -> dict | None:
    """The step set up for this page (and this tab, when the step names one), else None."""
    step = st.session_state.get(_STEP)
    if not isinstance(step, dict) or step.get("page") != page:
        return None
    return step if step.get("tab") in (None, tab) else None


def _hide_step() -> None:
    st.session_state.pop(_STEP, None)


@contextmanager
def step_beside(page: str, tab: str | None = None, drawn: bool = True) -> Iterator[DeltaGenerator]:
    """A page's main chart: in presenter mode, with a lesson step set up for this page (and tab), the step's
    explanation in a column beside it (``beside()``); otherwise the chart alone, as before. ``drawn`` False (a
    closed tab, which draws its widgets only) never shows it: the open tab does."""
    step = followed_step(page, tab) if drawn and is_on() else None
    if step is None:
        with st.container() as box:
            yield box
        return
    explanation, chart = beside()
    with explanation.container(key="present-step"):
        st.markdown(f"**{text.plain(step['title'])}**")
        st.markdown(step["explanation"])  # lesson text is ours (the lessons/ files): its $…$ is LaTeX
        st.button("Hide the step", key=HIDE_STEP, icon=":material/close:", on_click=_hide_step)
    with chart:
        yield chart
