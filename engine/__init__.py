"""The playground's engine: networks as data, built and run with PyTorch. It never imports Streamlit.

Public API (pages use nothing else):

- ``ModelSpec``: a network as JSON-able data (``from_dict``, ``from_json``, ``to_dict``, ``to_json``); ``from_dict``
  checks the structure, the name (1–100 plain characters) and each known argument's type and range.
- ``summarize(spec) -> Summary`` (``Summary``, ``Row``): per-layer output shapes, parameters, activation bytes and
  MACs, computed by PyTorch on meta tensors (no allocation); each layer is checked against the shape reaching
  it; memoised per spec.
- ``build(spec, seed=None) -> torch.nn.Module``: the real network, within the server's caps; a seeded build leaves
  torch's global random state as it was.
- ``to_pytorch_code(spec) -> str`` (``export``): a standalone file defining the same network as ``class Net``.
- ``SpecError``: every invalid spec; ``layer_index``, ``path``, ``rows`` (the rows above it) and a message
  with the fix. ``InputError``: bad uploads, settings and other user data (``errors``).
- ``layers``: the registry of layer types (``TYPES``: arguments, categories, descriptions; ``check_values``,
  ``fmt_shape``).
- ``presets``: ``names()``, ``describe(name)``, ``get(name) -> ModelSpec``.
- ``edit``: ``paths``, ``get_layer``, ``insert_layer``, ``append_layer``, ``remove_layer``, ``duplicate_layer``,
  ``move_layer``, ``set_arg`` (each returns a new spec). ``share``: ``encode(spec)``, ``decode(token)`` for links.
- ``graph``: ``network_figure(summary)``, the Plotly drawing of a network; ``short_label``.
- ``data``: datasets (``names()``, ``describe``, ``options``, ``load(name, seed, **options) -> Dataset``,
  ``from_text``, ``load_idx_folder``, ``load_cifar10_folder``, ``adapt_spec(spec, dataset)``).
- ``gradients``: ``layer_grad_norms``, ``timestep_grad_norms``, ``recurrent_stats``, ``activation_stats``,
  ``derivative_bound`` (norms in float64; batches follow the model's device).
- ``unroll``: ``unroll``, ``recurrent_radius``, ``recurrent_radii``, ``set_recurrent_radius``.
- ``init``: ``init_weights(model, scheme)``, ``SCHEMES``, ``make_depth_mlp``, ``DEPTH_LABS``, ``depth_lab``.
- ``gradient_lab``: the Gradients page's experiments (seeded depth MLPs and recurrent models, fixed batches,
  float64 measuring copies, background runs and the series drawn from them); ``gradients_figures`` draws them.
- ``training``: ``TrainConfig``, ``Trainer`` (a background run: ``start``, ``pause``, ``resume``, ``step``, ``stop``,
  ``reset(config)``, ``update(**changes)`` for ``LIVE_SETTINGS`` mid-run, ``heartbeat``, ``status``, ``records``),
  ``STATES``, ``TERMINAL``, ``LIMITER``, ``evaluate``, ``predict_grid``, ``sample``, ``save_weights``,
  ``load_weights``, ``OPTIMIZERS``, ``LOSSES``, ``OPTIMIZER_FORMULAS`` / ``LOSS_FORMULAS`` (torch's exact
  formulas), ``suggested_settings``. ``train_figures``: curves, gradient norms, decision boundary, confusion matrix.
- ``inspect``: ``predict``, ``probabilities``, ``outputs`` (raw values, for regression), ``activations``, ``filters``,
  ``linear_unit_images``, ``recurrent_info``, ``hidden_states(layer=)``, ``lstm_gates(layer=, direction=)``;
  ``inspect_figures`` draws them. ``attribution`` (imported on its own: it loads Captum): ``attribute(model, x,
  method, ..., baseline=)``, ``token_attribution``, ``make_baseline``, ``BASELINES``, ``gradcam_layers``,
  ``default_gradcam_layer``, ``uses_relu``, ``occlusion_evals``, ``METHODS``.
- ``conv``: numpy traces of ``conv1d``/``conv2d`` (flip, padding modes), ``conv_transpose1d``/``2d`` and
  ``pool1d``/``2d(x, kernel_size, stride, mode, ceil_mode, *, padding, dilation, count_include_pad)``, step by step,
  equal to ``torch.nn.functional``; ``conv_arithmetic``: ``output_size``, ``fit`` (uncovered rows/columns).
  ``conv_figures``: the step animation (``too_large`` says why a trace is not animated), before/after grids,
  receptive field. ``conv_examples``: X/O images, signals, digits, classic kernels. ``receptive``: receptive-field
  arithmetic.
- ``images``: safe decoding of uploaded images (size and pixel caps, one frame, grey or RGB) or InputError;
  ``fit_to_input``, ``to_pixel_range`` and the drawing grid (``canvas_shape``, ``paint``, ``drawing_to_input``).
- ``device``: ``pick()``, ``describe()``, ``configure_threads()``.
- ``limits``: server-side caps (parameters, activations, batch memory, uploads, concurrent runs, run and paused time).
"""
from . import data, device, edit, gradients, graph, init, inspect, layers, limits, presets, share, training, unroll
from .build import Row, Summary, build, summarize
from .errors import InputError, SpecError
from .export import to_pytorch_code
from .spec import ModelSpec

__all__ = ["ModelSpec", "Summary", "Row", "SpecError", "InputError", "build", "summarize", "to_pytorch_code",
           "data", "device", "edit", "gradients", "graph", "init", "inspect", "layers", "limits", "presets", "share",
           "training", "unroll"]
