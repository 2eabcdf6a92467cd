"""A run brought back from storage: it reads like a ``Trainer`` that has ended, without a thread or the data loaded.

A workspace reopened after a reload or a server restart shows its runs' curves, results and weights again. Those
runs have no live ``Trainer`` (its thread and dataset belonged to the old session); ``SavedRun`` answers the same
questions from what was stored, and loads the dataset and builds the model only when a page asks for them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import torch

from engine import data
from engine.errors import InputError, SpecError
from engine.network.build import build
from engine.network.spec import ModelSpec
from engine.training.checkpoint import Checkpoint
from engine.training.config import TrainConfig
from engine.training.control import TERMINAL, RunStatus
from engine.training.trajectory import Trajectory
from engine.training.weights import initial_state, load_weights, trajectory_of


@dataclass(frozen=True)
class _LoopFacts:
    """The two facts of a run's loop that pages read after it ended."""

    device: torch.device
    batches_per_epoch: int


class SavedRun:
    """An ended run as stored: its spec, settings, final state, metric records and (optionally) weights.

    Args:
        spec: the network as the run trained it (adapted to its data).
        config: the run's settings.
        state: its final state (one of ``TERMINAL``; "interrupted" when the server stopped while it trained).
        records: its metric records, as ``Trainer.records()`` gave them.
        weights: its trained weights as safetensors bytes, or a function that fetches them on first use (a
            workspace holds many runs' weights and a page may look at none), or None when they were not kept.
        message: why it ended.
        dataset: the run's Dataset when already at hand (else loaded from ``config`` on first use).
        checkpoint: a function giving the ``Checkpoint`` it was last saved with (an interrupted run), to resume
            it with ``Trainer(spec, config, dataset=..., resume=saved.checkpoint())``; None when there is none.
        end: its final {"step", "epoch", "elapsed"} when they were kept (a record is written every few steps, so
            the last one can lag the end); else they come from the last record.
    """

    def __init__(self, spec: ModelSpec, config: TrainConfig, state: str, records: list[dict],
                 weights: bytes | Callable[[], bytes | None] | None = None, message: str = "", dataset=None,
                 checkpoint: Callable[[], Checkpoint] | None = None, end: dict | None = None):
        if state not in TERMINAL:
            raise InputError(f"a saved run must have ended, not be {state!r}")
        self.spec, self.config, self.state = spec, config, state
        self._records, self._weights, self.message = list(records), weights, message
        self._dataset = dataset
        self._checkpoint = checkpoint
        self._end = end if isinstance(end, dict) else {}
        self.generation, self.notes, self.thread = 0, [], None
        self.imported = False  # from an uploaded workspace file: written back with its provenance (ui.saved_runs)
        # Live on another server (ui.saved_runs, a replica): shown "interrupted" with its records, never written,
        # resumed or reset here; a reload shows it again as that server flushed it.
        self.elsewhere = False

    @property
    def resumable(self) -> bool:
        """Whether it can go on training from where it was saved (weights, optimiser state, place in its data)."""
        return self._checkpoint is not None

    def checkpoint(self) -> Checkpoint:
        """The checkpoint it was saved with. Raises InputError when there is none or it cannot be read."""
        if self._checkpoint is None:
            raise InputError("this run was not saved with its optimiser state; start it again instead")
        return self._checkpoint()

    @cached_property
    def dataset(self):
        """The run's data, loaded again from its name, seed and options (shared caches make this cheap)."""
        if self._dataset is None:
            dataset = data.load(self.config.dataset, seed=self.config.seed, **self.config.dataset_options)
            if data.autoencodes(self.spec) and dataset.task != "reconstruction":
                dataset = data.reconstruction(dataset)  # as the run's loop trained it: each image its own target
            self._dataset = dataset
        return self._dataset

    @cached_property
    def model(self) -> torch.nn.Module:
        """The trained network, built from the spec and loaded with the stored weights (eval mode)."""
        weights = self.weights()
        try:
            model = build(self.spec)
        except SpecError as err:
            raise InputError(f"the stored network no longer builds: {err}") from None
        return load_weights(model, weights).eval()

    @property
    def has_weights(self) -> bool:
        return self._weights is not None

    def weights(self) -> bytes:
        """The stored weights as safetensors bytes (fetched once, on first use)."""
        if callable(self._weights):
            self._weights = self._weights()
        if self._weights is None:
            raise InputError("this run's weights were not kept; train it again to get them")
        return self._weights

    def initial_state(self) -> dict[str, torch.Tensor] | None:
        """The weights it started from, when they were saved with its weights (``Trainer.weights(with_initial=
        True)``), else None (an older run, or one without weights)."""
        try:
            return initial_state(self.weights()) if self.has_weights else None
        except InputError:  # weights not kept, or unreadable: nothing to start the line from
            return None

    def trajectory(self) -> Trajectory:
        """Its path on its principal plane as stored with its weights (``Trainer.weights(with_initial=True)``).

        Raises:
            InputError: it was stored without one (trained before runs kept one, too short, too large), or
                without weights.
        """
        path = trajectory_of(self.weights())
        if path is None:
            raise InputError("the run kept no trajectory: it was stored without one (trained before runs kept "
                             "their trajectory, too short a run, or a network too large for its snapshots)")
        return path

    def records(self, since: int = 0) -> list[dict]:
        return self._records[since:]

    @property
    def record_count(self) -> int:
        return len(self._records)

    @cached_property
    def loop(self) -> _LoopFacts:
        """Where it trained does not matter any more (the model is rebuilt on the CPU); batches per epoch do."""
        try:
            train = len(self.dataset.split("train")[0])
        except (InputError, ValueError, OSError):  # its data cannot be loaded again (an upload)
            train = self.config.batch_size
        return _LoopFacts(torch.device("cpu"), max(1, math.ceil(train / self.config.batch_size)))

    @property
    def status(self) -> RunStatus:
        """The final status: steps, epochs and time as the run ended, else from the last record."""
        last = self._records[-1] if self._records else {}
        step, epoch, elapsed = (_number(self._end.get(k), last.get(k, 0), kind) for k, kind in
                                (("step", int), ("epoch", int), ("elapsed", float)))
        total = self.config.epochs * self.loop.batches_per_epoch
        return RunStatus(self.state, self.message, step, total, epoch, step / max(total, 1), None,
                         elapsed, None, 0, self.config.learning_rate)

    # A saved run has no thread: the controls have nothing to do.
    def heartbeat(self) -> None:
        pass

    def stop(self, timeout: float = 0.0, reason: str = "") -> bool:
        return True

    def pause(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"SavedRun({self.spec.name!r}, {self.state}, {len(self._records)} records)"


def _number(value, fallback, kind: type):
    """``value`` as ``kind`` when it is a number (a stored end), else ``fallback`` as ``kind``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return kind(value)
    return kind(fallback)
