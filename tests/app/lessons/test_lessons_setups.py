"""Every step's Set it up, of every lesson, applied to a fresh workspace: its page opens at its tab with no
exception, holding the step's network, data and settings (the Train page's widgets show them) or lab settings."""
import time

import pytest

import engine
from engine import lessons
from engine.training import TrainConfig
from tests.app.lessons.lesson_pages import lessons_page, session, set_up, store, token

SETUPS = [(lesson.id, index) for lesson in lessons.catalogue().lessons
          for index, step in enumerate(lesson.steps) if step.setup is not None]
TITLES = {"Train": "Train", "Build": None, "Convolution": "Convolution, step by step", "Inspect": None,
          "Gradients": "Vanishing and exploding gradients"}
FIELDS = ("epochs", "seed", "optimizer", "learning_rate", "momentum", "weight_decay", "init", "early_stopping",
          "patience", "noise")
TABS = {"Convolution": "conv_tab", "Inspect": "inspect_tab", "Gradients": "gradients_tab"}


def _param(at, name):
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value


@pytest.mark.parametrize(("lesson_id", "index"), SETUPS, ids=[f"{lesson}-{i + 1}" for lesson, i in SETUPS])
def test_set_it_up_opens_its_page_with_its_settings(lesson_id, index):
    lesson = lessons.catalogue().get(lesson_id)
    setup = lesson.steps[index].setup
    at = set_up(lesson_id, index)
    page = setup.page or "Train"
    if TITLES.get(page):
        assert at.title[0].value == TITLES[page]
    if setup.tab:  # the first tab is kept out of the address
        assert _param(at, TABS[page]) in (setup.tab, None) and at.session_state[TABS[page]] == setup.tab
    s = session(at)
    assert f"Lesson “{lesson.title}”, step {index + 1} is set up" in " ".join(i.value for i in at.info)
    if setup.spec is not None:
        assert s.spec.to_dict() == engine.ModelSpec.from_dict(setup.spec).to_dict()
    if setup.dataset:
        config, wanted = TrainConfig.from_dict(s.settings["train"]), setup.config()
        # the page adds the widgets' own values (the dataset's default options): the set-up's are all there
        assert config.dataset == setup.dataset
        assert {k: config.dataset_options[k] for k in setup.dataset_options} == setup.dataset_options
        assert [getattr(config, f) for f in FIELDS] == [getattr(wanted, f) for f in FIELDS]
        if page == "Train":  # its widgets show them
            assert at.selectbox(key="tr-dataset").value == setup.dataset
            assert at.number_input(key="tr-epochs").value == setup.settings["epochs"]
    if setup.depth_lab:
        assert at.slider(key="depth-depth").value == setup.depth_lab["depth"]
        assert at.selectbox(key="depth-activation").value == setup.depth_lab["activation"]
        assert at.toggle(key="depth-residual").value == setup.depth_lab.get("residual", False)
    if setup.time_lab:
        assert at.selectbox(key="time-cell").value == setup.time_lab["cell"]
        assert at.slider(key="time-T").value == setup.time_lab["T"]
        if "radius" in setup.time_lab:
            assert at.slider(key="time-radius").value == pytest.approx(setup.time_lab["radius"])
        if "clip" in setup.time_lab:
            assert at.toggle(key="time-clip-on").value == (setup.time_lab["clip"] > 0)


def test_a_later_lab_set_up_resets_what_an_earlier_one_changed():
    at = lessons_page(lesson="deep-sigmoid")
    ws = token(at)
    store().record_prediction(ws, "deep-sigmoid", 3, "its gradient has a 1 + term")
    at.run()
    at.button(key="lesson-setup-3").click().run()  # residual shortcuts on
    assert at.toggle(key="depth-residual").value
    at.toggle(key="depth-bn").set_value(True).run()  # the student plays with the lab
    at.switch_page("views/7_Lessons.py").run()
    at.button(key="lesson-setup-1").click().run()  # the plain sigmoid stack again
    assert not at.exception
    assert not at.toggle(key="depth-residual").value and not at.toggle(key="depth-bn").value
    assert at.slider(key="depth-depth").value == 10



def test_a_depth_lab_run_started_after_set_it_up_ticks_its_step():
    """The whole loop through the pages: Set it up opens the depth lab, Start trains it (seconds), Check my work
    back on the Lessons page finds the stored run (the session's queued save is flushed first)."""
    at = lessons_page(lesson="deep-sigmoid")
    at.button(key="lesson-setup-1").click().run()
    at.button(key="depth-start").click().run()
    s = session(at)
    end = time.monotonic() + 120
    while any(run.live for run in s.book.runs) and time.monotonic() < end:
        time.sleep(0.2)
    try:
        assert [(run.group, run.state) for run in s.book.runs] == [("depth", "finished")]
        at.switch_page("views/7_Lessons.py").run()
        at.button(key="lesson-check-1").click().run()
        assert not at.exception
        tick = store().lesson_progress(token(at)).ticks[("deep-sigmoid", 1)]
        assert tick.runs == (s.book.runs[0].number,)
        assert f"Done by run #{tick.runs[0]}" in " ".join(x.value for x in at.success)
    finally:
        for run in s.book.runs:
            run.trainer.stop()


def test_the_codes_step_opens_its_tab_on_a_fresh_workspace_and_keeps_a_trained_autoencoder():
    """Lesson 10's step 2 (Inspect, Codes) works on its own: a fresh workspace gets the autoencoder (the Codes tab
    exists only for one), and after step 1 the student's trained autoencoder stays trained for it."""
    at = lessons_page(lesson="autoencoders")
    store().record_prediction(token(at), "autoencoders", 1, "no")
    at.run()
    at.button(key="lesson-setup-1").click().run()
    assert not at.exception, at.exception
    assert "Codes" in [tab.label for tab in at.tabs] and at.session_state["inspect_tab"] == "Codes"
    s = session(at)
    assert s.spec.name == "autoencoder" and not s.trained
    s.set_model(engine.network.build(s.spec, seed=1), trained=True)  # as step 1's finished run leaves it
    weights = {k: v.clone() for k, v in s.model.state_dict().items()}
    at.switch_page("views/7_Lessons.py").run()
    at.button(key="lesson-setup-1").click().run()
    assert not at.exception and s.trained and at.session_state["inspect_tab"] == "Codes"
    assert all((s.model.state_dict()[k] == v).all() for k, v in weights.items())
    assert "untrained" not in " ".join(i.value for i in at.info)
