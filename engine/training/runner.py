"""A training run in a background thread: controls, status, a bounded metrics buffer, heartbeat.

The worker thread (``worker.Worker``, queued on the run limiter) never calls Streamlit; the page polls ``status``
and ``records(since=...)``.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque

import torch

from engine import limits
from engine.errors import InputError
from engine.network.spec import ModelSpec
from engine.training.checkpoint import Checkpoint, capture, restore
from engine.training.config import TrainConfig, live_config
from engine.training.control import LIMITER, TERMINAL, Control, RunLimiter, RunStatus
from engine.training.loop import Loop
from engine.training.trajectory import Trajectory
from engine.training.weights import load_weights, save_weights
from engine.training.worker import Worker

BUFFER = 5000  # metric records kept per run


def _counted(history: list[dict], checkpoint: Checkpoint, validating: bool) -> list[dict]:
    """The records of ``history`` that ``checkpoint`` counted: those up to its step, less an epoch record at it
    whose validation was still running. A long run's history holds only its last records (the buffer), so it
    is cut by step; by count it would keep the records past the checkpoint, and the curve would step back."""
    def after(record) -> bool:
        step = record.get("step") if isinstance(record, dict) else None
        if not isinstance(step, int | float) or isinstance(step, bool):
            return False  # of no known place: kept (the count below bounds a history that starts at record 0)
        return step > checkpoint.step or (step == checkpoint.step and validating and record.get("kind") == "epoch")
    end = len(history)
    while end and after(history[end - 1]):  # the records past it are the last ones: steps only grow
        end -= 1
    return history[:min(end, checkpoint.records)]


def _first_loss(records, complete: bool) -> float | None:
    """An older checkpoint's divergence bar from the run's history: its first training loss; when the history's
    front was dropped (a long run's buffer), the largest loss it kept, since a later, smaller one would make an
    ordinary batch count as diverged. None when it has no finite training loss."""
    losses = [r["train_loss"] for r in records if isinstance(r, dict) and r.get("kind") == "step"
              and isinstance(r.get("train_loss"), float)
              and math.isfinite(r["train_loss"])]
    return (losses[0] if complete else max(losses)) if losses else None


class Trainer(Worker):
    """One training run, owned by a browser session; trains in its own thread.

    Controls: ``start()``, ``pause()``, ``resume()``, ``step()``, ``stop()``, ``reset()``, ``update()``; the page
    calls ``heartbeat()`` on every poll, and the run stops itself ``config.heartbeat_timeout`` seconds after the
    last one (a closed tab leaves no thread behind). A training slot (``limiter``) is held only while running: a
    paused run gives it back and queues again on resume, and ends after ``limits.MAX_PAUSED_SECONDS`` paused.
    ``step()`` on an idle, queued or paused run trains exactly one batch synchronously in the caller's thread (a
    running or queued one is paused first, leaving the queue) and leaves it paused. A stop or pause lands within
    one batch, or one validation chunk of about the same cost.

    Args:
        spec: the network (adapted to the dataset with ``engine.data.adapt_spec``; see ``notes``).
        config: the run's settings (defaults when None).
        dataset: a loaded Dataset, instead of loading ``config.dataset``.
        limiter: the run limiter (the server-wide ``LIMITER`` by default).
        resume: a ``checkpoint()`` of an earlier run of this spec, data and schedule: start from its weights, optimiser
            state and place in the data, with ``config``'s rate and settings (pass the earlier run's last ``config``).
        history: with ``resume``, the earlier run's records (all, or its buffer's last ones): those up to the
            checkpoint stay this run's first records, so its curve goes on from it (those after it are recorded
            again).
        hist_every: steps between the records of histograms and update ratios (``recorder.every`` when None).

    Raises:
        InputError, SpecError: bad settings, a dataset that cannot load, a network that does not fit it, a
        batch over ``limits.MAX_BATCH_BYTES``, a checkpoint that does not fit this run or is corrupted.
    """

    RESET_WAIT = 5.0  # seconds reset() waits for the old worker thread (correct without it, only busier)

    def __init__(self, spec: ModelSpec, config: TrainConfig | None = None, dataset=None,
                 limiter: RunLimiter | None = None, buffer: int = BUFFER, resume: Checkpoint | None = None,
                 history: list[dict] | None = None, hist_every: int | None = None):
        self.config = (config or TrainConfig()).check()
        self._given = (spec, dataset, self.config)
        self.limiter = limiter or LIMITER
        self._lock = threading.Lock()  # state, message, records, the current control
        self._compute = threading.Lock()  # one batch at a time, worker or step()
        self._records: deque = deque(maxlen=buffer)
        self._count = 0
        self._state, self._message = "idle", ""
        self._beat = time.monotonic()
        self.generation = 0
        self.thread: threading.Thread | None = None
        self._hist_every = hist_every
        self.loop = Loop(spec, self.config, dataset, hist_every=hist_every)
        self.resumed = resume is not None  # its first training goes on from a checkpoint (Reset starts afresh)
        if resume is not None:
            restore(self.loop, resume)
            self._count = resume.records
            history = list(history or [])
            counted = _counted(history, resume, self.loop._val is not None)
            self._records.extend(counted)
            if self.loop.guard.first is None:  # an older checkpoint: the bar comes from the run's history
                first = _first_loss(counted, complete=len(counted) == resume.records)
                self.loop.guard.first = first if first is not None else _first_loss(history, complete=False)
        self._ctl = Control(self.loop)

    # ------------------------------------------------------------ what the page reads
    @property
    def model(self) -> torch.nn.Module:
        """The network being trained (read it while paused or after the run; ``weights()`` is safe any time)."""
        return self.loop.model

    @property
    def dataset(self):
        """The run's Dataset."""
        return self.loop.dataset

    @property
    def spec(self) -> ModelSpec:
        """The spec as adapted to the dataset."""
        return self.loop.spec

    @property
    def notes(self) -> list[str]:
        """What ``adapt_spec`` changed to fit the network onto the dataset."""
        return list(self.loop.notes)

    @property
    def state(self) -> str:
        """One of ``control.STATES``."""
        return self._state

    @property
    def status(self) -> RunStatus:
        """A snapshot of the run's state and progress."""
        with self._lock:
            state, message, ctl, config = self._state, self._message, self._ctl, self.config
        loop = ctl.loop
        paused_left = None
        if state == "paused" and ctl.paused_since is not None:
            paused_left = max(0.0, limits.MAX_PAUSED_SECONDS - (time.monotonic() - ctl.paused_since))
        return RunStatus(state, message, loop.step, loop.total_steps, loop.epoch,
                         loop.step / max(loop.total_steps, 1), loop.eta(), loop.elapsed,
                         self.limiter.position(ctl.token) if state == "queued" else None, self.generation,
                         config.learning_rate, tuple(dict(c) for c in loop.changes), tuple(loop.run_notes),
                         paused_left)

    def records(self, since: int = 0) -> list[dict]:
        """Metric records number ``since`` onwards (the oldest are dropped past the buffer's size).

        Each is a dict: kind ("step" or "epoch"), step, epoch, train_loss, train_acc, val_loss, val_acc
        (epoch records), grad_norm and weight_norm (layer → norm, step records; gradients before
        clipping, penalties included), grad_norm_total, lr, samples_per_s, elapsed, eta. The first step is
        always recorded. Every ``hist_every`` steps a step record also holds ``hist`` (per layer, histograms of its
        activations, weight gradients and weights), ``update_ratio`` (per layer ‖Δw‖/‖w‖) and sometimes ``health``
        (dead and saturated units): ``engine.training.recorder`` documents them. Pass ``len`` of what you have
        read (``record_count``) as the next ``since``.
        """
        with self._lock:
            first = self._count - len(self._records)
            return list(self._records)[max(0, since - first):]

    @property
    def record_count(self) -> int:
        """Records produced so far (the cursor after reading them all)."""
        with self._lock:
            return self._count

    @property
    def abandoned(self) -> bool:
        """No page has called ``heartbeat`` for ``config.heartbeat_timeout`` seconds (its tab was closed)."""
        return time.monotonic() - self._beat > self.config.heartbeat_timeout

    def heartbeat(self) -> None:
        """The page is still there: call it on every poll (it also ends a run paused past the cap)."""
        self._beat = time.monotonic()
        ctl = self._ctl
        if self._state == "paused" and (self.thread is None or not self.thread.is_alive()):
            reason = ctl.paused_too_long()  # no worker thread to notice (paused by step())
            if reason:
                self._end("stopped", reason, ctl)

    def weights(self, with_initial: bool = False) -> bytes:
        """The current weights as safetensors bytes (waits for the batch in progress).

        ``with_initial`` also keeps the weights the run started from, when known (``initial_state``), and its
        trajectory, when it has one (``trajectory``), in the same file: what the loss line and the principal plane
        need after a reload (``SavedRun.initial_state``, ``SavedRun.trajectory``).
        """
        with self._compute:
            path = None
            if with_initial:
                try:
                    path = self.loop.snapshots.trajectory(self.loop.step)
                except InputError:  # none kept: the file holds the rest
                    path = None
            return save_weights(self.model, initial=self.loop.initial if with_initial else None, trajectory=path)

    def initial_state(self) -> dict[str, torch.Tensor] | None:
        """The weights before the first step (a copy on the CPU), or None before it or in a resumed run."""
        return self.loop.initial

    def trajectory(self) -> Trajectory:
        """Its path on the plane of its snapshots' first two principal directions around the current (final)
        weights (``engine.training.trajectory``); a resumed run's starts at the resume.

        Raises:
            InputError: it kept none (too short, a network over ``limits.MAX_TRAJECTORY_BYTES``, weights loaded
                into it), saying why.
        """
        with self._compute:
            return self.loop.snapshots.trajectory(self.loop.step)

    def checkpoint(self) -> Checkpoint:
        """The run's weights, optimiser state and place in its data (waits for the batch in progress)."""
        with self._compute:
            with self._lock:
                loop, count = self._ctl.loop, self._count
            return capture(loop, count)

    def load_weights(self, data: bytes) -> None:
        """Load weights into an idle, paused or ended run; InputError when they do not fit the network."""
        with self._compute:
            if self._state in ("running", "queued"):
                raise RuntimeError("pause the run before loading weights")
            load_weights(self.model, data)
            self.loop.snapshots.drop("weights were loaded into it, so its snapshots no longer lead to its weights")

    # ------------------------------------------------------------ controls
    def start(self) -> bool:
        """Start an idle run (it queues when every slot is taken) or resume a paused one; False otherwise."""
        with self._lock:
            if self._state == "paused":
                return self._resume_locked()
            if self._state != "idle":
                return False
            self._launch_locked()
            return True

    def pause(self) -> None:
        """Pause after the batch (or validation chunk) in progress, waiting for it, so the status it leaves is final.

        A queued run leaves the queue. A paused run holds no training slot.
        """
        ctl = self._ctl
        ctl.pause.set()
        with self._compute:  # the batch in progress ends first: "paused" never shows a step still to come
            with self._lock:
                if self._state in ("running", "queued") and ctl is self._ctl:
                    self._paused_locked(ctl)

    def resume(self) -> bool:
        """Continue a paused run (it queues for a slot first), or start an idle one; False otherwise."""
        with self._lock:
            if self._state == "idle":
                self._launch_locked()
                return True
            return self._resume_locked() if self._state in ("paused", "queued") else False

    def step(self) -> list[dict] | None:
        """Train exactly one batch now, in this thread, and leave the run paused.

        Returns:
            The records of that step (a step record, plus an epoch record at an epoch's end), or None when
            the run has ended.
        """
        with self._lock:
            if self._state in TERMINAL:
                return None
            ctl = self._ctl
            ctl.pause.set()
            if self._state in ("idle", "running", "queued"):
                self._paused_locked(ctl)
        with self._compute:
            if ctl is not self._ctl or self._state in TERMINAL:  # reset or stopped meanwhile
                return None
            records = ctl.loop.train_batch(force_metrics=True)
            self._publish(records, ctl)  # with the batch, so a checkpoint's record count matches its step
        if ctl.loop.outcome:
            self._end(*ctl.loop.outcome, ctl)
            if self.thread is None or not self.thread.is_alive():
                self._release(ctl)
        return records

    def stop(self, timeout: float = 5.0, reason: str = "stopped by the user") -> bool:
        """Stop within one batch and wait for the thread to end; True when no thread is left."""
        ctl = self._ctl
        self._end("stopped", reason, ctl)
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if thread is None:
            self._release(ctl)
        return thread is None or not thread.is_alive()

    def update(self, **changes) -> None:
        """Change settings of a live or paused (or idle) run; they act from the next batch.

        Args:
            **changes: any of ``LIVE_SETTINGS``: ``lr`` (every parameter group), ``momentum`` (the momentum and
                nesterov optimisers), ``betas`` (adam), ``alpha`` (rmsprop), ``weight_decay``, ``l1``,
                ``clip_norm``; values are checked like ``TrainConfig.check``.

        Raises:
            InputError: an unknown or fixed setting, a bad value, a setting the run's optimiser does not have,
                or a run that has ended. The run is unchanged then.
        """
        with self._lock:
            if self._state in TERMINAL:
                raise InputError(f"the run has ended ({self._state}); reset it or start a new run to train "
                                 f"with other settings")
            self.config = live_config(self.config, changes)
            self._ctl.loop.update(self.config)

    def reset(self, config: TrainConfig | None = None, *, dataset=None) -> None:
        """Stop, then start over from freshly initialised weights, in state "idle" (``start()`` or ``resume()``
        trains it again).

        Args:
            config: new settings (checked first; the current ones when None).
            dataset: a loaded Dataset for a changed ``config.dataset``; when None, the run's own dataset is
                kept if dataset and dataset_options are unchanged, else ``config.dataset`` is loaded.

        Raises:
            InputError, SpecError: as for a new Trainer; the current run is then left as it was.
        """
        config = (config or self.config).check()
        spec, given, first = self._given
        if dataset is None and (config.dataset, config.dataset_options) == (first.dataset, first.dataset_options):
            dataset = given
        loop = Loop(spec, config, dataset, hist_every=self._hist_every)
        self.stop(self.RESET_WAIT)  # an old worker still in a long batch ends on its own generation's events
        with self._lock:
            self.config, self.loop, self._ctl = config, loop, Control(loop)
            self._records.clear()
            self._count = 0
            self._state, self._message = "idle", ""
            self.generation += 1
            self.thread = None

    def __repr__(self) -> str:
        s = self.status
        return f"Trainer({self.spec.name!r} on {self.dataset.name!r}, {s.state}, step {s.step}/{s.total_steps})"
