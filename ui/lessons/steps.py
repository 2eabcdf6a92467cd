"""One lesson's steps: the explanation (LaTeX), the prediction asked first, Set it up, Check my work and the tick."""
from __future__ import annotations

import streamlit as st

import engine
from ui.core import text
from ui.lessons import progress as stored
from ui.lessons.setup import setup_ui

MESSAGES = "lessons-messages"  # extras key: (lesson id, step, what) -> (kind, words), shown under the button once


def _say(s, key: tuple, kind: str, words: str) -> None:
    s.extras.setdefault(MESSAGES, {})[key] = (kind, words)


def _said(s, key: tuple) -> None:
    kind, words = s.extras.get(MESSAGES, {}).pop(key, (None, None))
    if kind is not None:
        getattr(st, kind)(words)


def _answer_text(prediction) -> str:
    if prediction.kind == "choice":
        return prediction.answer
    return f"{prediction.value:g}" + (f" (± {prediction.tolerance:g})" if prediction.tolerance else "")


def prediction_ui(s, lesson, index: int, step, progress, blocked: str | None) -> bool:
    """Ask the step's prediction, or show the kept one (with the answer once it is kept or the step ticked).
    True when the student may act: predicted, ticked, or nothing to predict."""
    question = step.prediction
    if question is None:
        return True
    guess = progress.predictions.get((lesson.id, index))
    ticked = (lesson.id, index) in progress.ticks
    st.markdown(f"**Predict first:** {question.question}")
    if guess is None and not ticked:
        if question.kind == "choice":
            answer = st.radio("Your prediction", question.options, index=None, key=f"lesson-predict-{index}",
                              label_visibility="collapsed")
        else:
            answer = st.number_input("Your prediction", value=None, key=f"lesson-predict-{index}",
                                     format="%g", label_visibility="collapsed")
        if st.button("Keep my prediction", key=f"lesson-predict-save-{index}", disabled=blocked is not None,
                     help=blocked):
            if answer is None:
                _say(s, (lesson.id, index, "predict"), "warning", "Choose or type your prediction first.")
            else:
                try:
                    stored.predict(s, lesson.id, index, answer)
                except engine.InputError as err:
                    _say(s, (lesson.id, index, "predict"), "error", text.message(err))
            st.rerun()
        _said(s, (lesson.id, index, "predict"))
        return False
    if guess is not None:
        shown = guess.answer if question.kind == "choice" else f"{guess.answer:g}"
        mark = ":material/check_circle: right" if guess.correct else ":material/cancel: not quite"
        st.markdown(f"Your prediction: {text.plain(shown)} · {mark}")
    st.markdown(f"**Answer:** {_answer_text(question)}" + (f"  \n{question.reveal}" if question.reveal else ""))
    return True


def check_ui(s, lesson, index: int, step, progress, blocked: str | None) -> None:
    """Check my work: the step's check run on the saved workspace; what passed it, or why not."""
    if step.check is None:
        return
    if st.button("Check my work", key=f"lesson-check-{index}", icon=":material/task_alt:",
                 disabled=blocked is not None, help=blocked or "checks the runs saved in your workspace"):
        live = [f"#{r.number}" for r in s.book.live()]
        try:
            verdict = stored.tick(s, lesson.id, index)
        except engine.InputError as err:
            _say(s, (lesson.id, index, "check"), "error", text.message(err))
        else:
            if not verdict.passed:  # a pass shows as the step's tick, with what passed it
                wait = f" Run {', '.join(live)} is still training: check again when it has finished." if live else ""
                _say(s, (lesson.id, index, "check"), "warning", f"Not yet: {text.message(verdict.evidence)}{wait}")
        st.rerun()
    _said(s, (lesson.id, index, "check"))


def step_ui(s, lesson, index: int, step, progress, blocked: str | None) -> None:
    """One step in its box: title (ticked or not), explanation, prediction, Set it up, check."""
    tick = progress.ticks.get((lesson.id, index))
    with st.container(border=True, key=f"lesson-step-{index}"):
        mark = ":material/check_circle:" if tick else ":material/radio_button_unchecked:"
        st.markdown(f"#### {mark} Step {index + 1}: {step.title}")
        st.markdown(step.explanation)  # lesson text is ours: its $…$ is LaTeX
        may_act = prediction_ui(s, lesson, index, step, progress, blocked)
        wait = blocked or (None if may_act else "Keep your prediction first: it is asked before you act.")
        setup_ui(s, lesson, index, step, wait)
        if tick is not None:
            runs = ", ".join(f"#{n}" for n in tick.runs)
            st.success(f"Done{f' by run {runs}' if runs else ''}: {text.message(tick.evidence)}"
                       + (" (imported)" if tick.imported else ""), icon=":material/check_circle:")
        else:
            check_ui(s, lesson, index, step, progress, wait)


def lesson_ui(s, lesson, progress, blocked: str | None) -> None:
    """The lesson's heading and its steps, in order."""
    checked = [i for i, step in enumerate(lesson.steps) if step.check is not None]
    done = sum((lesson.id, i) in progress.ticks for i in checked)
    st.title(lesson.title)
    st.caption(f"{lesson.topic} · about {lesson.minutes} minutes · {done} of {len(checked)} checked steps done")
    st.markdown(lesson.summary)
    for index, step in enumerate(lesson.steps):
        step_ui(s, lesson, index, step, progress, blocked)
