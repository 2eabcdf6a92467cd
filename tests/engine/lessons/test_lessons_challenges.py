"""Challenges judge a stored run by its own spec, config, records and results; a teacher's custom challenge is
refused field by field."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import ModelSpec, lessons, summarize
from engine.lessons import LessonError, check_challenge, parse_challenge

SPIRAL = lessons.catalogue().get("perceptron-xor").challenge  # ≥ 85% on spiral, ≤ 200 parameters, dense layers


def with_(run, **changes):
    return type(run)(**{**run.__dict__, **changes})


def test_a_valid_attempt_counts_with_its_own_numbers(runs):
    run = runs["spiral_small"]
    result = check_challenge(SPIRAL, run)
    assert result.counts and result.reasons == ()
    assert result.value == run.results["accuracy"]
    assert result.parameters == summarize(ModelSpec.from_dict(run.spec)).total_params <= 200
    assert result.met == (run.results["accuracy"] >= SPIRAL.threshold)


@pytest.mark.parametrize("name, words", [
    ("one_hidden", "trained on xor, not spiral"),
    ("overfit", "parameters, over 200"),  # the same data's options differ too, but it is the size that is told
    ("xo", "not allowed here"),
])
def test_runs_on_other_data_too_large_or_with_other_layers_do_not_count(runs, name, words):
    result = check_challenge(SPIRAL, runs[name])
    assert not result.counts and not result.met and result.value is None
    assert any(words in reason for reason in result.reasons), result.reasons


def test_more_epochs_an_unfinished_or_an_imported_run_do_not_count(runs):
    run = runs["spiral_small"]  # 20 epochs
    capped = parse_challenge({**SPIRAL.to_dict(), "max_epochs": 10})
    assert "over 10" in " ".join(check_challenge(capped, run).reasons)
    assert not check_challenge(SPIRAL, with_(run, state="stopped")).counts
    assert not check_challenge(SPIRAL, with_(run, context={"imported": True})).counts


def test_fixed_dataset_options_must_match(runs):
    fixed = parse_challenge({**SPIRAL.to_dict(), "dataset_options": {"noise": 0.3}, "max_parameters": 10**6})
    assert not check_challenge(fixed, runs["spiral_small"]).counts  # trained on the default noise, 0.1
    assert "other options" in " ".join(check_challenge(fixed, runs["spiral_small"]).reasons)
    assert check_challenge(parse_challenge({**fixed.to_dict(), "dataset_options": {"noise": 0.1}}),
                           runs["spiral_small"]).counts


def test_a_bottleneck_challenge_reads_the_narrowest_layer_and_the_lower_loss_wins(runs):
    challenge = lessons.catalogue().get("autoencoders").challenge  # a bottleneck of at most 16 values
    wide = check_challenge(challenge, runs["autoencoder"])  # 784-300-150-300-784
    assert not wide.counts and "passes on 150 values, over 16" in " ".join(wide.reasons)
    result = check_challenge(challenge, runs["ae16"])
    assert result.counts and result.value == runs["ae16"].results["loss"]
    assert result.met == (result.value <= challenge.threshold)
    assert challenge.better(0.01, 0.02) and not challenge.better(0.03, 0.02) and SPIRAL.better(0.9, 0.8)


BASE = {"title": "Spiral", "dataset": "spiral", "metric": "test_accuracy", "threshold": 0.9}


@pytest.mark.parametrize("changes, where, words", [
    ({"max_parameters": 0}, "challenge.max_parameters", "below the smallest allowed, 1"),
    ({"max_parameters": 2.5}, "challenge.max_parameters", "whole number"),
    ({"threshold": 1.5}, "challenge.threshold", "an accuracy is 0 to 1"),
    ({"threshold": -1}, "challenge.threshold", "below the smallest"),
    ({"threshold": float("nan")}, "challenge.threshold", "finite"),
    ({"max_epochs": 100000}, "challenge.max_epochs", "above the largest"),
    ({"dataset": "nope"}, "challenge.dataset", "unknown value 'nope'"),
    ({"metric": "f1"}, "challenge.metric", "unknown value 'f1'"),
    ({"allowed_layers": ["Linear", "Magic"]}, "challenge.allowed_layers[1]", "unknown value 'Magic'"),
    ({"allowed_layers": []}, "challenge.allowed_layers", "below the smallest allowed, 1 names"),
    ({"dataset_options": {"noise": 2.0}}, "challenge.dataset_options.noise", "above the largest"),
    ({"dataset_options": {"colour": 1}}, "challenge.dataset_options.colour", "takes no option"),
    ({"title": ""}, "challenge.title", "below the smallest"),
    ({"deadline": "friday"}, "challenge.deadline", "unknown field"),
])
def test_a_custom_challenge_out_of_range_is_refused_naming_the_field(changes, where, words):
    with pytest.raises(LessonError) as caught:
        parse_challenge({**BASE, **changes})
    assert caught.value.where == where and words in str(caught.value)


def test_a_custom_challenge_missing_a_field_names_it():
    for field in BASE:
        with pytest.raises(LessonError, match=f"challenge.{field}: missing"):
            parse_challenge({k: v for k, v in BASE.items() if k != field})


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["max_parameters", "max_epochs", "threshold", "allowed_layers", "title"]),
                       st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True), st.text(max_size=5),
                                 st.lists(st.text(max_size=8), max_size=3), st.none(), st.booleans())))
def test_any_form_input_is_a_challenge_or_a_lesson_error(changes):
    try:
        challenge = parse_challenge({**BASE, **changes})
    except LessonError as exc:
        assert exc.where.startswith("challenge")
        return
    assert 0 <= challenge.threshold <= 1 and (challenge.max_parameters is None or challenge.max_parameters >= 1)


def test_constraints_are_worded_once_for_the_student_and_the_teacher():
    """Each constraint set, in the form's order; a challenge without any has none to show."""
    bare = parse_challenge(BASE)
    assert bare.constraints() == []
    every = parse_challenge({**BASE, "max_parameters": 1200, "allowed_layers": ["Linear", "ReLU"], "max_epochs": 30,
                             "max_bottleneck": 4})
    assert every.constraints() == ["at most 1,200 parameters", "only these layers: Linear, ReLU", "at most 30 epochs",
                                   "a bottleneck of at most 4 values"]
