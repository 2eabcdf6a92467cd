"""Networks as data: a ``ModelSpec`` (JSON with ``torch.nn`` names), its layers, checks, summary and build.

Modules: ``spec`` (the data), ``layers`` (the registry of layer types; ``layer_names(category)`` lists one
category, e.g. the activations; ``RECURRENT``, the recurrent cells; ``torch_args`` turns a layer's arguments
and incoming shape into its torch module), ``modules`` (Residual, Recurrent,
Maxout), ``build`` (summary on meta tensors, the real model), ``init`` (initialisation schemes, depth MLPs),
``edit`` (pure spec edits), ``share`` (spec ↔ link token), ``export`` (a standalone .py), ``presets``
(classic networks) and ``graph`` (the Plotly drawing of a network).
"""
from engine.network import edit, presets, share
from engine.network.build import Row, Summary, build, summarize
from engine.network.export import to_pytorch_code
from engine.network.graph import network_figure
from engine.network.init import DEPTH_LABS, SCHEMES
from engine.network.layers import INFERRED, RECURRENT, TYPES, check_values, fmt_shape, layer_names
from engine.network.spec import ModelSpec

__all__ = ["ModelSpec", "RECURRENT", "Summary", "Row", "build", "summarize", "to_pytorch_code", "network_figure",
           "SCHEMES", "DEPTH_LABS", "TYPES", "INFERRED", "layer_names", "check_values", "fmt_shape", "edit",
           "presets", "share"]
