"""The playground's engine: networks as data, built and run with PyTorch. It never imports Streamlit.

Public API (pages use nothing else):

- ``ModelSpec``: a network as JSON-able data (``from_dict``, ``from_json``, ``to_dict``, ``to_json``).
- ``summarize(spec) -> Summary``: per-layer output shapes, parameters, activation bytes and MACs,
  computed by PyTorch on meta tensors (no allocation).
- ``build(spec, seed=None) -> torch.nn.Module``: the real network, within the server's caps.
- ``SpecError``: every invalid spec; ``layer_index``, ``path`` and a message with the fix.
- ``InputError``: bad uploads and other user data.
- ``layers``: the registry of layer types (``layers.TYPES``: arguments, categories, descriptions).
- ``presets``: ``names()``, ``describe(name)``, ``get(name) -> ModelSpec``.
- ``data``: datasets (``names()``, ``load(name, ...)``).
- ``device``: ``pick()``, ``describe()``, ``configure_threads()``.
- ``limits``: server-side caps (parameters, uploads, concurrent runs, run time).
"""
from . import device, layers, limits, presets
from .build import Row, Summary, build, summarize
from .errors import InputError, SpecError
from .spec import ModelSpec

__all__ = ["ModelSpec", "Summary", "Row", "SpecError", "InputError", "build", "summarize",
           "device", "layers", "limits", "presets"]
