"""Presenter mode: a lesson step's Set it up opens its page with the step's explanation beside the page's chart
(Train's curves, Inspect's tab, the Gradients lab's chart); without presenter mode the page is as before."""
import pytest

from engine import lessons
from tests.app.lessons.lesson_pages import set_up, texts
from ui.lessons import setup


def _set_up(lesson_id, index, **params):
    at = set_up(lesson_id, index, **params)
    at.switch_page(setup.target(lessons.catalogue().get(lesson_id).steps[index].setup)[0])  # AppTest's next runs
    return at  # are of its own page again, not of the one the button switched to: make it that one


def _has_hide(at) -> bool:
    return any(button.key == "present-step-hide" for button in at.button)


@pytest.mark.parametrize("lesson_id, index, title", [
    ("perceptron-xor", 0, "Train"),
    ("autoencoders", 1, None),  # Inspect, at its Codes tab
    ("deep-sigmoid", 1, "Vanishing and exploding gradients"),  # Gradients, Through depth
])
def test_in_presenter_mode_the_step_is_explained_beside_its_chart(lesson_id, index, title):
    lesson = lessons.catalogue().get(lesson_id)
    step = lesson.steps[index]
    at = _set_up(lesson_id, index, present="1")
    if title:
        assert at.title[0].value == title
    shown_title = at.title[0].value
    assert f"{lesson.title}, step {index + 1}: {step.title}" in texts(at)
    assert step.explanation.strip().splitlines()[0] in texts(at) and _has_hide(at)
    at.button(key="present-step-hide").click().run()  # put away: the chart has the page again
    assert not at.exception and not _has_hide(at) and at.title[0].value == shown_title  # the same page
    assert f"{lesson.title}, step {index + 1}: {step.title}" not in texts(at)


def test_without_presenter_mode_the_page_is_as_before_and_the_step_waits_for_it():
    step = lessons.catalogue().get("perceptron-xor").steps[0]
    at = _set_up("perceptron-xor", 0)
    assert not _has_hide(at) and step.title not in texts(at)
    at.toggle(key="present").set_value(True).run()  # turned on later on that page: the step shows
    assert at.title[0].value == "Train"
    assert not at.exception and _has_hide(at) and step.title in texts(at)


def test_the_step_shows_on_its_own_page_and_tab_only():
    at = _set_up("autoencoders", 1, present="1")  # Inspect, Codes
    assert _has_hide(at)
    at.switch_page("views/3_Train.py").run()
    assert not at.exception and not _has_hide(at)
    at.switch_page("views/4_Inspect.py").run()
    assert _has_hide(at)
