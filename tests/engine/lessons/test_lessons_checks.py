"""Every lesson's checks pass on a reference solution (real short runs, stored as the pages store them) and fail on
a counter-example; ``evaluate`` says which runs passed."""
import pytest

from engine import lessons
from engine.gradients import lab
from engine.lessons import CheckSpec, evaluate, parse_check

# (lesson, step): (the runs of a workspace that passes, the runs of one that does not)
CASES = {
    ("perceptron-xor", 0): (["perceptron"], ["one_hidden"]),
    ("perceptron-xor", 1): (["one_hidden"], ["perceptron"]),
    ("deep-sigmoid", 0): (["deep_sigmoid"], ["relu_he"]),
    ("deep-sigmoid", 1): (["deep_sigmoid"], ["relu_he"]),
    ("deep-sigmoid", 2): (["relu_he"], ["deep_sigmoid"]),
    ("optimisers", 0): (["sgd"], ["momentum", "adam"]),
    ("optimisers", 1): (["momentum"], ["sgd", "adam"]),
    ("optimisers", 2): (["sgd", "momentum", "adam"], ["sgd", "momentum", "adam_seed1"]),
    ("overfitting", 0): (["overfit"], ["l2"]),
    ("overfitting", 1): (["overfit", "l2"], ["overfit", "dropout"]),
    ("overfitting", 2): (["overfit", "dropout"], ["overfit", "l2"]),
    ("overfitting", 3): (["overfit", "early"], ["early"]),
    ("convolution", 3): (["xo"], ["xo_short"]),
    ("mnist-cnn", 1): (["mnist_cnn"], ["relu_he"]),
    ("attribution", 0): (["tiny_vgg"], ["deep_sigmoid"]),
    ("through-time", 0): (["vanish"], ["explode"]),
    ("through-time", 1): (["explode"], ["vanish"]),
    ("through-time", 2): (["clipped"], ["unclipped"]),
    ("char-lm", 0): (["hello"], ["hello_short"]),
    ("char-lm", 1): (["zen"], ["hello"]),
    ("autoencoders", 0): (["autoencoder"], ["mnist_cnn"]),
    ("autoencoders", 2): (["denoising"], ["autoencoder"]),
}


def test_every_check_of_every_lesson_has_a_case():
    checked = {(lesson.id, i) for lesson in lessons.catalogue().lessons for i, step in enumerate(lesson.steps)
               if step.check is not None}
    assert checked == set(CASES)


@pytest.mark.parametrize("lesson_id, step", sorted(CASES))
def test_a_check_passes_on_its_reference_and_fails_on_a_counter_example(runs, lesson_id, step):
    check = lessons.catalogue().get(lesson_id).steps[step].check
    good, bad = CASES[(lesson_id, step)]
    verdict = evaluate(check, [runs[name] for name in good])
    assert verdict.passed, verdict.evidence
    assert set(verdict.runs) <= {runs[name].number for name in good} and verdict.runs
    assert all(f"{n}" in verdict.evidence for n in verdict.runs)
    failed = evaluate(check, [runs[name] for name in bad])
    assert not failed.passed and failed.runs == () and failed.evidence


def test_a_run_that_did_not_finish_or_came_from_a_file_never_passes(runs):
    check = lessons.catalogue().get("perceptron-xor").steps[1].check
    run = runs["one_hidden"]
    for changed in ({"state": "stopped"}, {"state": "failed"}, {"context": {"imported": True}}):
        copy = type(run)(**{**run.__dict__, **changed})
        assert not evaluate(check, [copy]).passed


def test_the_stored_gradient_numbers_are_what_the_checks_read(runs):
    """The deep sigmoid run's first-layer gradient is tiny next to its last layer's (read from the records)."""
    record = next(r for r in runs["deep_sigmoid"].records if r["kind"] == "step")
    linear = [v for k, v in record["grad_norm"].items() if k.endswith("Linear")]
    verdict = evaluate(parse_check({"name": "layer_gradients", "params": {"ratio_below": linear[0] / linear[-1] * 1.01}}),
                       [runs["deep_sigmoid"]])
    assert verdict.passed
    assert not evaluate(parse_check({"name": "layer_gradients",
                                     "params": {"ratio_below": linear[0] / linear[-1] * 0.99}}),
                        [runs["deep_sigmoid"]]).passed


def test_the_time_check_measures_what_the_page_shows(runs):
    """ρ = 1.5 in the linear regime: ‖∂L/∂h_1‖/‖∂L/∂h_T‖ is the lab's own at-initialisation number (≈ 1.5^29)."""
    ds = lab.sequence_task("adding", 30)
    model, _ = lab.with_radius(lab.time_model("RNN (tanh)", 32, ds), 1.5, "spectral", linear=True)
    expected = lab.ratio(lab.time_norms(model, *lab.probe_batch(ds, 32, linear=True))["h"])
    assert expected > 1e4
    check = CheckSpec("time_gradients", {**parse_check({"name": "time_gradients",
                                                        "params": {"ratio_above": 1}}).params,
                                         "ratio_above": expected * 0.999})
    assert evaluate(check, [runs["explode"]]).passed
    assert not evaluate(CheckSpec("time_gradients", {**check.params, "ratio_above": expected * 1.001}),
                        [runs["explode"]]).passed
