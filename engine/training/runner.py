"""A training run in a background thread: controls, status, a bounded metrics buffer, heartbeat, run limiter.

The worker thread never calls Streamlit; the page polls ``status`` and ``records(since=...)``.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass

import torch

from .. import limits
from ..spec import ModelSpec
from .config import TrainConfig
from .loop import Loop
from .weights import load_weights, save_weights

STATES = ("idle", "queued", "running", "paused", "finished", "stopped", "diverged", "failed")
TERMINAL = ("finished", "stopped", "diverged", "failed")
BUFFER = 5000  # metric records kept per run


def default_slots() -> int:
    """Runs that may train at once: PLAYGROUND_MAX_CONCURRENT_RUNS if set, else one per GPU, else the CPU cores."""
    if "PLAYGROUND_MAX_CONCURRENT_RUNS" not in os.environ and torch.cuda.is_available():
        return torch.cuda.device_count()
    return limits.MAX_CONCURRENT_RUNS


class RunLimiter:
    """At most ``slots`` runs train at once; the others wait in a first-come queue whose positions are visible."""

    def __init__(self, slots: int):
        self.slots = slots
        self._cond = threading.Condition()
        self._running: set[int] = set()
        self._queue: list[int] = []

    def acquire(self, token: int, give_up) -> bool:
        """Wait for a slot; False when ``give_up()`` turns true first (checked every 0.1 s)."""
        with self._cond:
            self._queue.append(token)
            try:
                while True:
                    if give_up():
                        return False
                    if self._queue[0] == token and len(self._running) < self.slots:
                        self._running.add(token)
                        return True
                    self._cond.wait(0.1)
            finally:
                self._queue.remove(token)
                self._cond.notify_all()

    def release(self, token: int) -> None:
        """Free the slot of a run that ends."""
        with self._cond:
            self._running.discard(token)
            self._cond.notify_all()

    def position(self, token: int) -> int | None:
        """1-based place in the queue, or None when not waiting."""
        with self._cond:
            return self._queue.index(token) + 1 if token in self._queue else None

    @property
    def running(self) -> int:
        """Runs holding a slot now."""
        with self._cond:
            return len(self._running)

    @property
    def waiting(self) -> int:
        """Runs in the queue now."""
        with self._cond:
            return len(self._queue)


LIMITER = RunLimiter(default_slots())  # shared by every session of the server


@dataclass(frozen=True)
class RunStatus:
    """What the page shows about a run.

    Attributes:
        state: one of ``STATES``.
        message: why it is in that state (a divergence hint, an early-stopping note, an error).
        step, total_steps, epoch: batches done, batches planned, epochs done.
        progress: step / total_steps, 0..1.
        eta, elapsed: seconds left (None before the first step) and seconds spent training.
        queue_position: 1-based place in the run queue while "queued", else None.
        generation: bumped by ``reset()``; the records cursor starts again from 0.
    """

    state: str
    message: str
    step: int
    total_steps: int
    epoch: int
    progress: float
    eta: float | None
    elapsed: float
    queue_position: int | None
    generation: int


class Trainer:
    """One training run, owned by a browser session; trains in its own thread.

    Controls: ``start()``, ``pause()``, ``resume()``, ``step()``, ``stop()``, ``reset()``; the page calls
    ``heartbeat()`` on every poll, and the run stops itself ``config.heartbeat_timeout`` seconds after the
    last one (a closed tab leaves no thread behind). ``step()`` on an idle or paused run trains exactly one
    batch synchronously in the caller's thread (a running one is paused first) and leaves it paused.

    Args:
        spec: the network (adapted to the dataset with ``engine.data.adapt_spec``; see ``notes``).
        config: the run's settings (defaults when None).
        dataset: a loaded Dataset, instead of loading ``config.dataset``.
        limiter: the run limiter (the server-wide ``LIMITER`` by default).

    Raises:
        InputError, SpecError: bad settings, a dataset that cannot load, a network that does not fit it.
    """

    def __init__(self, spec: ModelSpec, config: TrainConfig | None = None, dataset=None,
                 limiter: RunLimiter | None = None, buffer: int = BUFFER):
        self.config = (config or TrainConfig()).check()
        self._given = (spec, dataset)
        self.limiter = limiter or LIMITER
        self._lock = threading.Lock()  # state, message, records
        self._compute = threading.Lock()  # one batch at a time, worker or step()
        self._records: deque = deque(maxlen=buffer)
        self._count = 0
        self._stop, self._pause, self._wake = threading.Event(), threading.Event(), threading.Event()
        self._state, self._message = "idle", ""
        self._beat = time.monotonic()
        self.generation = 0
        self.thread: threading.Thread | None = None
        self.loop = Loop(spec, self.config, dataset)

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
        """One of ``STATES``."""
        return self._state

    @property
    def status(self) -> RunStatus:
        """A snapshot of the run's state and progress."""
        loop = self.loop
        with self._lock:
            state, message = self._state, self._message
        return RunStatus(state, message, loop.step, loop.total_steps, loop.epoch,
                         loop.step / max(loop.total_steps, 1), loop.eta(), loop.elapsed,
                         self.limiter.position(id(self)) if state == "queued" else None, self.generation)

    def records(self, since: int = 0) -> list[dict]:
        """Metric records number ``since`` onwards (the oldest are dropped past the buffer's size).

        Each is a dict: kind ("step" or "epoch"), step, epoch, train_loss, train_acc, val_loss, val_acc
        (epoch records), grad_norm and weight_norm (layer → norm, step records; gradients before
        clipping), grad_norm_total, lr, samples_per_s, elapsed, eta. Pass ``len`` of what you have read
        (``record_count``) as the next ``since``.
        """
        with self._lock:
            first = self._count - len(self._records)
            return list(self._records)[max(0, since - first):]

    @property
    def record_count(self) -> int:
        """Records produced so far (the cursor after reading them all)."""
        with self._lock:
            return self._count

    def heartbeat(self) -> None:
        """The page is still there: call it on every poll."""
        self._beat = time.monotonic()

    def weights(self) -> bytes:
        """The current weights as safetensors bytes (waits for the batch in progress)."""
        with self._compute:
            return save_weights(self.model)

    def load_weights(self, data: bytes) -> None:
        """Load weights into an idle, paused or ended run; InputError when they do not fit the network."""
        with self._compute:
            if self._state in ("running", "queued"):
                raise RuntimeError("pause the run before loading weights")
            load_weights(self.model, data)

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
        """Pause after the batch in progress, waiting for it (at most one batch), so the status it leaves is final.

        A queued run starts paused when its turn comes.
        """
        self._pause.set()
        with self._compute:  # the batch in progress ends first: "paused" never shows a step still to come
            with self._lock:
                if self._state == "running":
                    self._state = "paused"

    def resume(self) -> bool:
        """Continue a paused run; False when it is not paused."""
        with self._lock:
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
            self._pause.set()
            if self._state in ("idle", "running"):
                self._state = "paused"
        with self._compute:
            records = self.loop.train_batch(force_metrics=True)
        self._publish(records)
        if self.loop.outcome:
            self._end(*self.loop.outcome)
        return records

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop within one batch and wait for the thread to end; True when no thread is left."""
        self._end("stopped", "stopped by the user")
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    def reset(self, config: TrainConfig | None = None) -> None:
        """Stop, then start over from freshly initialised weights (optionally with new settings)."""
        self.stop()
        config = (config or self.config).check()
        loop = Loop(self._given[0], config, self._given[1])
        with self._lock:
            self.config, self.loop = config, loop
            self._records.clear()
            self._count = 0
            self._stop.clear()
            self._pause.clear()
            self._state, self._message = "idle", ""
            self.generation += 1
            self.thread = None

    # ------------------------------------------------------------ the worker
    def _launch_locked(self) -> None:
        self._beat = time.monotonic()
        self._state = "queued"
        self.thread = threading.Thread(target=self._run, name=f"train-{id(self):x}", daemon=True)
        self.thread.start()

    def _resume_locked(self) -> bool:
        self._pause.clear()
        self._wake.set()
        if self.thread is None or not self.thread.is_alive():  # paused by step() before any start
            self._launch_locked()
        elif self._state == "paused":
            self._state = "running"
        return True

    def _abort_reason(self) -> str | None:
        if self._stop.is_set():
            return "stopped by the user"
        quiet = time.monotonic() - self._beat
        if quiet > self.config.heartbeat_timeout:
            return f"stopped: no heartbeat from the page for {quiet:.0f} s (was it closed?)"
        cap = min(self.config.max_seconds, limits.MAX_RUN_SECONDS)
        if self.loop.elapsed > cap:
            return f"stopped at the time limit of {cap:g} s per run"
        return None

    def _run(self) -> None:
        token = id(self)
        try:
            if not self.limiter.acquire(token, lambda: self._abort_reason() is not None):
                self._end("stopped", self._abort_reason() or "stopped")
                return
            try:
                self._work()
            finally:
                self.limiter.release(token)
        except Exception as exc:  # noqa: BLE001 - a run's failure is reported, never raised into the server
            self._end("failed", _failure(exc))

    def _work(self) -> None:
        while True:
            reason = self._abort_reason()
            if reason:
                self._end("stopped", reason)
                return
            if self._pause.is_set():
                with self._lock:
                    if self._state in ("queued", "running"):
                        self._state = "paused"
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            with self._compute:
                if self._pause.is_set() or self._stop.is_set():  # step() or stop() came in while we waited
                    continue
                with self._lock:
                    if self._state in TERMINAL:
                        return
                    self._state = "running"
                records = self.loop.train_batch()
            self._publish(records)
            if self.loop.outcome:
                self._end(*self.loop.outcome)
                return

    def _publish(self, records: list[dict]) -> None:
        if records:
            with self._lock:
                self._records.extend(records)
                self._count += len(records)

    def _end(self, state: str, message: str) -> None:
        """Move to a final state once (the first reason wins) and tell the worker to leave."""
        with self._lock:
            if self._state not in TERMINAL:
                self._state, self._message = state, message
            self._stop.set()
            self._wake.set()

    def __repr__(self) -> str:
        s = self.status
        return f"Trainer({self.spec.name!r} on {self.dataset.name!r}, {s.state}, step {s.step}/{s.total_steps})"


def _failure(exc: Exception) -> str:
    if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return "the GPU ran out of memory: use a smaller batch size or a smaller network"
    return f"training failed: {type(exc).__name__}: {exc}"
