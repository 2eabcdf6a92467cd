"""The catalogue: lessons by course topic, those set by the student's class first; files that failed to load."""
from __future__ import annotations

import streamlit as st

from ui.core import text
from ui.lessons.challenge import challenge_ui

PARAM = "lesson"  # the open lesson's id in the address: a reload reopens it


def open_lesson(lesson_id: str | None) -> None:
    """Open a lesson (None: back to the list), kept in the address."""
    if lesson_id is None:
        st.query_params.pop(PARAM, None)
    else:
        st.query_params[PARAM] = lesson_id


def _card(lesson, progress, where: str) -> None:
    checked = [i for i, step in enumerate(lesson.steps) if step.check is not None]
    done = sum((lesson.id, i) in progress.ticks for i in checked)
    with st.container(border=True, key=f"lesson-card-{where}-{lesson.id}"):
        st.markdown(f"**{lesson.title}**")
        st.caption(f"about {lesson.minutes} minutes · {len(lesson.steps)} steps"
                   + (f" · {done} of {len(checked)} done" if done else "")
                   + (" · with a challenge" if lesson.challenge else ""))
        st.markdown(lesson.summary)
        st.button("Open", key=f"lessons-open-{where}-{lesson.id}", on_click=open_lesson, args=(lesson.id,),
                  icon=":material/arrow_forward:")


def _grid(lessons, progress, where: str) -> None:
    for start in range(0, len(lessons), 3):
        for column, lesson in zip(st.columns(3), lessons[start:start + 3]):
            with column:
                _card(lesson, progress, where)


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
        _grid(first, progress, "assigned")
        for challenge in challenges:
            if challenge.key.startswith("custom-"):  # a lesson's own challenge is on its lesson's page
                challenge_ui(s, challenge, progress, blocked)
    for topic, lessons in catalogue.by_topic().items():
        rest = [lesson for lesson in lessons if lesson.id not in assigned]
        if rest:
            st.subheader(topic)
            _grid(rest, progress, "topic")
