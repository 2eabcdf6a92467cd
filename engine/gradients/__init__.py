"""Gradients through depth and through time: per-layer and per-time-step norms, unrolled cells, and the lab.

Modules: ``norms`` (``layer_grad_norms``, ``timestep_grad_norms``, ``recurrent_stats``, ``activation_stats``,
``derivative_bound``; in float64), ``unroll`` (a recurrent layer unrolled step by step, its recurrent radius),
``lab`` (the Gradients page's seeded experiments and background runs), ``glorot`` (the Glorot and Bengio figure:
per-layer activation histograms for sigmoid/tanh/ReLU under each initialisation, at initialisation
(``glorot_grid``, ``layer_histograms``) and during a lab run (``run_histograms``)) and ``figures`` (their charts).
A layer's activation statistics come from ``engine.stats``, shared with the training records and unit health.
"""
from engine.gradients import figures, glorot, lab, norms
from engine.gradients.norms import (ACTIVATIONS, activation_stats, default_loss, derivative_bound, layer_grad_norms,
                                    recurrent_stats, timestep_grad_norms)
from engine.gradients.unroll import recurrent_radius

__all__ = ["ACTIVATIONS", "activation_stats", "default_loss", "derivative_bound", "layer_grad_norms",
           "recurrent_stats", "timestep_grad_norms", "recurrent_radius", "figures", "glorot", "lab",
           "norms"]
