"""Lessons: guided activities by course topic; a lesson's steps are set up, predicted, done and checked here."""
import streamlit as st

from engine import lessons
from ui.core import sidebar, text
from ui.core.page import keep_alive, state
from ui.lessons import listing
from ui.lessons import progress as stored
from ui.lessons.challenge import challenge_ui
from ui.lessons.steps import lesson_ui

st.set_page_config(page_title="Lessons · NN playground", page_icon=":material/school:", layout="wide")
s = state()
sidebar.sidebar_ui(s)
keep_alive()  # a run started on the Train page keeps its heartbeat while the student reads a lesson

catalogue = lessons.catalogue()
blocked = stored.saving_off(s)
progress = stored.progress(s)
assigned, challenges = stored.assignments(s)
if blocked:
    st.info(text.message(blocked))

wanted = listing.wanted(s)
lesson = catalogue.get(wanted) if wanted else None
if wanted and lesson is None:
    st.error(f"No lesson has the id {text.code(wanted)}: choose one below.")
    listing.open_lesson(s, None)
if lesson is None:
    listing.list_ui(s, catalogue, progress, assigned, challenges, blocked)
else:
    st.button("All lessons", key="lessons-back", icon=":material/arrow_back:", on_click=listing.open_lesson,
              args=(s, None))
    lesson_ui(s, lesson, progress, blocked)
    if lesson.challenge is not None:
        challenge_ui(s, lesson.challenge, progress, blocked)
