"""What a run's thread coordinates with: the server-wide run limiter, the status snapshot, a run's events."""
from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from engine import limits

if TYPE_CHECKING:  # the loop module imports this one
    from engine.training.loop import Loop

# "interrupted": a run whose server stopped while it trained (a run brought back from storage, never a live one)
STATES = ("idle", "queued", "running", "paused", "finished", "stopped", "diverged", "failed", "interrupted")
TERMINAL = ("finished", "stopped", "diverged", "failed", "interrupted")
_TOKENS = itertools.count(1)  # limiter tokens, one per generation of a run


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
        """Free the slot of a run that ends or pauses."""
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
        lr: the learning rate now in the run's configuration (after ``update``).
        changes: settings changed during the run, ``{"step", "setting", "old", "new"}`` each, in order;
            ``step`` is the number of batches done before the new value first acted.
        notes: remarks on the run's settings, e.g. that truncated BPTT does not apply to this dataset.
        paused_left: while "paused", seconds until the run ends by itself (``limits.MAX_PAUSED_SECONDS``).
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
    lr: float | None = None
    changes: tuple = ()
    notes: tuple = ()
    paused_left: float | None = None


class Control:
    """One generation of a run: its loop, events and limiter token. ``reset`` makes a new one, so a worker
    thread still finishing an old batch only ever sees (and stops on) its own."""

    def __init__(self, loop: Loop):
        self.loop = loop
        self.stop, self.pause, self.wake = threading.Event(), threading.Event(), threading.Event()
        self.token = next(_TOKENS)
        self.paused_since: float | None = None

    def interrupted(self) -> bool:
        return self.pause.is_set() or self.stop.is_set()

    def paused_too_long(self) -> str | None:
        """Why a run paused past the server's cap ends itself (it frees the memory), or None."""
        cap = limits.MAX_PAUSED_SECONDS
        if self.paused_since is not None and time.monotonic() - self.paused_since > cap:
            return f"stopped after {cap:g} s paused (the limit on this server frees its memory); start a new run " \
                   f"to train again"
        return None

    def abort_reason(self, quiet: float, config) -> str | None:
        """Why the run ends now: stopped, its page silent for ``quiet`` seconds past ``config.heartbeat_timeout``,
        its time up (``config.max_seconds`` or the server's cap), or paused too long; None while it may go on."""
        if self.stop.is_set():
            return "stopped by the user"
        if quiet > config.heartbeat_timeout:
            return f"stopped: no heartbeat from the page for {quiet:.0f} s (was it closed?)"
        cap = min(config.max_seconds, limits.MAX_RUN_SECONDS)
        if self.loop.elapsed > cap:
            return f"stopped at the time limit of {cap:g} s per run"
        return self.paused_too_long() if self.pause.is_set() else None


def failure_message(exc: Exception) -> str:
    """What a run that raised says to its student (out of GPU memory gets the fix)."""
    if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return "the GPU ran out of memory: use a smaller batch size or a smaller network"
    return f"training failed: {type(exc).__name__}: {exc}"
