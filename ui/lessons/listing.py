"""The catalogue: lessons by course topic, those set by the student's class first; files that failed to load."""
from __future__ import annotations

import streamlit as st

from ui.core import text
from ui.lessons.challenge import challenge_ui

PARAM = "lesson"  # the open lesson's id in the address: a reload reopens it
LAST = "lessons-open"  # extras key: the lesson open when the student went to another page (the sidebar drops PARAM)


def open_lesson(s, lesson_id: str | None) -> None:
    """Open a lesson (None: back to the list), kept in the address and, for a return from another page, the session."""
    if lesson_id is None:
        st.query_params.pop(PARAM, None)
        s.extras.pop(LAST, None)
    else:
        st.query_params[PARAM] = s.extras[LAST] = lesson_id


def wanted(s) -> str | None:
    """The lesson to show: the address's, else the one open when the student left for another page."""
    lesson_id = st.query_params.get(PARAM) or s.extras.get(LAST)
    if lesson_id:
        open_lesson(s, lesson_id)
    return lesson_id


def _card(s, lesson, progress, where: str) -> None:
    checked = [i for i, step in enumerate(lesson.steps) if step.check is not None]
    done = sum((lesson.id, i) in progress.ticks for i in checked)
    with st.container(border=True, key=f"lesson-card-{where}-{lesson.id}", height="stretch"):
        st.markdown(f"**{lesson.title}**")
        st.caption(f"about {lesson.minutes} minutes · {len(lesson.steps)} steps"
                   + (f" · {done} of {len(checked)} done" if done else "")
                   + (" · with a challenge" if lesson.challenge else ""))
        st.markdown(lesson.summary)
        st.button("Open", key=f"lessons-open-{where}-{lesson.id}", on_click=open_lesson, args=(s, lesson.id),
                  icon=":material/arrow_forward:")


def _grid(s, lessons, progress, where: str) -> None:
    for start in range(0, len(lessons), 3):
        for column, lesson in zip(st.columns(3), lessons[start:start + 3]):
            with column:
                _card(s, lesson, progress, where)


def errors_ui(errors) -> None:
    """Lesson files that did not load, each with its path and field (the others still do)."""
    for error in errors:
        st.warning(f"A lesson file could not be loaded: {text.code(error.path, 200)}, "
                   f"{text.code(error.where, 120)}: {text.message(error.message)}", icon=":material/error:")


def list_ui(s, catalogue, progress, assigned: tuple, challenges: tuple, blocked: str | None) -> None:
    """Every lesson by topic; the class's assigned lessons and custom challenges first."""
    st.title("Lessons")
    st.markdown("Each lesson sets the app up for you, asks you to predict, lets you do it, and checks what you did "
                "from your saved workspace. Ticks and predictions are kept with your workspace.")
    errors_ui(catalogue.errors)
    first = [catalogue.get(i) for i in assigned if catalogue.get(i) is not None]
    if first or challenges:
        st.subheader(":material/assignment: Set by your teacher")
        _grid(s, first, progress, "assigned")
        for challenge in challenges:
            if challenge.key.startswith("custom-"):  # a lesson's own challenge is on its lesson's page
                challenge_ui(s, challenge, progress, blocked)
    for topic, lessons in catalogue.by_topic().items():
        rest = [lesson for lesson in lessons if lesson.id not in assigned]
        if rest:
            st.subheader(topic)
            _grid(s, rest, progress, "topic")
