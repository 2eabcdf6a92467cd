"""engine.training run control: slots given back on pause, queued runs, the paused-time cap, reset, validation stops."""
import os
import re
import sys
import threading

import pytest

import engine
import engine.training.loop as loop_mod
from engine import data, limits
from engine.errors import InputError
from engine.training import Loop, RunLimiter, TrainConfig, Trainer, evaluate
from run_helpers import long_config, toy_mlp, wait_for


def test_a_paused_run_gives_its_slot_back_and_queues_again_on_resume(circle):
    limiter = RunLimiter(1)
    first, second = (Trainer(toy_mlp(), long_config(), circle, limiter=limiter) for _ in range(2))
    try:
        first.start()
        assert wait_for(lambda: first.state == "running")
        first.pause()
        assert first.state == "paused" and wait_for(lambda: limiter.running == 0)
        second.start()
        assert wait_for(lambda: second.state == "running" and second.loop.step > 0)
        assert first.resume() and wait_for(lambda: first.status.queue_position == 1)
        held = first.loop.step
        assert first.state == "queued" and first.loop.step == held
        second.stop()
        assert wait_for(lambda: first.state == "running" and first.loop.step > held)
    finally:
        first.stop(), second.stop()
    assert limiter.running == 0 and limiter.waiting == 0


def test_pause_and_step_on_a_queued_run_leave_the_queue(circle):
    limiter = RunLimiter(1)
    holder, queued = (Trainer(toy_mlp(), long_config(), circle, limiter=limiter) for _ in range(2))
    try:
        holder.start()
        assert wait_for(lambda: holder.state == "running")
        queued.start()
        assert wait_for(lambda: queued.status.queue_position == 1)
        queued.pause()
        assert queued.state == "paused" and wait_for(lambda: limiter.waiting == 0)
        records = queued.step()  # one batch in this thread; the run stays paused and out of the queue
        assert records[0]["step"] == 1 and queued.loop.step == 1 and queued.state == "paused"
        assert queued.status.queue_position is None and holder.state == "running"
        assert queued.resume() and wait_for(lambda: queued.status.queue_position == 1)
        queued.step()  # a queued run: paused, one batch
        assert queued.state == "paused" and queued.loop.step == 2 and wait_for(lambda: limiter.waiting == 0)
    finally:
        holder.stop(), queued.stop()


def test_a_run_paused_past_the_cap_ends(circle, monkeypatch):
    trainer = Trainer(toy_mlp(), long_config(), circle, limiter=RunLimiter(1))
    trainer.start()
    assert wait_for(lambda: trainer.loop.step > 0)
    trainer.pause()
    assert 0 < trainer.status.paused_left <= limits.MAX_PAUSED_SECONDS
    monkeypatch.setattr(limits, "MAX_PAUSED_SECONDS", 0.3)  # read on every check: the run is now past it
    assert wait_for(lambda: trainer.state == "stopped", timeout=5) and "paused" in trainer.status.message
    assert wait_for(lambda: not trainer.thread.is_alive()) and not trainer.loop.optimizer.state
    monkeypatch.setattr(limits, "MAX_PAUSED_SECONDS", 0.3)
    stepped = Trainer(toy_mlp(), long_config(), circle, limiter=RunLimiter(1))
    stepped.step()  # paused without a thread: the page's heartbeat notices the cap
    assert wait_for(lambda: (stepped.heartbeat(), stepped.state == "stopped")[1], timeout=5)


def test_reset_with_a_new_config_then_start_or_resume(circle):
    trainer = Trainer(toy_mlp(), long_config(lr=0.01), circle, limiter=RunLimiter(1))
    trainer.step()
    with pytest.raises(InputError):
        trainer.reset(TrainConfig(lr=-1.0))
    assert trainer.loop.step == 1 and trainer.state == "paused"  # a refused reset leaves the run alone
    trainer.reset(TrainConfig(epochs=10_000, batch_size=16, lr=0.5, device="cpu"))
    status = trainer.status
    assert status.state == "idle" and status.step == 0 and status.lr == 0.5 and status.generation == 1
    assert trainer.loop.config.batch_size == 16 and trainer.records() == []
    for play in (trainer.start, trainer.resume):
        assert play() and wait_for(lambda: trainer.loop.step > 3)
        assert trainer.records()[0]["lr"] == 0.5
        trainer.reset()
        assert trainer.state == "idle"
    trainer.stop()


def test_reset_while_an_old_batch_is_slow_leaves_no_orphan(circle):
    limiter = RunLimiter(1)
    trainer = Trainer(toy_mlp(), long_config(), circle, limiter=limiter)
    old_loop, gate, entered = trainer.loop, threading.Event(), threading.Event()
    original = old_loop.train_batch

    def slow(*args, **kwargs):
        entered.set()
        gate.wait(5)
        return original(*args, **kwargs)
    old_loop.train_batch = slow
    trainer.start()
    assert entered.wait(5)
    old_thread = trainer.thread
    trainer.RESET_WAIT = 0.05  # reset returns while the old batch is still running
    trainer.reset()
    gate.set()
    old_thread.join(5)
    assert not old_thread.is_alive() and trainer.state == "idle" and trainer.loop.step == 0
    assert trainer.records() == [] and limiter.running == 0
    assert trainer.start() and wait_for(lambda: trainer.loop.step > 0)
    trainer.stop()


def test_validation_is_resumable_and_equals_one_whole_pass(circle):
    config = TrainConfig(epochs=2, batch_size=64, device="cpu", seed=1)
    whole, parts = Loop(toy_mlp(), config, circle), Loop(toy_mlp(), config, circle)
    parts._eval_chunk = 7
    calls = []
    records = []
    while not whole.outcome:
        records += whole.train_batch()
    cut = []
    while not parts.outcome:  # an interrupt after each validation chunk: every call does one chunk
        got = parts.train_batch(interrupt=lambda: calls.append(1) or True)
        cut += got
        if parts._val is not None:
            assert got == [] or got[-1]["kind"] == "step"
    epochs = [r for r in cut if r["kind"] == "epoch"]
    assert [r["val_loss"] for r in epochs] == pytest.approx([r["val_loss"] for r in records if r["kind"] == "epoch"],
                                                            rel=1e-6)
    assert len(calls) >= 2 * (len(circle.x_val) // 7)
    assert epochs[-1]["val_loss"] == pytest.approx(evaluate(parts.model, circle, "val")["loss"], rel=1e-5)


def test_a_pause_during_validation_lands_within_one_chunk(circle, monkeypatch):
    trainer = Trainer(toy_mlp(), TrainConfig(epochs=3, batch_size=256, device="cpu"), circle,
                      limiter=RunLimiter(1))
    trainer.loop._eval_chunk = 5
    chunks, real = [], loop_mod.chunk_sums

    def counted(*args):
        chunks.append(1)
        if len(chunks) == 1:
            trainer._ctl.pause.set()  # the first thing a Pause click does, mid-validation
        return real(*args)
    monkeypatch.setattr(loop_mod, "chunk_sums", counted)
    trainer.start()
    assert wait_for(lambda: trainer.state == "paused")
    assert len(chunks) == 1 and trainer.loop._val is not None and trainer.loop.step == 1
    assert [r["kind"] for r in trainer.records()] == ["step"]  # no epoch record yet
    trainer.resume()
    assert wait_for(lambda: trainer.state == "finished")
    assert [r["kind"] for r in trainer.records()].count("epoch") == 3


def test_a_batch_over_the_memory_cap_is_refused_with_the_largest_that_fits():
    wide = engine.ModelSpec.from_dict({"name": "wide", "input": [1, 8, 8], "layers": [
        {"type": "Conv2d", "out_channels": 4096, "kernel_size": 1}, {"type": "ReLU"},
        {"type": "Conv2d", "out_channels": 4096, "kernel_size": 1}, {"type": "ReLU"},
        {"type": "Conv2d", "out_channels": 512, "kernel_size": 1}, {"type": "ReLU"},
        {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]})
    summary = engine.summarize(wide)
    assert summary.total_activation_bytes < limits.MAX_ACTIVATION_BYTES  # it passes the per-sample cap
    digits = data.load("digits", 0)
    with pytest.raises(InputError, match=r"batch of 1,259 needs about .* GiB") as err:
        Trainer(wide, TrainConfig(dataset="digits", batch_size=4096, device="cpu"), digits, limiter=RunLimiter(1))
    fit = int(re.search(r"batch size of at most ([\d,]+), or", str(err.value)).group(1).replace(",", ""))
    per_sample, weights = summary.total_activation_bytes * 3, summary.total_params * 16
    assert fit * per_sample + weights <= limits.MAX_BATCH_BYTES < (fit + 1) * per_sample + weights
    Trainer(wide, TrainConfig(dataset="digits", batch_size=fit, device="cpu"), digits, limiter=RunLimiter(1))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads are reniced on Linux only")
def test_a_training_thread_runs_at_the_background_priority_and_leaves_others_alone(circle, monkeypatch):
    """Page scripts and the web server go first: a run's thread has nice TRAIN_NICE, the caller keeps its own."""
    monkeypatch.setattr(limits, "TRAIN_NICE", 7)
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    trainer = Trainer(toy_mlp(), long_config(), circle)
    try:
        trainer.start()
        assert wait_for(lambda: trainer.state == "running")
        assert os.getpriority(os.PRIO_PROCESS, trainer.thread.native_id) == max(7, before)
    finally:
        trainer.stop()
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_a_run_nobody_started_is_abandoned_after_the_heartbeat_timeout_and_stops_with_the_reason(circle):
    trainer = Trainer(toy_mlp(), long_config(heartbeat_timeout=0.2), circle)
    assert trainer.state == "idle" and not trainer.abandoned
    assert wait_for(lambda: trainer.abandoned, timeout=2.0)
    trainer.heartbeat()
    assert not trainer.abandoned  # a page beat again
    assert trainer.stop(0, reason="stopped: its page was closed")
    assert (trainer.state, trainer.status.message) == ("stopped", "stopped: its page was closed")
