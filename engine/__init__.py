"""The playground's engine: networks as data, built and run with PyTorch. It never imports Streamlit.

Public API (pages use nothing else):

- ``ModelSpec``: a network as JSON-able data (``from_dict``, ``from_json``, ``to_dict``, ``to_json``).
- ``summarize(spec) -> Summary``: per-layer output shapes, parameters, activation bytes and MACs,
  computed by PyTorch on meta tensors (no allocation).
- ``build(spec, seed=None) -> torch.nn.Module``: the real network, within the server's caps.
- ``to_pytorch_code(spec) -> str``: a standalone file defining the same network as ``class Net``.
- ``SpecError``: every invalid spec; ``layer_index``, ``path``, ``rows`` (the rows above it) and a message
  with the fix. ``InputError``: bad uploads and other user data.
- ``layers``: the registry of layer types (``layers.TYPES``: arguments, categories, descriptions).
- ``presets``: ``names()``, ``describe(name)``, ``get(name) -> ModelSpec``.
- ``edit``: ``paths``, ``get_layer``, ``insert_layer``, ``append_layer``, ``remove_layer``, ``duplicate_layer``,
  ``move_layer``, ``set_arg`` (each returns a new spec). ``share``: ``encode(spec)``, ``decode(token)`` for links.
- ``graph``: ``network_figure(summary)``, the Plotly drawing of a network.
- ``data``: datasets (``names()``, ``describe``, ``options``, ``load(name, seed, **options) -> Dataset``,
  ``from_text``, ``load_idx_folder``, ``load_cifar10_folder``, ``adapt_spec(spec, dataset)``).
- ``gradients``: ``layer_grad_norms``, ``timestep_grad_norms``, ``activation_stats``, ``derivative_bound``.
- ``unroll``: ``unroll``, ``recurrent_radius``, ``recurrent_radii``, ``set_recurrent_radius``.
- ``init``: ``init_weights(model, scheme)``, ``SCHEMES``, ``make_depth_mlp``, ``DEPTH_LABS``, ``depth_lab``.
- ``training``: ``TrainConfig``, ``Trainer`` (a background run: ``start``, ``pause``, ``resume``, ``step``, ``stop``,
  ``reset``, ``heartbeat``, ``status``, ``records``), ``LIMITER``, ``evaluate``, ``predict_grid``, ``sample``,
  ``save_weights``, ``load_weights``, ``OPTIMIZERS``, ``LOSSES``. ``train_figures``: curves, gradient norms,
  decision boundary, confusion matrix.
- ``inspect``: ``predict``, ``activations``, ``filters``, ``linear_unit_images``, ``hidden_states``, ``lstm_gates``,
  ``fit_to_input``; ``inspect_figures`` draws them. ``attribution`` (imported on its own: it loads Captum):
  ``attribute(model, x, method, ...)``, ``token_attribution``, ``METHODS``.
- ``conv``: numpy traces of ``conv1d``/``conv2d`` (flip, padding modes), ``conv_transpose1d``/``2d`` and
  ``pool1d``/``2d``, step by step, equal to ``torch.nn.functional``; ``conv_arithmetic``: ``output_size``, ``fit``
  (uncovered rows/columns). ``conv_figures``: the step animation, before/after grids, receptive field.
  ``conv_examples``: X/O images, signals, digits, classic kernels. ``receptive``: receptive-field arithmetic.
- ``images``: safe decoding of uploaded images (size and pixel caps, one frame, grey or RGB) or InputError.
- ``device``: ``pick()``, ``describe()``, ``configure_threads()``.
- ``limits``: server-side caps (parameters, uploads, concurrent runs, run time).
"""
from . import data, device, edit, gradients, graph, init, inspect, layers, limits, presets, share, training, unroll
from .build import Row, Summary, build, summarize
from .errors import InputError, SpecError
from .export import to_pytorch_code
from .spec import ModelSpec

__all__ = ["ModelSpec", "Summary", "Row", "SpecError", "InputError", "build", "summarize", "to_pytorch_code",
           "data", "device", "edit", "gradients", "graph", "init", "inspect", "layers", "limits", "presets", "share",
           "training", "unroll"]
