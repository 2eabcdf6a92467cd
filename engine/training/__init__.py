"""Training (issue 5): a run per browser session in a background thread, its settings, weights and inference.

Pages use ``Trainer`` with a ``TrainConfig``, poll ``trainer.status`` and ``trainer.records(since=n)``, and after
training call ``evaluate``, ``predict_grid`` or ``sample``; weights go in and out as bytes. ``Trainer.update``
changes ``LIVE_SETTINGS`` mid-run; ``OPTIMIZER_FORMULAS`` / ``LOSS_FORMULAS`` state what torch computes.
"""
from .config import (LIVE_SETTINGS, LOSS_FORMULAS, LOSSES, OPTIMIZER_FORMULAS, OPTIMIZERS, TrainConfig, compute_loss,
                     make_optimizer, suggested_settings)
from .inference import evaluate, predict_grid, sample
from .loop import Loop
from .runner import LIMITER, STATES, TERMINAL, RunLimiter, RunStatus, Trainer
from .weights import load_weights, read_weights, save_weights

__all__ = ["TrainConfig", "OPTIMIZERS", "LOSSES", "OPTIMIZER_FORMULAS", "LOSS_FORMULAS", "LIVE_SETTINGS",
           "compute_loss", "make_optimizer", "suggested_settings", "Loop", "Trainer",
           "RunStatus", "RunLimiter", "LIMITER", "STATES", "TERMINAL", "evaluate", "predict_grid", "sample",
           "save_weights", "load_weights", "read_weights"]
