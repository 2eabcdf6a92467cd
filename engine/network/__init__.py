"""Networks as data: a ``ModelSpec`` (JSON with ``torch.nn`` names), its layers, checks, summary and build.

Modules: ``spec`` (the data), ``layers`` (the registry of layer types; ``layer_names(category)`` lists one
category, e.g. the activations; ``RECURRENT``, the recurrent cells; ``torch_args`` turns a layer's arguments
and incoming shape into its torch module), ``modules`` (Residual, Recurrent,
Maxout), ``build`` (summary on meta tensors, the real model), ``init`` (initialisation schemes, depth MLPs),
``edit`` (pure spec edits), ``share`` (spec ↔ link token), ``export`` (a standalone .py), ``presets``
(classic networks) and ``graph`` (the Plotly drawing of a network).
"""
from engine.network import edit, export, graph, init, layers, modules, presets, share
from engine.network.build import Row, Summary, build, display_path, summarize
from engine.network.export import to_pytorch_code
from engine.network.graph import network_figure, short_label
from engine.network.init import DEPTH_LABS, SCHEMES, depth_lab, init_weights, make_depth_mlp
from engine.network.layers import INFERRED, RECURRENT, TYPES, Arg, LayerType, check_values, fmt_shape, layer_names
from engine.network.modules import Maxout, Recurrent, Residual
from engine.network.spec import ModelSpec

__all__ = ["ModelSpec", "RECURRENT", "Summary", "Row", "build", "summarize", "display_path", "to_pytorch_code",
           "network_figure", "short_label", "SCHEMES", "DEPTH_LABS", "init_weights", "make_depth_mlp", "depth_lab",
           "TYPES", "INFERRED", "layer_names", "Arg", "LayerType", "check_values", "fmt_shape", "Maxout", "Recurrent",
           "Residual",
           "edit", "export", "graph", "init", "layers", "modules", "presets", "share"]
