"""Training: a run per browser session in a background thread, its settings, weights, inference and charts.

Modules: ``optimizers`` (the ``OPTIMIZERS`` registry of ``Optimizer``: description, formula, default rate, the
settings each owns, how it is made and tuned live), ``losses`` (the ``LOSSES`` registry of ``Loss``), ``config``
(``TrainConfig``, ``LIVE_SETTINGS``), ``loop`` (one run's steps and records), ``runner`` (``Trainer``: its
controls, status and records; pause/stop/update), ``worker`` (the Trainer's background thread: paused, queued for a
slot of the run limiter, training), ``checkpoint`` (``Checkpoint``: a run's weights, optimiser
state and place, to resume it with ``Trainer(..., resume=checkpoint)``), ``inference`` (``evaluate``,
``predict_grid``, ``sample``), ``saved`` (``SavedRun``: an ended run brought back from storage), ``weights``
(safetensors in and out; a run's initial weights kept beside its own: ``initial_state``, left out of a
download by ``without_initial``), ``trajectory`` (``Snapshots``: up to ``MOST_SNAPSHOTS`` of a run's weights while it
trains, within ``limits.MAX_TRAJECTORY_BYTES``; ``Trajectory``: their first two principal directions around the
final weights and the path projected, ``principal_plane``, ``principal_axes``; ``Trainer.trajectory()``,
``SavedRun.trajectory()``, ``trajectory_of(weights)``), ``recorder`` (the
histograms, update-to-weight ratios and unit health step records carry: which layers, which quantities, the edges,
every how many steps) and ``figures`` (curves, gradient norms, decision boundary, confusion matrix). Pages poll ``trainer.status`` and ``trainer.records(since=n)``;
``Trainer.update`` changes ``LIVE_SETTINGS`` mid-run; ``Trainer.checkpoint()`` may be called any time.
"""
from engine.training import figures
from engine.training.checkpoint import Checkpoint
from engine.training.config import LIVE_SETTINGS, TrainConfig, suggested_settings
from engine.training.inference import evaluate, predict_grid, sample
from engine.training.loop import Loop
from engine.training.losses import LOSSES, compute_loss, resolve_loss
from engine.training.optimizers import OPTIMIZERS, make_optimizer, owners
from engine.training.control import LIMITER, STATES, TERMINAL, RunLimiter
from engine.training.recorder import HEALTH_EVERY, HIST_EVERY, PROBE, Recorder
from engine.training.runner import Trainer
from engine.training.saved import SavedRun
from engine.training.trajectory import MOST_SNAPSHOTS, Snapshots, Trajectory, principal_axes, principal_plane
from engine.training.weights import (initial_state, load_weights, read_weights, save_weights, trajectory_of,
                                     without_initial)

__all__ = ["TrainConfig", "OPTIMIZERS", "owners", "LOSSES", "LIVE_SETTINGS", "compute_loss", "resolve_loss",
           "make_optimizer", "suggested_settings", "Loop", "Trainer", "Checkpoint", "RunLimiter", "LIMITER", "STATES",
           "TERMINAL", "evaluate", "predict_grid", "sample", "save_weights", "load_weights", "read_weights",
           "initial_state", "without_initial", "SavedRun", "figures", "Recorder", "HIST_EVERY", "HEALTH_EVERY", "PROBE",
           "Trajectory", "Snapshots", "principal_axes", "principal_plane", "trajectory_of", "MOST_SNAPSHOTS"]
