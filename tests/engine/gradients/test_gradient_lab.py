"""The Gradients page's experiments against PyTorch: the classic contrasts, the radius, recorded training."""
import numpy as np
import torch

from engine.gradients import lab
from engine.gradients.norms import timestep_grad_norms


def test_sigmoid_small_init_vanishes_relu_he_does_not():
    x, y = lab.depth_batch(64)
    _, sigmoid = lab.layer_norms(lab.depth_model(10, 32, "Sigmoid", "normal-0.01"), x, y)
    _, relu = lab.layer_norms(lab.depth_model(10, 32, "ReLU", "he"), x, y)
    assert len(sigmoid) == len(relu) == 11
    assert lab.ratio(sigmoid) < 1e-10 < 1e-2 < lab.ratio(relu)


def test_radius_copy_leaves_the_model_and_orders_the_ratios():
    ds = lab.sequence_task("adding", 30)
    base = lab.time_model("RNN (tanh)", 32, ds)
    before = base.state_dict()["0.rnn.weight_hh_l0"].clone()
    ratios = []
    for radius in (0.5, 1.5):
        model, sigma = lab.with_radius(base, radius)
        assert sigma >= radius - 1e-6  # σ_max ≥ ρ
        ratios.append(lab.ratio(timestep_grad_norms(model, ds.x_train[:16], ds.y_train[:16])))
    assert torch.equal(base.state_dict()["0.rnn.weight_hh_l0"], before)
    assert ratios[0] < 1e-3 and ratios[1] > 100 * ratios[0]


def test_depth_trainer_uses_the_scheme_and_records_every_linear_layer():
    trainer = lab.depth_trainer(3, 16, "ReLU", "he", optimizer="adam", epochs=1)
    assert trainer.config.init == "he" and trainer.config.optimizer == "adam"
    reference = lab.depth_model(3, 16, "ReLU", "he")  # same seed, same scheme: the same starting weights
    assert all(torch.equal(a.cpu(), b) for a, b in zip(trainer.model.state_dict().values(),
                                                       reference.state_dict().values()))
    trainer.start()
    trainer.thread.join(60)
    assert trainer.state == "finished"
    steps, labels, matrix = lab.layer_series(trainer.records())
    assert labels == ["1 Linear", "3 Linear", "5 Linear", "7 Linear"]
    assert matrix.shape == (len(steps), 4) and steps == sorted(steps) and (matrix > 0).all()


def test_time_trainer_starts_from_the_radius_and_clip_series():
    ds = lab.sequence_task("copy", 8)
    trainer = lab.time_trainer("RNN (tanh)", 16, ds, clip=0.01, max_seconds=1.0, radius=0.5, metrics_every=1)
    scaled, _ = lab.with_radius(lab.time_model("RNN (tanh)", 16, ds), 0.5)
    assert torch.allclose(trainer.model.state_dict()["0.rnn.weight_hh_l0"].cpu(),
                          scaled.state_dict()["0.rnn.weight_hh_l0"])
    trainer.start()
    trainer.thread.join(30)
    assert trainer.state == "stopped" and "time limit" in trainer.status.message
    steps, raw, clipped = lab.clip_series(trainer.records(), 0.01)
    assert len(steps) == trainer.status.step and np.allclose(clipped, np.minimum(raw, 0.01))
    copy = lab.private_copy(trainer)
    norms = lab.snapshot_norms(copy, trainer.weights(), ds.x_train[:8], ds.y_train[:8])
    assert norms.shape == (8,)
    assert copy.state_dict()["0.rnn.weight_hh_l0"].dtype == torch.float64  # measured in float64
    assert torch.equal(copy.state_dict()["0.rnn.weight_hh_l0"],
                       trainer.model.state_dict()["0.rnn.weight_hh_l0"].cpu().double())


def test_baseline_and_verdict():
    assert lab.baseline(lab.sequence_task("adding", 10)) == lab.ADDING_BASELINE
    assert abs(lab.baseline(lab.sequence_task("copy", 10)) - np.log(4)) < 1e-9
    assert lab.verdict(0.01, 0.167) == "learned" and lab.verdict(0.12, 0.167) == "partly learned"
    assert lab.verdict(0.166, 0.167) == "did not learn" and lab.verdict(None, 0.167) == "no result"


def test_the_verdict_reads_the_held_out_loss_so_memorising_is_not_learning():
    """Measured on the copy task at T = 100 (LSTM, 4,000 steps): the training loss fell to 0.19 while the loss on
    the validation sequences rose to 4.6 (chance: ln 4 = 1.39). It memorised its 1,400 training sequences."""
    chance = float(np.log(4))
    steps = [{"kind": "step", "step": s, "train_loss": 0.1875} for s in range(1, 7)]
    memorised = steps[:3] + [{"kind": "epoch", "step": 3, "val_loss": 1.3}] + steps[3:] + [
        {"kind": "epoch", "step": 6, "val_loss": 4.6}]
    assert lab.held_out_loss(memorised) == 4.6 and lab.held_out_loss(steps) is None
    assert lab.outcome(memorised, chance) == {"verdict": "did not learn", "train": 0.1875, "held_out": 4.6,
                                              "memorised": True, "judged": 4.6, "judged_on": "held-out"}
    learned = steps + [{"kind": "epoch", "step": 6, "val_loss": 0.2}]
    assert lab.outcome(learned, chance) == {"verdict": "learned", "train": 0.1875, "held_out": 0.2, "memorised": False,
                                            "judged": 0.2, "judged_on": "held-out"}
    # No epoch ended yet (a short budget in seconds): judged on the training loss, and saying so
    assert lab.outcome(steps, chance) == {"verdict": "learned", "train": 0.1875, "held_out": None, "memorised": False,
                                          "judged": 0.1875, "judged_on": "training"}
    assert lab.outcome([], chance)["verdict"] == "no result" and lab.outcome([], chance)["judged_on"] is None
