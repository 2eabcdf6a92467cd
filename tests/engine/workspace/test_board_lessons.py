"""The class board's lessons, read-only: the grid and the assigned challenges' leaderboards through the board's
token, in one store call; the board's token opens no teacher's action."""
import pytest
from lesson_runs import mlp, train

from engine.lessons import LessonError
from engine.workspace import MalformedToken, UnknownToken

SPEC = {"input": [2], "layers": [{"type": "Linear", "out_features": 2}]}
XOR = "perceptron-xor"


def test_the_board_shows_the_teachers_grid_and_leaderboards(store):
    teacher, code = store.create_class("Period 3")
    ada, bob = store.create(spec=SPEC), store.create(spec=SPEC)
    store.join_class(code, "Ada", ada)
    store.join_class(code, "Bob", bob)
    store.assign(teacher, "lesson", XOR)
    store.assign(teacher, "challenge", XOR)
    custom = store.add_challenge(teacher, {"title": "Any xor", "dataset": "xor", "metric": "test_loss",
                                           "threshold": 0.5})
    store.save_run(ada, train(1, mlp("perceptron", [2], []), dataset="xor", epochs=5))
    assert store.tick_step(ada, XOR, 0).passed
    assert store.post_challenge(ada, custom, 1).counts
    board = store.class_board(teacher)

    grid, boards = store.board_lessons(board)
    assert grid == store.progress_grid(teacher)
    assert [(c.key, entries) for c, entries in boards] == [(XOR, store.leaderboard(teacher, XOR)),
                                                           (custom, store.leaderboard(teacher, custom))]
    assert [e.display_name for e in boards[1][1]] == ["Ada"]
    for action in (lambda: store.assign(board, "lesson", XOR), lambda: store.progress_grid(board),
                   lambda: store.add_challenge(board, {"title": "x", "dataset": "xor", "metric": "test_loss",
                                                       "threshold": 1})):
        with pytest.raises((UnknownToken, LessonError)):
            action()  # the board's token is no teacher's


def test_a_board_with_nothing_assigned_shows_no_grid(store):
    teacher, code = store.create_class("Nothing set")
    store.join_class(code, "Ada", store.create(spec=SPEC))
    grid, boards = store.board_lessons(store.class_board(teacher))
    assert (grid.columns, [(r.display_name, r.cells) for r in grid.rows], boards) == ((), [("Ada", {})], [])
    assert store.progress_grid(teacher).columns  # the teacher's grid follows every lesson meanwhile


def test_a_wrong_board_token_gets_the_boards_message(store):
    with pytest.raises(UnknownToken, match="No class board has this link"):
        store.board_lessons("A" * 43)
    with pytest.raises(MalformedToken, match="class board link is damaged"):
        store.board_lessons("guess")
