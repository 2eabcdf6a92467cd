"""The comparison's verdict names the loss it judged on: held-out, or the training loss when no epoch has ended."""
from types import SimpleNamespace

from engine.gradients import lab
from ui.gradients import compare

STEPS = [{"kind": "step", "step": s, "train_loss": 0.02} for s in range(1, 7)]
EPOCH = [{"kind": "epoch", "step": 6, "val_loss": 0.03}]


def _trainer(records):
    return SimpleNamespace(records=lambda: records, status=SimpleNamespace(step=6, message=""), state="finished")


def test_a_cell_with_no_epoch_is_labelled_as_judged_on_its_training_loss():
    result = lab.outcome(STEPS, lab.ADDING_BASELINE)
    assert result["judged_on"] == "training" and result["judged"] == 0.02
    run = {"baseline": lab.ADDING_BASELINE, "recorded": True, "T": 10}  # recorded: the table is not written here
    text = compare._verdict(run, {"RNN (tanh)": _trainer(STEPS), "LSTM": _trainer(STEPS + EPOCH)})
    rnn, lstm = text.split(". Without")[0].split(" · ")
    assert "(training loss: no epoch ended)" in rnn and "held-out" not in rnn
    assert "held-out loss **0.030**" in lstm and "no epoch ended" not in lstm
    assert "judged on its training loss" in text
    assert "training loss: no epoch ended" in compare._row_cell(result, 6)
    held = lab.outcome(STEPS + EPOCH, lab.ADDING_BASELINE)
    assert held["judged_on"] == "held-out" and "held-out" in compare._row_cell(held, 6)
    assert "no epoch ended" not in compare._row_cell(held, 6)


def test_every_cell_held_out_says_nothing_of_a_fallback():
    run = {"baseline": lab.ADDING_BASELINE, "recorded": True, "T": 10}
    text = compare._verdict(run, {"LSTM": _trainer(STEPS + EPOCH)})
    assert "no epoch ended" not in text and "judged on its training loss" not in text
