"""Checkpoint and resume: k steps, a checkpoint and a new Trainer resumed from it equal N steps straight (PyTorch's
own optimiser state included); the blobs are safetensors with a JSON header. Bad checkpoints:
tests/bad_inputs/test_checkpoints.py."""
import dataclasses
import json
import struct

import pytest
import torch

import engine
from engine import data
from engine.training import Checkpoint, RunLimiter, TrainConfig, Trainer
from engine.training import checkpoint as checkpoint_module
from tests.engine.run_helpers import long_config, toy_mlp, wait_for

DROPOUT_CNN = engine.ModelSpec.from_dict({"name": "dropout-cnn", "input": [1, 8, 8], "layers": [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "Flatten"}, {"type": "Dropout", "p": 0.3}, {"type": "Linear", "out_features": 10}]})


def config(optimizer="momentum", **kw):
    """circle with 200 points: 140 to train on, 5 batches of 32 per epoch."""
    return TrainConfig(**{"dataset": "circle", "optimizer": optimizer, "lr": 0.05, "batch_size": 32, "epochs": 3,
                          "device": "cpu", **kw})


def trainer(spec, cfg, ds, resume=None):
    return Trainer(spec, cfg, dataset=ds, limiter=RunLimiter(1), resume=resume)


def steps(run: Trainer, n: int) -> Trainer:
    for _ in range(n):
        assert run.step() is not None
    return run


def straight_and_resumed(spec, cfg, ds, n, k):
    """N steps in one run, and k steps + checkpoint + a new Trainer resumed from it + N − k steps."""
    straight = steps(trainer(spec, cfg, ds), n)
    checkpoint = steps(trainer(spec, cfg, ds), k).checkpoint()
    return straight, steps(trainer(spec, cfg, ds, resume=checkpoint), n - k), checkpoint


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6, rtol=0), key


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize("k", [3, 7, 10])  # mid-epoch, mid-epoch after an epoch, at an epoch's end
def test_resumed_run_equals_the_straight_run(circle, optimizer, k):
    straight, resumed, checkpoint = straight_and_resumed(toy_mlp(), config(optimizer), circle, 12, k)
    assert (checkpoint.step, checkpoint.epoch) == (k, k // 5)
    assert_same_tensors(straight.model.state_dict(), resumed.model.state_dict())
    ours, theirs = straight.loop.optimizer.state_dict()["state"], resumed.loop.optimizer.state_dict()["state"]
    assert ours.keys() == theirs.keys() and ours
    for pid in ours:  # torch's own momentum buffers, Adam moments and step counts
        assert_same_tensors(ours[pid], theirs[pid])
    status = resumed.status
    assert (status.step, status.epoch, status.total_steps) == (12, straight.status.epoch, 15)
    assert resumed.record_count == straight.record_count and resumed.records(since=0)[0]["step"] == k + 1
    later, mine = straight.records(since=checkpoint.records), resumed.records(since=checkpoint.records)
    assert [numbers(r) for r in mine] == [pytest.approx(numbers(r)) for r in later]  # epoch means included


def numbers(record: dict, prefix: str = "") -> dict:
    """A record's values that do not depend on timing, nested dicts and lists flattened (per-layer norms, the
    histograms and unit health)."""
    out = {}
    items = record.items() if isinstance(record, dict) else enumerate(record)
    for key, value in items:
        if key in ("elapsed", "eta", "samples_per_s"):
            continue
        if isinstance(value, dict | list):
            out.update(numbers(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_resume_repeats_augmentation_dropout_and_live_changes():
    digits = data.load("digits", seed=0)
    cfg = TrainConfig(dataset="digits", optimizer="adam", batch_size=128, epochs=2, device="cpu", shift=1,
                      mixup=0.2)
    straight = trainer(DROPOUT_CNN, cfg, digits)
    straight.update(lr=0.003)
    steps(straight, 14)
    first = trainer(DROPOUT_CNN, cfg, digits)
    first.update(lr=0.003)
    checkpoint = steps(first, 5).checkpoint()
    resumed = steps(trainer(DROPOUT_CNN, first.config, digits, resume=checkpoint), 9)
    assert_same_tensors(straight.model.state_dict(), resumed.model.state_dict())
    assert resumed.status.changes == straight.status.changes and resumed.config.lr == 0.003


def test_checkpoint_while_training_then_resume(circle):
    run = Trainer(toy_mlp(), long_config(metrics_every=3), dataset=circle, limiter=RunLimiter(1))
    run.start()
    try:
        assert wait_for(lambda: run.status.step > 20)
        checkpoints = [run.checkpoint() for _ in range(3)]
    finally:
        run.stop()
    assert [c.step for c in checkpoints] == sorted(c.step for c in checkpoints)
    checkpoint = checkpoints[-1]
    replay = Trainer(toy_mlp(), long_config(metrics_every=3), dataset=circle, limiter=RunLimiter(1))
    produced = sum(len(replay.loop.train_batch()) for _ in range(checkpoint.step))
    assert produced == checkpoint.records  # taken between batches: its step, weights and records agree
    assert_same_tensors(replay.model.state_dict(), engine.training.read_weights(checkpoint.weights))
    resumed = Trainer(toy_mlp(), long_config(metrics_every=3), dataset=circle, limiter=RunLimiter(1),
                      resume=checkpoint)
    assert resumed.status.step == checkpoint.step and resumed.record_count == checkpoint.records
    assert engine.training.save_weights(resumed.model) == checkpoint.weights
    # A single step always records itself; the batch that ends an epoch adds the epoch's record.
    following = 1 + sum(r.get("kind") != "step" for r in replay.loop.train_batch())
    (record, *_) = resumed.step()
    assert record["step"] == checkpoint.step + 1 and resumed.record_count == checkpoint.records + following


def test_the_optimiser_state_is_safetensors_with_a_json_header(circle):
    run = steps(trainer(toy_mlp(), config("adam"), circle), 7)
    checkpoint = run.checkpoint()
    (size,) = struct.unpack("<Q", checkpoint.optimizer[:8])
    header = json.loads(json.loads(checkpoint.optimizer[8:8 + size])["__metadata__"]["playground"])
    assert header["optimizer"] == "adam" and header["groups"] == [6] and header["format"] == 1
    state = run.loop.optimizer.state_dict()["state"]  # torch's own: exp_avg, exp_avg_sq, step per parameter
    expected = {f"state.{pid}.{key}": value for pid, entries in state.items() for key, value in entries.items()}
    assert_same_tensors(engine.training.read_weights(checkpoint.optimizer), expected)  # plain safetensors
    assert isinstance(checkpoint, Checkpoint) and checkpoint.records == 8  # 7 step records, 1 epoch record


def test_a_resumed_run_given_its_history_continues_the_same_curve(circle):
    """Records past the checkpoint (the run went on before it was cut off) are dropped; those up to it stay."""
    first = steps(trainer(toy_mlp(), config(metrics_every=1), circle), 4)
    checkpoint = first.checkpoint()
    steps(first, 3)
    history = first.records()
    resumed = Trainer(toy_mlp(), config(metrics_every=1), dataset=circle, limiter=RunLimiter(1), resume=checkpoint,
                      history=history)
    assert resumed.records() == history[:checkpoint.records] and resumed.record_count == checkpoint.records
    steps(resumed, 3)
    assert resumed.records()[:checkpoint.records] == history[:checkpoint.records]
    assert [r["step"] for r in resumed.records() if r["kind"] == "step"] == list(range(1, 8))
    assert resumed.records(since=checkpoint.records)[0]["step"] == checkpoint.step + 1


@pytest.mark.parametrize("k", [28, 30])  # mid-epoch; at an epoch's end, its validation done
def test_a_resumed_run_longer_than_its_record_buffer_goes_on_with_the_same_records_as_a_straight_run(circle, k):
    """A long run keeps only its last records (the buffer), so its stored history starts mid-run. Records past the
    checkpoint must still go: they were kept (sliced by count from a history that no longer starts at record 0),
    and the resumed curve stepped back to the checkpoint's step."""
    cfg = config(metrics_every=1, epochs=20)

    def run(resume=None, history=None):
        return Trainer(toy_mlp(), cfg, dataset=circle, limiter=RunLimiter(1), buffer=12, resume=resume,
                       history=history)
    straight = steps(run(), k)
    checkpoint = straight.checkpoint()
    counted = straight.records()
    steps(straight, 4)
    history = straight.records()  # what the store holds when the run is cut off: its last 12 records
    assert checkpoint.records > 12 and history[-1]["step"] > checkpoint.step
    resumed = run(checkpoint, history)
    kept = resumed.records()
    assert kept and kept == counted[-len(kept):] and resumed.record_count == checkpoint.records
    steps(resumed, 4)

    assert _curve(resumed) == _curve(straight) and resumed.record_count == straight.record_count


def test_a_checkpoint_taken_during_an_epochs_validation_leaves_its_epoch_record_to_the_resumed_run(circle):
    """Validation runs in chunks, so a checkpoint can fall inside one: the epoch record that came after it belongs
    to the resumed run, which validates again (cut by step, that record sits at the checkpoint's step)."""
    cfg = config(metrics_every=1, epochs=20)

    def run(resume=None, history=None):
        return Trainer(toy_mlp(), cfg, dataset=circle, limiter=RunLimiter(1), buffer=12, resume=resume,
                       history=history)
    straight = steps(run(), 24)
    straight.loop._eval_chunk = 7
    with straight._compute:  # the epoch's last batch and the first chunk of its validation, as the worker does
        straight._publish(straight.loop.train_batch(interrupt=lambda: True), straight._ctl)
    assert straight.loop._val is not None and straight.loop.step == 25
    checkpoint = straight.checkpoint()
    counted = straight.records()
    steps(straight, 4)
    history = straight.records()
    assert ("epoch", 25) in [(r["kind"], r["step"]) for r in history]
    resumed = run(checkpoint, history)
    kept = resumed.records()
    assert kept == counted[-len(kept):] and kept[-1]["kind"] == "step" and kept[-1]["step"] == 25
    steps(resumed, 4)
    assert _curve(resumed, val=False) == _curve(straight, val=False)
    assert [r["val_loss"] for r in resumed.records() if r["kind"] == "epoch"] == pytest.approx(
        [r["val_loss"] for r in straight.records() if r["kind"] == "epoch"], rel=1e-6)


def _curve(trainer, val=True):
    return [(r["kind"], r["step"], r["train_loss"], r.get("val_loss") if val else None) for r in trainer.records()]


def test_a_resumed_run_keeps_the_first_loss_that_sets_its_divergence_bar(circle):
    # A run counts as diverged past 1000× its first training loss (guard.DIVERGE_FACTOR). Resumed with batch 1 from
    # well-trained weights, its first batch's loss can be tiny: taken as the bar, an ordinary batch later stopped the
    # run as diverged at once (the replica failover flow's resumed run).
    cfg = config("adam", batch_size=1, epochs=20)
    run = steps(trainer(toy_mlp(), cfg, circle), 200)
    bar = run.loop.guard.first
    checkpoint = run.checkpoint()
    resumed = steps(trainer(toy_mlp(), cfg, circle, resume=checkpoint), 1)
    assert resumed.loop.guard.first == bar
    # a checkpoint stored before it kept the bar: the bar comes from the run's history, its first training loss
    tensors, meta = checkpoint_module._unpack(checkpoint.progress, "progress")
    del meta["guard_first"]
    older = dataclasses.replace(checkpoint, progress=checkpoint_module._pack(tensors, meta))
    history = run.records()
    resumed = Trainer(toy_mlp(), cfg, dataset=circle, limiter=RunLimiter(1), resume=older, history=history)
    assert resumed.loop.guard.first == history[0]["train_loss"] == pytest.approx(bar)
    # ...unless the history's front was dropped (a long run keeps its last records): the largest loss it kept
    tail = history[-12:]
    resumed = Trainer(toy_mlp(), cfg, dataset=circle, limiter=RunLimiter(1), resume=older, history=tail)
    kept = [r["train_loss"] for r in tail if r["kind"] == "step"]
    assert resumed.loop.guard.first == max(kept) and max(kept) > min(kept)
    # a whole history into a smaller buffer than it: still the run's first loss, read before the buffer drops it
    small = Trainer(toy_mlp(), cfg, dataset=circle, limiter=RunLimiter(1), resume=older, history=history, buffer=12)
    assert small.loop.guard.first == history[0]["train_loss"] and len(small.records()) == 12
    # a stored history that starts past the checkpoint (records are flushed more often than checkpoints): none of
    # it is the curve up to the checkpoint, but its losses are this run's, and a bar from them beats none
    later = steps(trainer(toy_mlp(), cfg, circle, resume=checkpoint), 30).records()[-12:]
    assert min(r["step"] for r in later) > checkpoint.step
    resumed = Trainer(toy_mlp(), cfg, dataset=circle, limiter=RunLimiter(1), resume=older, history=later)
    assert resumed.records() == [] and resumed.loop.guard.first == max(r["train_loss"] for r in later
                                                                       if r["kind"] == "step")


def test_a_history_with_float_steps_is_still_cut_at_the_checkpoint(circle):
    """The store keeps any number as a record's step: 25.0 is step 25, not a record of unknown place."""
    cfg = config(metrics_every=1, epochs=20)
    run = Trainer(toy_mlp(), cfg, dataset=circle, limiter=RunLimiter(1), buffer=12)
    steps(run, 28)
    checkpoint = run.checkpoint()
    counted = run.records()
    steps(run, 3)
    history = [dict(r, step=float(r["step"])) for r in run.records()]
    resumed = Trainer(toy_mlp(), cfg, dataset=circle, limiter=RunLimiter(1), resume=checkpoint, history=history,
                      buffer=12)
    assert [r["step"] for r in resumed.records()] == [r["step"] for r in counted[-len(resumed.records()):]]
    assert resumed.records()[-1]["step"] == checkpoint.step


def test_a_checkpoint_from_the_two_group_optimiser_resumes_exactly_as_a_new_one(circle):
    """Runs before 7 December kept their parameters in two groups (penalised weights, then the rest); the optimiser
    now keeps the same parameters in the same order in one group: their stored checkpoints still resume, step for
    step as the new ones."""
    run = steps(trainer(toy_mlp(), config("adam"), circle), 7)
    checkpoint = run.checkpoint()
    params = [p for group in run.loop.optimizer.param_groups for p in group["params"]]
    assert len(run.loop.optimizer.param_groups) == 1
    decay = engine.training.optimizers.penalised(run.model)
    assert params[:len(decay)] == decay  # the penalised weights first, as the two groups had them
    old = torch.optim.Adam([{"params": decay}, {"params": params[len(decay):]}], lr=0.05)
    old.load_state_dict({"state": run.loop.optimizer.state_dict()["state"],
                         "param_groups": old.state_dict()["param_groups"]})
    blob = checkpoint_module.save_optimizer(old, "adam")
    assert checkpoint_module._unpack(blob, "optimiser state")[1]["groups"] == [3, 3]
    from_old = steps(trainer(toy_mlp(), config("adam"), circle,
                             resume=dataclasses.replace(checkpoint, optimizer=blob)), 6)
    from_new = steps(trainer(toy_mlp(), config("adam"), circle, resume=checkpoint), 6)
    assert engine.training.save_weights(from_old.model) == engine.training.save_weights(from_new.model)
    assert [numbers(r) for r in from_old.records()] == [numbers(r) for r in from_new.records()]
    with pytest.raises(engine.InputError, match="saved from another network"):
        checkpoint_module.load_optimizer(from_new.loop.optimizer, "adam",
                                         checkpoint_module.save_optimizer(torch.optim.Adam(params[:5]), "adam"))
    tensors, meta = checkpoint_module._unpack(blob, "optimiser state")  # group sizes that are not counts
    with pytest.raises(engine.InputError, match="saved from another network"):
        checkpoint_module.load_optimizer(from_new.loop.optimizer, "adam",
                                         checkpoint_module._pack(tensors, dict(meta, groups=[7, -1])))
