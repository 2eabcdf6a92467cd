"""Hostile lesson files and lesson requests: each refused with its path and field (the other lessons still load),
never a traceback; a step or a challenge result never stored without a stored run that passes."""
import pytest

from engine import lessons
from engine.lessons import LessonError, load_folder, parse_challenge
from engine.lessons.catalogue import FOLDER, MAX_FILE_BYTES
from engine.workspace import RunRecord, Store, WorkspaceError

HEAD = 'id = "x"\ntitle = "T"\ntopic = "Beyond"\nminutes = 5\nsummary = "S"\n'
STEPS = '[[steps]]\ntitle = "A"\nexplanation = "B. C."\n' * 3


@pytest.mark.parametrize("content, where, words", [
    (b"\x00\xff\xfe binary", "", "not valid TOML"),
    ("id = 'x'".encode("utf-16"), "", "not valid TOML"),
    (b"x" * (MAX_FILE_BYTES + 1), "", "a lesson file is at most"),
    ((HEAD.replace("minutes = 5", "minutes = nan") + STEPS).encode(), "minutes", "whole number"),
    ((HEAD.replace("minutes = 5", "minutes = inf") + STEPS).encode(), "minutes", "whole number"),
    ((HEAD.replace("minutes = 5", "minutes = 1e9") + STEPS).encode(), "minutes", "above the largest"),
    ((HEAD.replace('"x"', '"../etc/passwd"') + STEPS).encode(), "id", "lower-case letters"),
    ((HEAD.replace('"x"', '"custom-1"') + STEPS).encode(), "id", "not starting with"),
    ((HEAD + '[[steps]]\ntitle = "A"\nexplanation = "B. C."\n' * 500).encode(), "steps", "above the largest"),
    ((HEAD + STEPS + '[steps.setup]\nnetwork = { input = [2], layers = [' + '{ type = "Linear", out_features = 2 },'
      * 400 + '] }\n').encode(), "steps[2].setup.network", "not a valid network"),
    ((HEAD + STEPS + '[steps.setup]\nsettings = { epochs = -1 }\n').encode(), "steps[2].setup.settings", "epochs"),
    ((HEAD + STEPS + '[steps.setup]\ndataset = "spiral"\ndataset_options = { n = 1000000000 }\n').encode(),
     "steps[2].setup.dataset_options.n", "above the largest"),
    ((HEAD + STEPS + '[steps.setup]\ntab = "Filters"\n').encode(), "steps[2].setup.tab", "of page None"),
    ((HEAD + STEPS + '[steps.setup]\ntime_lab = { radius = 99.0 }\n').encode(), "steps[2].setup.time_lab.radius",
     "above the largest"),
    ((HEAD + STEPS + '[steps.check]\nname = "run_accuracy"\nparams = { at_least = "high" }\n').encode(),
     "steps[2].check.params.at_least", "should be a number"),
    ((HEAD + STEPS + '[steps.check]\nname = "run_accuracy"\nparams = { at_least = 0.5, dataset = ["xor"] }\n')
     .encode(), "steps[2].check.params.dataset", "should be text"),
    ((HEAD + STEPS + '[steps.check]\nname = "time_gradients"\nparams = { ratio_above = -1.0 }\n').encode(),
     "steps[2].check.params.ratio_above", "below the smallest"),
    ((HEAD + STEPS + '[steps.prediction]\nquestion = "Q"\nkind = "number"\n').encode(), "steps[2].prediction.value",
     "needs its value"),
    ((HEAD + STEPS + '[challenge]\ntitle = "C"\ndataset = "xor"\nmetric = "test_accuracy"\nthreshold = 0.9\n'
      'allowed_layers = ["Linear", "Flux"]\n').encode(), "challenge.allowed_layers[1]", "unknown value 'Flux'"),
])
def test_a_hostile_lesson_file_is_refused_with_its_path_and_field(tmp_path, content, where, words):
    (tmp_path / "01-good.toml").write_bytes((FOLDER / "01-perceptron-xor.toml").read_bytes())
    (tmp_path / "02-bad.toml").write_bytes(content)
    found = load_folder(tmp_path)
    assert [lesson.id for lesson in found.lessons] == ["perceptron-xor"]
    (error,) = found.errors
    assert error.where == where, error.message
    assert error.message.startswith(f"{tmp_path / '02-bad.toml'}: ") and words in error.message
    assert len(error.message) < 600  # a message, not the file read back


@pytest.mark.parametrize("form", [None, [], "spiral", {"title": "C", "dataset": "spiral", "metric": "test_accuracy",
                                                       "threshold": 0.9, "max_epochs": True}])
def test_a_custom_challenge_that_is_no_form_is_refused(form):
    with pytest.raises(LessonError):
        parse_challenge(form)


def test_no_tick_or_challenge_result_without_a_stored_run(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    token = store.create(spec={"input": [2], "layers": [{"type": "Linear", "out_features": 2}]})
    assert not store.tick_step(token, "perceptron-xor", 0).passed
    with pytest.raises(WorkspaceError, match="no run number 1"):
        store.post_challenge(token, "perceptron-xor", 1)
    for lesson, step in (("perceptron-xor", "0"), ("perceptron-xor", True), (["perceptron-xor"], 0)):
        with pytest.raises(LessonError):
            store.tick_step(token, lesson, step)
    progress = store.lesson_progress(token)
    assert progress.ticks == {} and progress.bests == {}
    store.db.dispose()


GARBAGE = [
    dict(spec={"layers": "no"}, config={"dataset": ["xor"], "noise": "loud", "weight_decay": None, "epochs": "ten"},
         records=[{"kind": "epoch", "train_loss": "low"}, {"kind": "step", "grad_norm": "big"}, 7],
         results={"accuracy": "high", "loss": float("nan")}, context={"key": "k", "shared": []}),
    dict(group="time", spec={}, config={}, records=[{"kind": "step", "grad_norm_total": "x"}],
         results=None, context={"key": [["RNN (tanh)"], "adding", "30", None, "1.5", "spectral", 1, "1"],
                                "shared": {"snaps": "none"}}),
    dict(group="time", spec={}, config={}, records=None, results=[],
         context={"key": ["RNN (tanh)", "adding", 10**9, 32, 1.5, "spectral", True, 1.0, 20], "shared": None}),
    dict(spec=None, config=None, records=[], results={"accuracy": True}, context="imported"),
]


@pytest.mark.parametrize("fields", GARBAGE)
def test_runs_of_odd_shapes_fail_every_check_and_challenge_without_raising(fields):
    run = RunRecord(number=1, state="finished", **fields)
    for lesson in lessons.catalogue().lessons:
        for step in lesson.steps:
            if step.check is not None:
                assert not lessons.evaluate(step.check, [run]).passed
        if lesson.challenge is not None:
            assert not lessons.check_challenge(lesson.challenge, run).counts
