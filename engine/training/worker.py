"""A Trainer's worker thread: wait paused holding no slot, queue for a training slot, train batches until paused or
ended, and the state changes the thread and the controls share (``runner.Trainer`` builds on it)."""
from __future__ import annotations

import threading
import time
from collections import deque

from engine import limits
from engine.device import background_priority
from engine.training.config import TrainConfig
from engine.training.control import TERMINAL, Control, RunLimiter, failure_message


class Worker:
    """The background half of ``runner.Trainer``: its thread and the moves between states.

    The Trainer sets every attribute below in its ``__init__`` (and ``reset``); ``_lock`` guards the state, message,
    records and current control, ``_compute`` lets one batch run at a time (worker or ``step()``).
    """

    config: TrainConfig
    limiter: RunLimiter
    thread: threading.Thread | None
    _lock: threading.Lock
    _compute: threading.Lock
    _ctl: Control
    _state: str
    _message: str
    _beat: float
    _records: deque
    _count: int

    def _launch_locked(self) -> None:
        self._beat = time.monotonic()
        self._state = "queued"
        ctl = self._ctl
        ctl.pause.clear()
        ctl.paused_since = None
        self.thread = threading.Thread(target=self._run, args=(ctl,), name=f"train-{ctl.token}", daemon=True)
        self.thread.start()

    def _resume_locked(self) -> bool:
        ctl = self._ctl
        ctl.pause.clear()
        ctl.paused_since = None
        ctl.wake.set()
        if self.thread is None or not self.thread.is_alive():  # paused by step() before any start
            self._launch_locked()
        elif self._state == "paused":
            self._state = "queued"  # until the worker has a slot again
        return True

    def _paused_locked(self, ctl: Control) -> None:
        self._state = "paused"
        if ctl.paused_since is None:
            ctl.paused_since = time.monotonic()

    def _abort_reason(self, ctl: Control) -> str | None:
        return ctl.abort_reason(time.monotonic() - self._beat, self.config)

    def _run(self, ctl: Control) -> None:
        """The worker: wait while paused (no slot), queue for a slot, train until paused or ended; repeat.

        Its last act is to set the final state, so a run seen as ended has (almost) no thread left.
        """
        ending = None
        background_priority(limits.TRAIN_NICE)  # the page scripts and web server go first (see engine.limits)
        try:
            while ending is None and not ctl.stop.is_set():
                if ctl.pause.is_set():
                    ending = self._wait_paused(ctl)
                    continue
                with self._lock:
                    if ctl is self._ctl and self._state not in TERMINAL and not ctl.pause.is_set():
                        self._state = "queued"
                if not self.limiter.acquire(ctl.token, lambda: ctl.pause.is_set() or self._abort_reason(ctl)):
                    if not ctl.pause.is_set():
                        ending = ("stopped", self._abort_reason(ctl) or "stopped")
                    continue
                try:
                    ending = self._work(ctl)
                finally:
                    self.limiter.release(ctl.token)
        except Exception as exc:  # noqa: BLE001 - a run's failure is reported, never raised into the server
            ending = ("failed", failure_message(exc))
        finally:
            self._release(ctl)
            self._end(*(ending or ("stopped", "stopped")), ctl)

    def _wait_paused(self, ctl: Control) -> tuple[str, str] | None:
        """Wait, holding no slot, until resumed (None) or a reason to stop comes up (the ending)."""
        with self._lock:
            if ctl is self._ctl and self._state in ("queued", "running", "paused"):
                self._paused_locked(ctl)
        while ctl.pause.is_set() and not ctl.stop.is_set():
            reason = self._abort_reason(ctl)
            if reason:
                return ("stopped", reason)
            ctl.wake.wait(0.1)
            ctl.wake.clear()
        return None

    def _work(self, ctl: Control) -> tuple[str, str] | None:
        """Train batches while holding a slot; None when paused (to give the slot back), else the ending."""
        while True:
            reason = self._abort_reason(ctl)
            if reason:
                return ("stopped", reason)
            if ctl.pause.is_set():
                return None
            with self._compute:
                if ctl.interrupted():  # step() or stop() came in while we waited
                    continue
                with self._lock:
                    if self._state in TERMINAL or ctl is not self._ctl:
                        return ("stopped", "stopped")
                    self._state = "running"
                records = ctl.loop.train_batch(interrupt=ctl.interrupted)
                self._publish(records, ctl)  # with the batch, so a checkpoint's record count matches its step
            if ctl.loop.outcome:
                return ctl.loop.outcome

    def _publish(self, records: list[dict], ctl: Control) -> None:
        if records:
            with self._lock:
                if ctl is self._ctl:
                    self._records.extend(records)
                    self._count += len(records)

    def _end(self, state: str, message: str, ctl: Control | None = None) -> None:
        """Move to a final state once (the first reason wins) and tell the worker to leave."""
        with self._lock:
            ctl = ctl or self._ctl
            if ctl is self._ctl and self._state not in TERMINAL:
                self._state, self._message = state, message
            ctl.stop.set()
            ctl.wake.set()

    def _release(self, ctl: Control) -> None:
        """An ended run frees its optimiser state and weight copies (the weights themselves stay)."""
        with self._compute:
            ctl.loop.release()
