"""The long-sequence comparison (``lab.LONG_SEQUENCES``): at T = 100 the LSTM learns the adding problem in its step
budget and the vanilla RNN does not, with the comparison's own settings and seeds (slow: about a minute per cell)."""
import pytest
import torch

from engine.gradients import lab
from engine.training import load_weights

TOLERANCE = 0.04  # an answer within 0.04 of the sum counts as right (Hochreiter & Schmidhuber's criterion)


def _train(trainer):
    trainer.start()
    while trainer.thread.is_alive():
        trainer.heartbeat()  # as the page's polls do: without them a run stops itself
        trainer.thread.join(1.0)
    assert trainer.state == "finished"
    return trainer


def _test_scores(trainer, ds) -> tuple[float, float]:
    """(mean squared error, share of answers within TOLERANCE) on the held-out test sequences."""
    model = lab.private_copy(trainer)
    load_weights(model, trainer.weights())
    with torch.no_grad():
        error = model.eval()(ds.x_test.double()).reshape(-1) - ds.y_test.double().reshape(-1)
    return (error ** 2).mean().item(), (error.abs() < TOLERANCE).double().mean().item()


@pytest.mark.slow
def test_at_t_100_the_lstm_learns_the_adding_problem_and_the_rnn_does_not():
    long = lab.LONG_SEQUENCES
    ds = lab.sequence_task(long["task"], long["T"])
    trainers = dict(zip(lab.COMPARE_CELLS, lab.compare_trainers(long["hidden"], ds, steps=long["steps"])))
    reference = lab.baseline(ds)
    # Always answering 1 (the mean): the share of test sums that happen to lie within TOLERANCE of it.
    chance = ((ds.y_test.reshape(-1) - 1).abs() < TOLERANCE).double().mean().item()
    lstm, rnn = _train(trainers["LSTM"]), _train(trainers["RNN (tanh)"])
    # what the page shows: the verdict on the held-out loss at the last epoch's end
    lstm_outcome, rnn_outcome = lab.outcome(lstm.records(), reference), lab.outcome(rnn.records(), reference)
    assert lstm_outcome["judged_on"] == rnn_outcome["judged_on"] == "held-out"
    assert lstm_outcome["verdict"] == "learned" and not lstm_outcome["memorised"]
    assert rnn_outcome["verdict"] == "did not learn"
    lstm_mse, lstm_right = _test_scores(lstm, ds)
    rnn_mse, rnn_right = _test_scores(rnn, ds)
    assert lstm_mse < 0.01 and lstm_right > 0.8  # held out: it learned the rule, not the training sequences
    assert rnn_mse > 0.9 * reference and rnn_right < chance + 0.1
