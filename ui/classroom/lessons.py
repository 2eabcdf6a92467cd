"""The Class page's Lessons tab, for the teacher: assign lessons and challenges, watch the students × steps grid
and each challenge's leaderboard live, and define a custom challenge. Every tick and result shown was checked by
the engine on the student's stored runs (``engine.lessons``); this page only reads them."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

import engine
from engine import lessons as course
from ui.core import database, text
from ui.classroom import naming

STATE = "class-lessons"
SYMBOLS = {"ticked": "✓", "predicted": "?", "not started": "·"}
LEGEND = ("**✓** ticked: the step's check passed on a run stored in the student's workspace; **?** predicted: "
          "the student answered the step's prediction, no passing run yet; **·** not started")
FIELD = "class-challenge-"  # the custom challenge form's widget keys: FIELD + the engine's field name
TYPED = ("title", "description", "dataset", "metric", "threshold", "max_parameters", "allowed_layers", "max_epochs",
         "max_bottleneck")  # the engine.lessons.FORM fields the form asks (dataset options: any)


def lessons_ui(token: str, every: float) -> None:
    """The teacher's lessons: what the class is set, the live grid and leaderboards, the custom challenge form."""
    found = course.catalogue()
    try:
        assigned = _store().class_assignments(teacher_token=token)
    except engine.InputError as err:
        st.error(f"The class's lessons cannot be shown: {text.message(err)}")
        return
    _assign_ui(token, assigned, found)

    @st.fragment(run_every=every)
    def live():
        _grid_ui(token, found)
        _leaderboards_ui(token, assigned.challenges)

    live()
    _challenge_form(token)


def _store():
    store, _ = database.reachable()
    return store


def _state(token: str) -> dict:
    view = st.session_state.setdefault(STATE, {"token": token})
    if view["token"] != token:
        view.clear()
        view["token"] = token
    return view


# ------------------------------------------------------------------------------------------- assignments
def _assign_ui(token: str, assigned, found) -> None:
    """The assigned lessons and challenges (each can be taken off), and pickers to assign more."""
    view = _state(token)
    st.markdown("**Assigned to the class**: these come first on every student's Lessons page, in this order.")
    if done := view.pop("done", None):
        (st.success if done[0] else st.error)(done[1])
    if not assigned.lessons and not assigned.challenges:
        st.caption("Nothing assigned yet: the grid below follows every lesson until you assign some.")
    for lesson_id in assigned.lessons:
        lesson = found.get(lesson_id)
        a, b = st.columns([5, 1], vertical_alignment="center")
        a.markdown(f"Lesson {lesson.order}: {text.plain(lesson.title)} ({lesson.minutes} min, "
                   f"{len(lesson.steps)} steps)")
        b.button("Unassign", key=f"class-unassign-lesson-{lesson_id}", on_click=_change,
                 args=(token, "unassign", "lesson", lesson_id, text.plain(lesson.title)))
    for challenge in assigned.challenges:
        custom = challenge.key.startswith("custom-")
        a, b = st.columns([5, 1], vertical_alignment="center")
        a.markdown(f"Challenge{' (yours)' if custom else ''}: {text.plain(challenge.title)}")
        args = token, "unassign", "challenge", challenge.key, text.plain(challenge.title)
        if not custom:
            b.button("Unassign", key=f"class-unassign-challenge-{challenge.key}", on_click=_change, args=args)
            continue
        # Deleting drops the teacher's definition too (no undo): asked once more, as removing a student is.
        if b.button("Delete", key=f"class-unassign-challenge-{challenge.key}"):
            view["deleting"] = challenge.key
        if view.get("deleting") == challenge.key:
            st.warning(f"Delete your challenge **{text.plain(challenge.title)}**? Its leaderboard goes with it; "
                       "students' results stay in their workspaces.")
            st.button("Delete", key=f"class-delete-challenge-{challenge.key}", type="primary", on_click=_change,
                      args=args)
    lessons = {x.id: x for x in found.lessons if x.id not in assigned.lessons}
    taken = {c.key for c in assigned.challenges}
    challenges = {x.id: x for x in found.lessons if x.challenge is not None and x.id not in taken}
    a, b, c, d = st.columns([3, 1, 3, 1], vertical_alignment="bottom")
    lesson_id = a.selectbox("Assign a lesson", list(lessons), index=None, placeholder="Choose a lesson",
                            format_func=lambda i: f"{lessons[i].order}. {lessons[i].title} ({lessons[i].minutes} min)",
                            key="class-assign-lesson")
    b.button("Assign", key="class-assign-lesson-go", disabled=lesson_id is None, on_click=_change,
             args=(token, "assign", "lesson", lesson_id, text.plain(lessons[lesson_id].title) if lesson_id else ""))
    challenge_id = c.selectbox("Assign a lesson's challenge", list(challenges), index=None,
                               placeholder="Choose a challenge", format_func=lambda i: challenges[i].challenge.title,
                               key="class-assign-challenge")
    d.button("Assign", key="class-assign-challenge-go", disabled=challenge_id is None, on_click=_change,
             args=(token, "assign", "challenge", challenge_id,
                   text.plain(challenges[challenge_id].challenge.title) if challenge_id else ""))


def _change(token: str, action: str, kind: str, ref: str | None, title: str) -> None:
    """Assign or take off (a button's callback: the page drawn next shows the class's new list)."""
    view = _state(token)
    view.pop("deleting", None)
    if ref is None:
        return
    try:
        if action == "assign":
            _store().assign(token, kind, ref)
        else:
            _store().unassign(token, kind, ref)
    except engine.InputError as err:
        view["done"] = False, f"Cannot {action} {kind} {title}: {text.message(err)}"
        return
    view["done"] = True, f"{'Assigned' if action == 'assign' else 'Taken off the class'}: {kind} {title}."
    if action == "assign":  # the picker offers what is left; its old choice is no longer among them
        st.session_state.pop(f"class-assign-{kind}", None)


# ------------------------------------------------------------------------------------------- the live grid
def _grid_ui(token: str, found) -> None:
    """The teacher's grid: one store call per poll."""
    try:
        grid = _store().progress_grid(token)
    except engine.InputError as err:
        st.error(f"The progress grid cannot be shown: {text.message(err)}")
        return
    _state(token)["names"] = _draw_grid(grid, found)


def _leaderboards_ui(token: str, challenges) -> None:
    """Each assigned challenge's leaderboard: one store call each."""
    names = _state(token).get("names", {})
    for challenge in challenges:
        try:
            entries = _store().leaderboard(token, challenge.key)
        except engine.InputError as err:  # taken off by a co-teacher since this page was drawn
            st.caption(f"{text.plain(challenge.title)}: not shown, {text.message(err)}")
            continue
        _draw_leaderboard(challenge, entries, names)


def board_lessons_ui(board: str) -> None:
    """The class board's lessons, read-only (one store call per poll): the assigned lessons' grid and the
    assigned challenges' leaderboards; nothing at all while the class is set none."""
    try:
        grid, boards = _store().board_lessons(board)
    except engine.InputError as err:
        st.error(f"The class's lessons cannot be shown: {text.message(err)}")
        return
    names = _draw_grid(grid, course.catalogue()) if grid.columns else \
        naming.shown((r.member_key, r.display_name) for r in grid.rows)
    for challenge, entries in boards:
        _draw_leaderboard(challenge, entries, names)


def _draw_grid(grid, found) -> dict[str, str]:
    """Students × steps, one table per lesson; returns the names shown, by member key ("Ada (2)" included)."""
    names = naming.shown((r.member_key, r.display_name) for r in grid.rows)
    st.markdown("**Progress**, live: each student × each step.")
    st.caption(LEGEND)
    if not grid.rows:
        st.info("Nobody has joined yet: the grid fills in as students join and work through the lessons.")
        return names
    for lesson_id in dict.fromkeys(lesson_id for lesson_id, _ in grid.columns):
        lesson = found.get(lesson_id)
        steps = [i for l_id, i in grid.columns if l_id == lesson_id]
        rows = []
        for r in grid.rows:
            cells = [r.cells[(lesson_id, i)] for i in steps]
            rows.append({"student": names[r.member_key],
                         **{f"step {i + 1}": SYMBOLS.get(c, c) for i, c in zip(steps, cells)},
                         "ticked": f"{cells.count('ticked')} of {len(steps)}"})
        table = pd.DataFrame(rows).sort_values("student", key=lambda s: s.str.lower(), kind="stable")
        done = sum(all(r.cells[(lesson_id, i)] == "ticked" for i in steps) for r in grid.rows)
        st.markdown(f"Lesson {lesson.order}: {text.plain(lesson.title)} ({done} of {len(grid.rows)} "
                    f"student{'s' * (len(grid.rows) != 1)} done)")
        config = {f"step {i + 1}": st.column_config.TextColumn(f"step {i + 1}", help=lesson.steps[i].title,
                                                               width="small") for i in steps}
        with st.container(key=f"class-grid-{lesson_id}"):  # a stable handle for the browser tests
            st.dataframe(table, hide_index=True, column_config=config)
    return names


# ------------------------------------------------------------------------------------------- leaderboards
def _draw_leaderboard(challenge, entries, names: dict[str, str]) -> None:
    """A challenge's leaderboard: every student's best valid result, best first (imported runs never rank)."""
    st.markdown(f"**Leaderboard: {text.plain(challenge.title)}**")
    st.caption(_goal(challenge))
    if not entries:
        st.caption("No valid result yet: a student posts a finished run from the Lessons page, and the engine "
                   "checks it against the challenge.")
        return
    accuracy = challenge.metric == "test_accuracy"
    now = time.time()
    rows = [{"rank": i + 1, "student": names.get(e.member_key, e.display_name),
             "test accuracy" if accuracy else "test loss": f"{100 * e.value:.1f}%" if accuracy else f"{e.value:.4f}",
             "goal met": "✓" if e.met else "",
             "parameters": f"{e.parameters:,}" if e.parameters is not None else "",
             "run": f"#{e.run}", "when": _ago(now - e.at)} for i, e in enumerate(entries)]
    with st.container(key=f"class-leaderboard-{challenge.key}"):
        st.dataframe(pd.DataFrame(rows), hide_index=True)


def _goal(challenge) -> str:
    """The challenge's goal and constraints in one line (for markdown: user strings escaped)."""
    accuracy = challenge.metric == "test_accuracy"
    parts = [f"goal: test accuracy ≥ {100 * challenge.threshold:g}%" if accuracy
             else f"goal: test loss ≤ {challenge.threshold:g}", f"dataset {text.plain(challenge.dataset)}"]
    return "; ".join(parts + challenge.constraints()) + ". Best first; imported runs never rank."


def _ago(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"


# ------------------------------------------------------------------------------------------- custom challenge
def _challenge_form(token: str) -> None:
    """A challenge of the teacher's own, checked by the engine (a bad field is refused, named; the form keeps
    what was typed)."""
    view = _state(token)
    form = course.FORM.params
    with st.expander("Define a challenge of your own", expanded=bool(view.get("form-error")),
                     key="class-challenge"):
        with st.form("class-challenge-form", clear_on_submit=False, border=False):
            st.text_input("Title", key=FIELD + "title", help=form["title"].help, max_chars=200,
                          placeholder="e.g. ≥ 90% on spiral with ≤ 200 parameters")
            st.text_area("Description", key=FIELD + "description", help=form["description"].help, height=68)
            a, b, c = st.columns(3)
            a.selectbox("Dataset", form["dataset"].allowed(), key=FIELD + "dataset", help=form["dataset"].help)
            b.selectbox("Metric", form["metric"].allowed(), key=FIELD + "metric", help=form["metric"].help)
            c.number_input("Threshold", value=0.9, step=0.05, format="%.4g", key=FIELD + "threshold",
                           help=form["threshold"].help)
            a, b, c = st.columns(3)
            a.number_input("Maximum parameters", value=None, step=1, key=FIELD + "max_parameters",
                           help=form["max_parameters"].help + " (empty: any)")
            b.number_input("Maximum epochs", value=None, step=1, key=FIELD + "max_epochs",
                           help=form["max_epochs"].help + " (empty: any)")
            c.number_input("Maximum bottleneck", value=None, step=1, key=FIELD + "max_bottleneck",
                           help=form["max_bottleneck"].help + " (empty: any)")
            st.multiselect("Allowed layer types", form["allowed_layers"].allowed(), key=FIELD + "allowed_layers",
                           help=form["allowed_layers"].help, placeholder="Any")
            st.form_submit_button("Add the challenge", key="class-challenge-add", on_click=_add, args=(token,))
        if done := view.pop("form-done", None):
            st.success(done)
        if error := view.get("form-error"):
            st.error(error)


def _add(token: str) -> None:
    """The form's submit (a callback: the assigned list drawn next already holds the new challenge)."""
    view = _state(token)
    values = {name: st.session_state.get(FIELD + name) for name in TYPED}
    table = {k: v for k, v in values.items() if v not in (None, "", [])}
    try:
        key = _store().add_challenge(token, table)
    except engine.InputError as err:
        view["form-error"] = f"The challenge was not added: {text.message(err)}"
        return
    view.pop("form-error", None)
    view["form-done"] = f"Added and assigned to the class ({key}): {text.plain(table.get('title', ''))}."
