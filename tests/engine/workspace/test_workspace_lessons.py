"""Lesson progress in the store: a step is ticked only by its check passing on the stored runs; predictions,
challenge bests, the class's assignments, grid and leaderboards; progress through reopen, snapshots and files."""
import io
import json
import zipfile

import pytest
from alembic import command
from alembic.config import Config
from lesson_runs import WIDE, mlp, train
from sqlalchemy import func, select
from sqlalchemy import inspect as sql_inspect

from engine.lessons import LessonError
from engine import limits
from engine.workspace import BadWorkspaceFile, CapReached, ReadOnlyWorkspace, Store, WorkspaceError
from engine.workspace.database import MIGRATIONS
from engine.workspace.schema import AssignmentRow, ProgressRow

SPEC = {"input": [2], "layers": [{"type": "Linear", "out_features": 2}]}
XOR = "perceptron-xor"  # step 0: one layer at most 80%; step 1: one hidden layer at least 95%; challenge: spiral


@pytest.fixture(scope="module")
def runs():
    """Real short runs: a perceptron and a one-hidden-layer net on xor, small and wide nets on spiral."""
    return {"perceptron": train(1, mlp("perceptron", [2], []), dataset="xor", epochs=20),
            "hidden": train(2, mlp("one-hidden-layer", [2], [8]), dataset="xor", epochs=20, lr=0.03),
            "spiral": train(3, mlp("small", [2], [10, 10]), dataset="spiral", epochs=20, lr=0.03),
            "spiral_wide": train(4, WIDE, dataset="spiral", epochs=3)}


def test_a_step_is_ticked_only_by_a_stored_run_that_passes_its_check(store, runs):
    token = store.create(spec=SPEC)
    verdict = store.tick_step(token, XOR, 1)  # nothing stored yet
    assert not verdict.passed and store.lesson_progress(token).ticks == {}
    store.save_run(token, runs["perceptron"])
    assert not store.tick_step(token, XOR, 1).passed  # 1 run, and it is no one-hidden-layer net at 95%
    assert store.lesson_progress(token).status(XOR, 1) == "not started"
    verdict = store.tick_step(token, XOR, 0)
    assert verdict.passed and verdict.runs == (1,)
    tick = store.lesson_progress(token).ticks[(XOR, 0)]
    assert tick.runs == (1,) and "Run 1" in tick.evidence and not tick.imported
    store.save_run(token, runs["hidden"])
    assert store.tick_step(token, XOR, 1).runs == (2,)
    assert store.lesson_progress(token).status(XOR, 1) == "ticked"


def test_a_deleted_or_failed_run_ticks_nothing(store, runs):
    token = store.create(spec=SPEC)
    store.save_run(token, type(runs["hidden"])(**{**runs["hidden"].__dict__, "state": "failed"}))
    assert not store.tick_step(token, XOR, 1).passed
    store.delete_run(token, 2)
    assert not store.tick_step(token, XOR, 1).passed and store.lesson_progress(token).ticks == {}


def test_unknown_lessons_steps_without_a_check_and_snapshots_are_refused(store, runs):
    token = store.create(spec=SPEC)
    with pytest.raises(LessonError, match="no lesson has the id 'nope'"):
        store.tick_step(token, "nope", 0)
    with pytest.raises(LessonError, match="steps 0 to 2"):
        store.tick_step(token, XOR, 3)
    with pytest.raises(LessonError, match="has no check"):
        store.tick_step(token, XOR, 2)
    store.save_run(token, runs["perceptron"])
    with pytest.raises(ReadOnlyWorkspace):
        store.tick_step(store.snapshot(token), XOR, 0)


def test_a_prediction_is_kept_once_with_its_answer_and_before_the_tick(store, runs):
    token = store.create(spec=SPEC)
    right = "about 50 to 75%: no straight line separates the classes"
    guess = store.record_prediction(token, XOR, 0, right)
    assert guess.correct and store.lesson_progress(token).status(XOR, 0) == "predicted"
    with pytest.raises(WorkspaceError, match="already predicted"):
        store.record_prediction(token, XOR, 0, "about 100%")
    assert store.lesson_progress(token).predictions[(XOR, 0)].answer == right
    with pytest.raises(LessonError, match="answer: choose one of the options"):
        store.record_prediction(token, XOR, 2, "x1 / x2")
    with pytest.raises(LessonError, match="asks no prediction"):
        store.record_prediction(token, XOR, 1, "x")
    assert not store.record_prediction(token, "deep-sigmoid", 0, 0.9).correct  # a number, outside 0.1 ± 0.1
    with pytest.raises(LessonError, match="give a number"):
        store.record_prediction(token, "deep-sigmoid", 0, float("nan"))
    store.save_run(token, runs["hidden"])
    store.tick_step(token, XOR, 1)
    with pytest.raises(LessonError):
        store.record_prediction(token, XOR, 1, "anything")  # step 1 asks none
    store.save_run(token, runs["perceptron"])
    store.tick_step(token, XOR, 0)
    assert store.lesson_progress(token).status(XOR, 0) == "ticked"


def test_a_predicted_step_already_ticked_refuses_a_late_prediction(store, runs):
    token = store.create(spec=SPEC)
    store.save_run(token, runs["perceptron"])
    assert store.tick_step(token, XOR, 0).passed
    with pytest.raises(WorkspaceError, match="already done"):
        store.record_prediction(token, XOR, 0, "about 100%")


def test_progress_survives_a_reopen_a_snapshot_a_copy_and_a_workspace_file(store, runs):
    token = store.create(spec=SPEC)
    store.save_run(token, runs["perceptron"])
    store.save_run(token, runs["spiral"])
    store.tick_step(token, XOR, 0)
    store.record_prediction(token, XOR, 2, "x1 · x2")
    store.post_challenge(token, XOR, 3)
    before = store.lesson_progress(token)
    assert set(before.bests) == {XOR} and before.bests[XOR].run == 3
    url = store.db.engine.url.render_as_string(hide_password=False)
    reopened = Store(url)
    try:
        assert reopened.lesson_progress(token) == before
    finally:
        reopened.db.dispose()
    for other in (store.snapshot(token), store.copy(token)):
        assert store.lesson_progress(other) == before
    imported = store.lesson_progress(store.import_zip(store.export_zip(token)))
    assert imported.ticks[(XOR, 0)].runs == (1,) and imported.ticks[(XOR, 0)].imported
    assert imported.predictions == before.predictions
    assert imported.bests[XOR].imported and imported.bests[XOR].value == before.bests[XOR].value


def _with_lessons(data: bytes, lessons) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "workspace.json":
                doc = json.loads(content)
                doc["lessons"] = lessons
                content = json.dumps(doc).encode()
            target.writestr(info.filename, content)
    return out.getvalue()


@pytest.mark.parametrize("lessons, words", [
    ("ticks", "'lessons' should be a list"),
    ([{"lesson": XOR, "step": 0, "kind": "cheat", "value": {}}], "'kind' should be one of"),
    ([{"lesson": XOR, "step": -1, "kind": "tick", "value": {}}], "'step' should be"),
    ([{"lesson": "", "step": 0, "kind": "tick", "value": {}}], "'lesson' should be"),
    ([{"lesson": XOR, "step": 0, "kind": "tick", "value": []}], "'value' should be an object"),
    ([{"lesson": XOR, "step": 0, "kind": "tick", "value": {}}] * 2, "repeats"),
    ([{"lesson": XOR, "step": 0, "kind": "tick", "value": {}, "extra": 1}], "should be an object with"),
])
def test_a_workspace_file_with_malformed_progress_is_refused(store, lessons, words):
    data = _with_lessons(store.export_zip(store.create(spec=SPEC)), lessons)
    with pytest.raises(BadWorkspaceFile, match=words):
        store.import_zip(data)


def test_a_class_assigns_lessons_and_challenges_and_sees_the_grid_and_leaderboards(store, runs):
    teacher, code = store.create_class("Period 3")
    ada, bob = store.create(spec=SPEC), store.create(spec=SPEC)
    store.join_class(code, "Ada", ada)
    store.join_class(code, "Bob", bob)
    store.assign(teacher, "lesson", XOR)
    store.assign(teacher, "challenge", XOR)
    with pytest.raises(LessonError, match="challenge.max_parameters: 0 is below"):
        store.add_challenge(teacher, {"title": "Tiny xor", "dataset": "xor", "metric": "test_accuracy",
                                      "threshold": 0.9, "max_parameters": 0})
    custom = store.add_challenge(teacher, {"title": "Tiny xor", "dataset": "xor", "metric": "test_accuracy",
                                           "threshold": 0.9, "max_parameters": 50, "max_epochs": 30})
    with pytest.raises(LessonError, match="no lesson"):
        store.assign(teacher, "lesson", "nope")
    seen = store.class_assignments(token=ada)
    assert seen.lessons == (XOR,) and [c.key for c in seen.challenges] == [XOR, custom]
    assert store.class_assignments(teacher_token=teacher) == seen
    assert store.class_assignments(token=store.create(spec=SPEC)).lessons == ()  # outside a class: nothing

    for token in (ada, bob):
        for name in ("perceptron", "hidden", "spiral", "spiral_wide"):
            store.save_run(token, runs[name])
    store.tick_step(ada, XOR, 0)
    store.tick_step(ada, XOR, 1)
    store.record_prediction(bob, XOR, 2, "x1 + x2")
    grid = store.progress_grid(teacher)
    assert grid.columns == ((XOR, 0), (XOR, 1), (XOR, 2))
    assert [(r.display_name, list(r.cells.values())) for r in grid.rows] == [
        ("Ada", ["ticked", "ticked", "not started"]), ("Bob", ["not started", "not started", "predicted"])]

    wide = store.post_challenge(ada, XOR, 4)  # too many parameters: not counted, not kept
    assert not wide.counts and "over 200" in " ".join(wide.reasons)
    assert not store.post_challenge(ada, XOR, 2).counts  # trained on xor
    assert store.lesson_progress(ada).bests == {}
    assert store.post_challenge(bob, XOR, 3).counts
    board = store.leaderboard(teacher, XOR)
    assert [(e.display_name, e.run, e.value) for e in board] == [("Bob", 3, runs["spiral"].results["accuracy"])]
    assert board[0].parameters == 162

    assert store.post_challenge(ada, custom, 2).counts  # 42 parameters on xor in 20 epochs
    assert not store.post_challenge(bob, custom, 3).counts  # spiral
    (entry,) = store.leaderboard(teacher, custom)
    assert (entry.display_name, entry.met) == ("Ada", runs["hidden"].results["accuracy"] >= 0.9)
    assert store.challenge(ada, custom).title == "Tiny xor"
    with pytest.raises(LessonError, match="no challenge"):
        store.challenge(store.create(spec=SPEC), custom)  # another class's custom challenge: not found


def test_a_better_result_replaces_the_best_and_a_worse_one_does_not(store, runs):
    token = store.create(spec=SPEC)
    worse = type(runs["spiral"])(**{**runs["spiral"].__dict__, "number": 9,
                                    "results": {"loss": 1.0, "accuracy": runs["spiral"].results["accuracy"] - 0.1}})
    store.save_run(token, worse)
    store.save_run(token, runs["spiral"])
    store.post_challenge(token, XOR, 9)
    assert store.lesson_progress(token).bests[XOR].run == 9
    store.post_challenge(token, XOR, 3)
    store.post_challenge(token, XOR, 9)
    assert store.lesson_progress(token).bests[XOR].run == 3
    with pytest.raises(WorkspaceError, match="no run number 42"):
        store.post_challenge(token, XOR, 42)


def test_the_lesson_tables_come_and_go_with_revision_0004(store):
    if store.db.engine.dialect.name != "sqlite":
        pytest.skip("the downgrade is exercised on SQLite; the upgrade runs on every database")
    token = store.create(spec=SPEC)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
        connection.commit()
        assert "lesson_progress" not in sql_inspect(connection).get_table_names()
        command.upgrade(config, "head")
        connection.commit()
        assert {"lesson_progress", "class_assignments"} <= set(sql_inspect(connection).get_table_names())
    assert store.lesson_progress(token).ticks == {}


def test_expired_workspaces_and_classes_take_their_progress_and_assignments_with_them(store, runs):
    teacher, code = store.create_class("Old")
    token = store.create(spec=SPEC)
    store.save_run(token, runs["perceptron"])
    store.tick_step(token, XOR, 0)
    store.assign(teacher, "lesson", XOR)
    store.expire(now=4_000_000_000.0)
    with store.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(ProgressRow)) == 0
        assert session.scalar(select(func.count()).select_from(AssignmentRow)) == 0


def test_custom_challenges_per_class_are_capped(store, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CUSTOM_CHALLENGES", 1)
    teacher, _ = store.create_class("Capped")
    form = {"title": "C", "dataset": "xor", "metric": "test_accuracy", "threshold": 0.9}
    assert store.add_challenge(teacher, form) == "custom-1"
    with pytest.raises(CapReached) as caught:
        store.add_challenge(teacher, form)
    assert caught.value.variable == "PLAYGROUND_MAX_CUSTOM_CHALLENGES"
    store.unassign(teacher, "challenge", "custom-1")
    assert store.add_challenge(teacher, form) == "custom-1"
