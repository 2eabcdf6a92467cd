"""Set it up: a step's network, data and settings into the student's workspace (the way a teacher's push opens
them), its lab settings left for the Gradients page, then the step's page at its tab. Unsaved work is never
replaced silently: a network that no run has trained and that is no shipped preset is replaced only when confirmed.
"""
from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

import engine
from ui.core import database, present, pushes, text, workspace
from ui.core.page import page_link
from ui.core.settings import queue_settings

# A set-up's page (engine.lessons.PAGES) -> its script, and the address parameter its tabs are kept in.
SCRIPTS = {"Lessons": "views/7_Lessons.py", "Build": "views/1_Build.py", "Convolution": "views/2_Convolution.py",
           "Train": "views/3_Train.py", "Inspect": "views/4_Inspect.py", "Gradients": "views/5_Gradients.py",
           "Class": "views/6_Class.py"}
TAB_PARAMS = {"Convolution": "conv_tab", "Inspect": "inspect_tab", "Gradients": "gradients_tab"}
PENDING = "lessons-confirm"  # extras key: (lesson id, step index) of a set-up waiting for the student's go-ahead


def at_risk(s, setup) -> str | None:
    """The name of the student's network a set-up would replace and lose, or None: it is the set-up's own, a shipped
    preset as shipped, or some run's network (kept with that run)."""
    if setup.spec is None:
        return None
    current = s.spec.to_dict()
    if engine.ModelSpec.from_dict(setup.spec).to_dict() == current:
        return None
    if s.spec.name in engine.network.presets.names() and engine.network.presets.get(s.spec.name).to_dict() == current:
        return None
    if any(run.spec.to_dict() == current for run in s.book.runs):
        return None
    return s.spec.name or "custom"


def page_of(setup) -> str:
    """The page a set-up opens: its own, else Train for a network or data, else the Lessons page."""
    return setup.page or ("Train" if setup.spec is not None or setup.dataset else "Lessons")


def target(setup) -> tuple[str, dict]:
    """The script a set-up opens and the address parameters that open its tab."""
    page = page_of(setup)
    params = {TAB_PARAMS[page]: setup.tab} if setup.tab and page in TAB_PARAMS else {}
    return SCRIPTS[page], params


def describe(setup) -> str:
    """What a set-up puts in the workspace, in words (lesson text: ours)."""
    parts = []
    if setup.spec is not None:
        parts.append(f"network {setup.spec.get('name') or 'custom'}")
    if setup.dataset:
        parts.append(f"data {setup.dataset}")
    parts += [f"{k.replace('_', ' ')} {v}" for k, v in setup.settings.items()]
    for name, lab in (("the depth lab", setup.depth_lab), ("the time lab", setup.time_lab)):
        if lab:
            parts.append(f"{name} with " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in lab.items()))
    return ", ".join(parts)


def _queue_lab(s, values: dict) -> None:
    """Leave a Gradients lab set-up (``{"depth_lab": ..., "time_lab": ...}``) for the Gradients page's next draw."""
    queue_settings("gradients", values)


def apply(s, lesson, index: int, setup) -> None:
    """Put the set-up in the workspace and open its page (``st.switch_page`` ends this run)."""
    s.extras.pop(PENDING, None)
    spec = engine.ModelSpec.from_dict(setup.spec) if setup.spec is not None else None
    if spec is not None and spec.to_dict() == s.spec.to_dict():
        spec = None  # already the student's network: its trained weights stay for Inspect (putting it resets them)
    train = setup.config().to_dict() if setup.dataset or setup.settings else None
    if spec is not None or train:
        pushes.put(s, spec, train, database.services()[1])
    if setup.depth_lab or setup.time_lab:
        _queue_lab(s, {"depth_lab": dict(setup.depth_lab), "time_lab": dict(setup.time_lab)})
    script, params = target(setup)
    step = lesson.steps[index]
    present.follow_step(page_of(setup), setup.tab, f"{lesson.title}, step {index + 1}: {step.title}",
                        step.explanation)  # shown beside the page's chart in presenter mode
    what = describe(setup)
    s.notice = f"Lesson “{lesson.title}”, step {index + 1} is set up" + (f": {what}." if what else ".")
    workspace.sync(s)
    try:
        params = {**params, **present.link_params()}
        st.switch_page(script, query_params={workspace.PARAM: s.token, **params} if s.token else params)
    except StreamlitAPIException:  # the page runs on its own (no st.navigation): a link instead
        st.query_params.update(params)
        page_link(script, f"Open the {setup.page or 'Train'} page")


def setup_ui(s, lesson, index: int, step, blocked: str | None) -> None:
    """The step's Set it up button, and the confirmation when it would replace a network no run has kept."""
    setup = step.setup
    if setup is None:
        return
    key = (lesson.id, index)
    what = describe(setup)
    if st.button("Set it up", key=f"lesson-setup-{index}", icon=":material/build:", disabled=blocked is not None,
                 help=blocked or (f"puts {what} into your workspace and opens the page" if what else
                                  "opens the page this step uses")):
        if at_risk(s, setup) is None:
            apply(s, lesson, index, setup)
        s.extras[PENDING] = key
    if s.extras.get(PENDING) != key:
        return
    old = at_risk(s, setup)
    if old is None:  # trained meanwhile, or changed back
        s.extras.pop(PENDING, None)
        return
    with st.container(border=True, key=f"lesson-confirm-{index}"):
        st.warning(f"Set it up replaces your network **{text.plain(old)}** with "
                   f"**{text.plain(setup.spec.get('name') or 'custom')}**. No run has trained yours, so it is not "
                   "kept anywhere: train it once on the Train page to keep it with that run, or replace it.")
        replace, keep = st.columns(2)
        if replace.button(f"Replace {text.plain(old)}", key=f"lesson-confirm-yes-{index}", type="primary"):
            apply(s, lesson, index, setup)
        if keep.button("Keep my network", key=f"lesson-confirm-no-{index}"):
            s.extras.pop(PENDING, None)
            st.rerun()
