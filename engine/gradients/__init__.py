"""Gradients through depth and through time: per-layer and per-time-step norms, unrolled cells, and the lab.

Modules: ``norms`` (``layer_grad_norms``, ``timestep_grad_norms``, ``recurrent_stats``, ``activation_stats``,
``derivative_bound``; in float64), ``unroll`` (a recurrent layer unrolled step by step, its recurrent radius),
``lab`` (the Gradients page's seeded experiments and background runs) and ``figures`` (their charts).
"""
from engine.gradients import figures, lab, norms
from engine.gradients.norms import (ACTIVATIONS, activation_stats, default_loss, derivative_bound, layer_grad_norms,
                                    recurrent_stats, timestep_grad_norms)
from engine.gradients.unroll import recurrent_radius

__all__ = ["ACTIVATIONS", "activation_stats", "default_loss", "derivative_bound", "layer_grad_norms",
           "recurrent_stats", "timestep_grad_norms", "recurrent_radius", "figures", "lab", "norms"]
