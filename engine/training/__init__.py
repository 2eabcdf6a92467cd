"""Training: a run per browser session in a background thread, its settings, weights, inference and charts.

Modules: ``config`` (``TrainConfig``, the optimiser and loss registries), ``loop`` (one run's steps and
records), ``runner`` (``Trainer``: the background thread, pause/stop/update, the run limiter), ``inference``
(``evaluate``, ``predict_grid``, ``sample``), ``saved`` (``SavedRun``: an ended run brought back from storage), ``weights`` (safetensors in and out) and ``figures`` (curves,
gradient norms, decision boundary, confusion matrix). Pages poll ``trainer.status`` and
``trainer.records(since=n)``; ``Trainer.update`` changes ``LIVE_SETTINGS`` mid-run.
"""
from engine.training import figures
from engine.training.config import (LIVE_SETTINGS, LOSS_FORMULAS, LOSSES, OPTIMIZER_FORMULAS, OPTIMIZERS, TrainConfig,
                                    compute_loss, make_optimizer, suggested_settings)
from engine.training.inference import evaluate, predict_grid, sample
from engine.training.loop import Loop
from engine.training.runner import LIMITER, STATES, TERMINAL, RunLimiter, RunStatus, Trainer
from engine.training.saved import SavedRun
from engine.training.weights import load_weights, read_weights, save_weights

__all__ = ["TrainConfig", "OPTIMIZERS", "LOSSES", "OPTIMIZER_FORMULAS", "LOSS_FORMULAS", "LIVE_SETTINGS",
           "compute_loss", "make_optimizer", "suggested_settings", "Loop", "Trainer",
           "RunStatus", "RunLimiter", "LIMITER", "STATES", "TERMINAL", "evaluate", "predict_grid", "sample",
           "save_weights", "load_weights", "read_weights", "SavedRun", "figures"]
