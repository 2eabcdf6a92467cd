"""The Class page's Lessons tab in AppTest: the teacher assigns lessons and challenges, sees the students × steps
grid and the challenges' leaderboards from the real store (ticks and results checked by the engine on real short
runs), defines a custom challenge (a field out of range refused, named, the form kept); the board shows the grid
and leaderboards read-only; students and the board never see the controls."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine import workspace as store_mod
from tests.engine.lesson_runs import mlp, train
from ui.core import workspace

ROOT = Path(__file__).resolve().parents[3]
CLASS = str(ROOT / "views" / "6_Class.py")
XOR = "perceptron-xor"  # 3 steps: 0 a single layer at most 80%, 1 one hidden layer ≥ 95%, 2 a prediction; challenge
SPEC = {"input": [2], "layers": [{"type": "Linear", "out_features": 2}]}
CONTROLS = ("class-assign-lesson", "class-assign-lesson-go", "class-assign-challenge", "class-assign-challenge-go",
            "class-challenge-add")


def _store():
    return store_mod.get_store()


@pytest.fixture(scope="module")
def runs():
    """Real short seeded runs: a perceptron and a one-hidden-layer net on xor, a small net on spiral."""
    return {"perceptron": train(1, mlp("perceptron", [2], []), dataset="xor", epochs=20),
            "hidden": train(2, mlp("one-hidden-layer", [2], [8]), dataset="xor", epochs=20, lr=0.03),
            "spiral": train(3, mlp("small", [2], [10, 10]), dataset="spiral", epochs=20, lr=0.03)}


def _lessons_tab(**params) -> AppTest:
    at = AppTest.from_file(CLASS, default_timeout=60)
    at.query_params.update(params)
    at.session_state["class_tab"] = at.query_params["class_tab"] = "Lessons"
    at.run()
    assert not at.exception
    return at


def _keys(at) -> set[str]:
    return {w.key for kind in ("button", "selectbox", "number_input", "text_input", "multiselect")
            for w in at.get(kind) if getattr(w, "key", None)}


def _grid(at) -> dict[str, list[str]]:
    """The one lesson grid on the page: student -> the cells, step by step."""
    (table,) = [df.value for df in at.dataframe if "step 1" in df.value.columns]
    return {r["student"]: [r[c] for c in table.columns if c.startswith("step ")] for r in table.to_dict("records")}


def _leaderboards(at) -> list:
    return [df.value for df in at.dataframe if {"rank", "run"} <= set(df.value.columns)]  # not the class ranking


def test_an_empty_class_shows_the_lessons_tab_and_who_has_not_joined():
    teacher, _ = workspace.create_class("Empty")
    at = _lessons_tab(teacher=teacher)
    assert any("Nobody has joined yet" in i.value for i in at.info)
    assert any("Nothing assigned yet" in c.value for c in at.caption)
    assert set(CONTROLS) <= _keys(at)


def test_the_grid_and_leaderboard_show_what_the_engine_checked(runs):
    teacher, code = _store().create_class("Period 3")
    ada, bob, ada2 = (_store().create(spec=SPEC) for _ in range(3))
    for token, name in ((ada, "Ada"), (bob, "Bob *b*"), (ada2, "Ada")):
        _store().join_class(code, name, token)
        for run in runs.values():
            _store().save_run(token, run)
    _store().assign(teacher, "lesson", XOR)
    _store().assign(teacher, "challenge", XOR)
    assert _store().tick_step(ada, XOR, 0).passed and _store().tick_step(ada, XOR, 1).passed
    _store().record_prediction(bob, XOR, 2, "x1 + x2")
    assert _store().post_challenge(bob, XOR, 3).counts  # the small net on spiral: 162 parameters
    assert not _store().post_challenge(ada, XOR, 2).counts  # trained on xor: does not count

    at = _lessons_tab(teacher=teacher)
    assert _grid(at) == {"Ada": ["✓", "✓", "·"], "Ada (2)": ["·", "·", "·"], "Bob *b*": ["·", "·", "?"]}
    assert any("✓" in c.value and "ticked" in c.value and "predicted" in c.value for c in at.caption)  # the legend
    (board,) = _leaderboards(at)
    assert board.to_dict("records") == [{
        "rank": 1, "student": "Bob *b*", "test accuracy": f"{100 * runs['spiral'].results['accuracy']:.1f}%",
        "goal met": "✓" if runs["spiral"].results["accuracy"] >= 0.9 else "", "parameters": "162", "run": "#3",
        "when": board.loc[0, "when"]}]
    assert board.loc[0, "when"] in ("just now", "1 min ago")

    _store().tick_step(ada2, XOR, 0)  # live: the next poll shows it
    at.run()
    assert _grid(at)["Ada (2)"] == ["✓", "·", "·"]

    projected = _lessons_tab(board=_store().class_board(teacher))  # the board: the same, read-only
    assert _grid(projected) == _grid(at)
    assert [b.to_dict("records") for b in _leaderboards(projected)] == [board.to_dict("records")]


def test_the_teacher_assigns_and_takes_off_lessons_and_challenges():
    teacher, code = workspace.create_class("Assigning")
    _store().join_class(code, "Ada", _store().create(spec=SPEC))
    at = _lessons_tab(teacher=teacher)
    at.selectbox(key="class-assign-lesson").set_value(XOR).run()
    at.button(key="class-assign-lesson-go").click().run()
    at.selectbox(key="class-assign-challenge").set_value(XOR).run()
    at.button(key="class-assign-challenge-go").click().run()
    assert not at.exception
    seen = _store().class_assignments(teacher_token=teacher)
    assert seen.lessons == (XOR,) and [c.key for c in seen.challenges] == [XOR]
    assert XOR not in at.selectbox(key="class-assign-lesson").options  # not offered twice
    assert set(_grid(at)) == {"Ada"} and len(_leaderboards(at)) == 0  # no result yet: no table
    assert any("No valid result yet" in c.value for c in at.caption)

    at.button(key=f"class-unassign-lesson-{XOR}").click().run()
    at.button(key=f"class-unassign-challenge-{XOR}").click().run()
    assert not at.exception
    seen = _store().class_assignments(teacher_token=teacher)
    assert seen.lessons == () and seen.challenges == ()
    assert any("Taken off the class" in s.value for s in at.success)
    assert at.session_state["class_tab"] == "Lessons" and at.query_params["class_tab"] == "Lessons"  # tab kept


def _fill(at, **fields) -> None:
    for name, value in fields.items():
        widget = next(w for kind in ("text_input", "text_area", "selectbox", "number_input", "multiselect")
                      for w in at.get(kind) if getattr(w, "key", None) == f"class-challenge-{name}")
        widget.set_value(value)


def test_a_custom_challenge_is_stored_and_a_field_out_of_range_is_refused_by_name():
    teacher, _ = workspace.create_class("Custom")
    at = _lessons_tab(teacher=teacher)
    _fill(at, title="Tiny xor", dataset="xor", metric="test_accuracy", threshold=0.9, max_parameters=0,
          max_epochs=30, allowed_layers=["Linear", "Tanh"])
    at.button(key="class-challenge-add").click().run()
    assert not at.exception
    (error,) = at.error
    assert "max_parameters" in error.value and "below the smallest allowed" in error.value
    assert _store().class_assignments(teacher_token=teacher).challenges == ()
    assert at.text_input(key="class-challenge-title").value == "Tiny xor"  # what was typed stays
    assert at.number_input(key="class-challenge-max_parameters").value == 0

    _fill(at, max_parameters=50, threshold=1.5)  # an accuracy above 1
    at.button(key="class-challenge-add").click().run()
    assert "threshold" in at.error[0].value and "0 to 1" in at.error[0].value

    _fill(at, threshold=0.9)
    at.button(key="class-challenge-add").click().run()
    assert not at.exception and not at.error
    (challenge,) = _store().class_assignments(teacher_token=teacher).challenges
    assert (challenge.key, challenge.title, challenge.dataset, challenge.threshold, challenge.max_parameters,
            challenge.max_epochs, challenge.allowed_layers) == ("custom-1", "Tiny xor", "xor", 0.9, 50, 30,
                                                                ("Linear", "Tanh"))
    assert any("Leaderboard" in m.value and "Tiny xor" in m.value for m in at.markdown)

    at.button(key="class-unassign-challenge-custom-1").click().run()  # deleting asks first
    assert len(_store().class_assignments(teacher_token=teacher).challenges) == 1
    assert any("Delete your challenge" in w.value for w in at.warning)
    at.button(key="class-delete-challenge-custom-1").click().run()
    assert not at.exception and _store().class_assignments(teacher_token=teacher).challenges == ()


def test_students_and_the_board_never_get_the_teacher_controls():
    teacher, code = workspace.create_class("Private")
    member = _store().create(spec=SPEC)
    _store().join_class(code, "Ada", member)
    _store().assign(teacher, "lesson", XOR)
    at = _lessons_tab(ws=member)
    assert not _keys(at) & set(CONTROLS)
    assert not [df for df in at.dataframe if "step 1" in df.value.columns]
    at = _lessons_tab(board=_store().class_board(teacher))
    assert not _keys(at) & set(CONTROLS)
    assert _grid(at) == {"Ada": ["·", "·", "·"]}  # the board shows the assigned lesson's grid, read-only


def test_a_board_of_a_class_set_nothing_shows_no_lessons():
    teacher, code = workspace.create_class("Nothing set")
    _store().join_class(code, "Ada", _store().create(spec=SPEC))
    at = _lessons_tab(board=_store().class_board(teacher))
    assert not [df for df in at.dataframe if "step 1" in df.value.columns] and not _leaderboards(at)


BAD_FIELDS = [("title", "", "missing"), ("description", "x" * 1001, "above the largest"),
              ("threshold", -0.1, "below the smallest"), ("threshold", 1001.0, "above the largest"),
              ("threshold", 1.01, "0 to 1"), ("max_parameters", 10**12, "above the largest"),
              ("max_epochs", -1, "below the smallest"), ("max_epochs", 1001, "above the largest"),
              ("max_bottleneck", 0, "below the smallest")]


def test_each_out_of_range_field_of_the_form_is_refused_by_name_and_nothing_is_stored():
    teacher, _ = workspace.create_class("Hostile")
    at = _lessons_tab(teacher=teacher)
    valid = {"title": "T", "description": "", "dataset": "xor", "metric": "test_accuracy", "threshold": 0.9,
             "max_parameters": None, "max_epochs": None, "max_bottleneck": None}
    for field, value, words in BAD_FIELDS:
        _fill(at, **{**valid, field: value})
        at.button(key="class-challenge-add").click().run()
        assert not at.exception, field
        assert len(at.error) == 1, (field, value)
        error = at.error[0]
        assert f"challenge.{field}" in error.value and words in error.value, (field, error.value)
    assert _store().class_assignments(teacher_token=teacher).challenges == ()
