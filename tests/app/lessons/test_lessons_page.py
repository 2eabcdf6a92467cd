"""The Lessons page in AppTest: lessons by topic (the class's first), load errors shown, a lesson kept in the
address, predictions kept and revealed, Check my work refused without a passing run and ticked by a real one,
the ticks kept through a reload, unsaved work never replaced without asking, a challenge's Submit, saving off."""
import pytest

import engine
from engine import lessons
from engine.workspace import StoreUnavailable
from tests.app.lessons.lesson_pages import ROOT, lessons_page, session, store, stored_run, texts, token
from tests.bad_inputs.test_rendering import HOSTILE, _assert_inert
from ui.core import database

XOR = "perceptron-xor"
RIGHT = "about 50 to 75%: no straight line separates the classes"


def test_every_lesson_is_listed_under_its_topic_with_minutes_and_summary():
    at = lessons_page()
    catalogue = lessons.catalogue()
    shown = texts(at)
    for topic, found in catalogue.by_topic().items():
        assert topic in [h.value for h in at.subheader]
        for lesson in found:
            assert at.button(key=f"lessons-open-topic-{lesson.id}")
            assert lesson.title in shown and lesson.summary in shown and f"about {lesson.minutes} minutes" in shown


def test_lessons_set_by_the_class_come_first():
    teacher, code = store().create_class("Period 3")
    at = lessons_page()
    store().join_class(code, "Ada", token(at))
    store().assign(teacher, "lesson", "through-time")
    at = lessons_page(ws=token(at))  # a reload: the class is read when the workspace opens
    headings = [h.value for h in at.subheader]
    assert headings[0].endswith("Set by your teacher")
    assert at.button(key="lessons-open-assigned-through-time")
    assert not [b for b in at.button if b.key == "lessons-open-topic-through-time"]  # listed once


def test_a_broken_lesson_file_is_named_and_the_others_still_list(tmp_path, monkeypatch):
    source = (ROOT / "lessons" / "01-perceptron-xor.toml").read_text()
    (tmp_path / "01-good.toml").write_text(source)
    (tmp_path / "02-bad.toml").write_text(source.replace('name = "run_accuracy"', 'name = "nope"', 1)
                                          .replace('id = "perceptron-xor"', 'id = "broken"'))
    folder = lessons.load_folder(tmp_path)
    monkeypatch.setattr(lessons, "catalogue", lambda reload=False: folder)
    at = lessons_page()
    warning = " ".join(w.value for w in at.warning)
    assert "02-bad.toml" in warning and "steps[0].check.name" in warning and "nope" in warning
    assert at.button(key=f"lessons-open-topic-{XOR}")


def test_an_opened_lesson_is_kept_in_the_address_and_a_reload_reopens_it():
    at = lessons_page()
    at.button(key=f"lessons-open-topic-{XOR}").click().run()
    assert at.query_params["lesson"] == [XOR] or at.query_params["lesson"] == XOR
    assert at.title[0].value == "The perceptron and XOR"
    again = lessons_page(lesson=XOR, ws=token(at))
    assert again.title[0].value == "The perceptron and XOR"
    again.switch_page("views/3_Train.py").run()  # the sidebar's links drop the lesson from the address
    del again.query_params["lesson"]
    again.switch_page("views/7_Lessons.py").run()
    assert again.title[0].value == "The perceptron and XOR"  # back where the student left
    again.button(key="lessons-back").click().run()
    assert "lesson" not in again.query_params and again.title[0].value == "Lessons"
    again.switch_page("views/3_Train.py").run()
    again.switch_page("views/7_Lessons.py").run()
    assert again.title[0].value == "Lessons"


def test_an_unknown_lesson_in_the_address_says_so_and_lists_the_rest():
    at = lessons_page(lesson="no-such-lesson")
    assert "no-such-lesson" in at.error[0].value
    assert at.title[0].value == "Lessons"


def test_a_prediction_is_asked_first_kept_once_and_the_answer_revealed():
    at = lessons_page(lesson=XOR)
    assert at.button(key="lesson-setup-0").disabled  # asked before acting
    assert "**Answer:**" not in texts(at)  # revealed only once kept
    at.button(key="lesson-predict-save-0").click().run()  # nothing chosen
    assert "Choose or type your prediction first" in texts(at)
    at.radio(key="lesson-predict-0").set_value("about 100%").run()
    at.button(key="lesson-predict-save-0").click().run()
    assert not at.exception
    guess = store().lesson_progress(token(at)).predictions[(XOR, 0)]
    assert guess.answer == "about 100%" and not guess.correct
    shown = texts(at)
    assert "Your prediction: about 100%" in shown and f"**Answer:** {RIGHT}" in shown
    assert not [r for r in at.radio if r.key == "lesson-predict-0"]  # kept once: not asked again
    assert not at.button(key="lesson-setup-0").disabled


def test_a_number_prediction_is_kept_with_whether_it_is_right():
    at = lessons_page(lesson="deep-sigmoid")
    at.number_input(key="lesson-predict-0").set_value(0.15).run()
    at.button(key="lesson-predict-save-0").click().run()
    guess = store().lesson_progress(token(at)).predictions[("deep-sigmoid", 0)]
    assert guess.answer == pytest.approx(0.15) and guess.correct  # 0.1 ± 0.1
    assert "Your prediction: 0.15" in texts(at)


def test_check_my_work_is_refused_without_a_run_and_ticks_after_a_real_run_then_a_reload_keeps_it():
    at = lessons_page(lesson=XOR)
    ws = token(at)
    store().record_prediction(ws, XOR, 0, RIGHT)
    at.run()
    at.button(key="lesson-check-0").click().run()
    assert "Not yet" in texts(at) and store().lesson_progress(ws).ticks == {}
    spec = lessons.catalogue().get(XOR).steps[0].setup.spec
    store().save_run(ws, stored_run(1, spec, dataset="xor", epochs=20))  # the lesson's own settings, seeded
    at.button(key="lesson-check-0").click().run()
    tick = store().lesson_progress(ws).ticks[(XOR, 0)]
    assert tick.runs == (1,)
    assert "Done by run #1: Run 1 reached" in texts(at) and "Not yet" not in texts(at)
    assert not [b for b in at.button if b.key == "lesson-check-0"]  # done: no button
    reloaded = lessons_page(lesson=XOR, ws=ws)  # a fresh session on the same workspace
    assert "Done by run #1" in texts(reloaded)
    assert not [b for b in reloaded.button if b.key == "lesson-check-0"]
    assert [b for b in reloaded.button if b.key == "lesson-check-1"]  # the next step is still to do


def test_set_it_up_asks_before_replacing_a_network_no_run_kept():
    at = lessons_page(lesson=XOR)
    mine = engine.ModelSpec.from_dict({"name": "my-net", "input": [2], "layers": [
        {"type": "Linear", "out_features": 5}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]})
    session(at).set_spec(mine)
    store().record_prediction(token(at), XOR, 0, RIGHT)
    at.run()
    at.button(key="lesson-setup-0").click().run()
    assert at.title[0].value == "The perceptron and XOR"  # still here: asked first
    warning = " ".join(w.value for w in at.warning)
    assert "my-net" in warning and "perceptron" in warning
    at.button(key="lesson-confirm-no-0").click().run()
    assert session(at).spec == mine and not at.warning
    at.button(key="lesson-setup-0").click().run()
    at.button(key="lesson-confirm-yes-0").click().run()
    assert not at.exception and at.title[0].value == "Train"
    assert session(at).spec.name == "perceptron"


def test_a_network_kept_by_a_run_is_replaced_without_asking():
    ws = token(lessons_page())
    mine = {"name": "my-net", "input": [2], "layers": [{"type": "Linear", "out_features": 5}, {"type": "ReLU"},
                                                        {"type": "Linear", "out_features": 2}]}
    store().save(ws, spec=mine)
    store().save_run(ws, stored_run(1, mine, dataset="xor", epochs=2))  # run 1 keeps my-net
    at = lessons_page(lesson=XOR, ws=ws)
    assert session(at).spec.name == "my-net"
    at.button(key="lesson-setup-1").click().run()
    assert not at.exception and at.title[0].value == "Train"
    assert session(at).spec.name == "one-hidden-layer"


def test_a_submitted_run_is_judged_by_the_challenge_and_the_best_kept():
    ws = token(lessons_page())
    small = {"name": "small", "input": [2], "layers": [
        {"type": "Linear", "out_features": 10}, {"type": "Tanh"}, {"type": "Linear", "out_features": 10},
        {"type": "Tanh"}, {"type": "Linear", "out_features": 2}]}  # 162 parameters
    big = {"name": "big", "input": [2], "layers": [{"type": "Linear", "out_features": 64}, {"type": "Tanh"},
                                                    {"type": "Linear", "out_features": 2}]}  # 322: too many
    store().save_run(ws, stored_run(1, small, dataset="spiral", epochs=20, lr=0.03))
    store().save_run(ws, stored_run(2, big, dataset="spiral", epochs=2))
    at = lessons_page(lesson=XOR, ws=ws)
    assert "at most 200 parameters" in texts(at)
    at.selectbox(key=f"lesson-challenge-run-{XOR}").set_value(2).run()
    at.button(key=f"lesson-challenge-post-{XOR}").click().run()
    assert "Run #2 does not count" in texts(at) and "parameters" in texts(at)
    assert XOR not in store().lesson_progress(ws).bests
    at.selectbox(key=f"lesson-challenge-run-{XOR}").set_value(1).run()
    at.button(key=f"lesson-challenge-post-{XOR}").click().run()
    best = store().lesson_progress(ws).bests[XOR]
    assert best.run == 1 and best.parameters == 162
    assert f"Your best: run #1, {best.value:.4g} with 162 parameters" in texts(at)


def test_the_page_says_so_and_keeps_working_while_saving_is_off(monkeypatch):
    def down():
        raise StoreUnavailable("the database is down")

    monkeypatch.setattr(database, "opened", down)
    monkeypatch.setattr(database, "services", lambda: (None, None))
    at = lessons_page(lesson=XOR)
    assert "Saving is off" in " ".join(i.value for i in at.info)
    assert at.button(key="lesson-predict-save-0").disabled and at.button(key="lesson-setup-0").disabled
    assert at.button(key="lesson-check-1").disabled


def test_user_strings_on_the_page_show_as_text():
    at = lessons_page(lesson=HOSTILE)  # an address edited by hand
    _assert_inert(at)
    # a network named by the student, never trained (names take no brackets or tags: a bare address is left)
    hostile = {"name": "net www.x.invalid", "input": [2], "layers": [{"type": "Linear", "out_features": 3}]}
    session(at).set_spec(engine.ModelSpec.from_dict(hostile))
    at.query_params["lesson"] = XOR
    at.run()
    store().record_prediction(token(at), XOR, 0, RIGHT)
    at.run()
    at.button(key="lesson-setup-0").click().run()
    assert at.button(key="lesson-confirm-yes-0")  # asked first, naming the network as typed
    _assert_inert(at)


def test_a_custom_challenge_of_the_class_is_listed_first_with_its_title_as_text():
    teacher, code = store().create_class("Period 4")
    ws = token(lessons_page())
    store().join_class(code, "Grace", ws)
    key = store().add_challenge(teacher, {"title": f"xor {HOSTILE}", "dataset": "xor", "metric": "test_accuracy",
                                          "threshold": 0.9, "max_parameters": 50})
    store().save_run(ws, stored_run(1, lessons.catalogue().get(XOR).steps[1].setup.spec, dataset="xor", epochs=20,
                                    lr=0.03))
    at = lessons_page(ws=ws)
    assert at.subheader[0].value.endswith("Set by your teacher")
    _assert_inert(at)
    assert "at most 50 parameters" in texts(at)
    at.button(key=f"lesson-challenge-post-{key}").click().run()
    assert store().lesson_progress(ws).bests[key].run == 1  # 8·2+8 + 8·2+2 = 42 parameters: it counts
