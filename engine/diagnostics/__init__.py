"""Diagnostics: seeing inside training. Unit health, the learning-rate range test, the loss landscape, and the
training records' histograms as series and figures.

Modules: ``health`` (``unit_health``, ``UnitHealth``), ``lrfind`` (``lr_find``, ``LRFind``), ``landscape``
(``loss_line``, ``loss_plane``, ``LossPlane``, ``random_direction``, ``line_alphas``), ``series`` (the training
records' histograms, update ratios and unit health as series, thinned for drawing; ``warnings``) and ``figures``.
The records themselves are written by the training loop (``engine.training.recorder``: what, when, the edges);
a layer's statistics come from ``engine.stats``, shared with ``engine.gradients``.

- ``unit_health(model, x) -> list[UnitHealth]``: per activation layer ``layer`` (index path), ``kind`` (torch class
  name), ``name``, ``dead`` and ``saturated`` (fractions 0..1) on a probe batch, in eval mode, model untouched.
- ``lr_find(spec, dataset, config, *, start=1e-7, end=10.0, steps=100, seed=0, state=None, progress=None,
  cancel=None) -> LRFind`` (``lrs``, ``losses``, ``smoothed``, ``suggestion``, ``min_tenth``, ``stopped``,
  ``diverged``, ``usable``): on a seeded copy; stops once the smoothed loss passes 4× its best (its usual end) or
  the loss diverges (NaN, infinite or exploded: ``diverged``). ``LRFind.to_dict()`` / ``LRFind.from_dict(value)``:
  plain JSON and back, checked (InputError), for a workspace to keep it.
- ``loss_line(model, start_state, end_state, x, y, loss, alphas) -> list[float]``: θ(α) = (1 − α)·θ₀ + α·θ₁.
- ``loss_plane(model, x, y, loss, *, steps=21, span=1.0, seed=0, directions="random", trajectory=None,
  progress=None, cancel=None) -> LossPlane`` (``alphas``, ``betas``, ``losses``, ``centre``, ``trajectory``):
  filter-normalised random directions (bias and batch-norm directions zero) or a trajectory's principal ones
  (``trajectory``: state_dicts, or a run's ``engine.training.Trajectory`` from ``Trainer.trajectory()``);
  weights restored bit for bit; at most ``limits.MAX_LANDSCAPE_POINTS`` points (PLAYGROUND_MAX_LANDSCAPE_POINTS).
  Both evaluate on ``limits.LANDSCAPE_THREADS`` cores (PLAYGROUND_LANDSCAPE_THREADS), convolutions channels-last.
- ``series``: ``hist_records``, ``layers``, ``steps``, ``heatmap`` (thinned to ``MAX_COLUMNS``), ``at_step``,
  ``moments``, ``update_ratios``, ``health``, ``warnings``; ``RULE_OF_THUMB`` (1e-3).
- ``figures``: ``heatmap_figure``, ``step_figure``, ``moments_figure``, ``update_ratio_figure``, ``lr_find_figure``,
  ``loss_line_figure``, ``loss_plane_figure``, ``loss_surface_figure``.
"""
from engine.diagnostics import figures, series
from engine.diagnostics.health import UnitHealth, unit_health
from engine.diagnostics.landscape import LossPlane, line_alphas, loss_line, loss_plane, random_direction
from engine.diagnostics.lrfind import LRFind, lr_find

__all__ = ["unit_health", "UnitHealth", "lr_find", "LRFind", "loss_line", "loss_plane", "LossPlane",
           "random_direction", "line_alphas", "series", "figures"]
