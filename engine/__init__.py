"""The playground's engine: networks as data, built and run with PyTorch. It never imports Streamlit.

Pages and ``ui/`` import ``engine`` or one concept package (``engine.<concept>``), never a module inside one.

| concept | package | what it holds | page |
|---|---|---|---|
| a network | ``engine.network`` | spec, layer registry, modules, build and summary, init schemes, edit, share, export, presets, graph figure | Build (all pages) |
| data | ``engine.data`` | the dataset registry, toy/text/sequence makers, bundled MNIST, the download cache, file readers, ``fit`` (the dataset for a network) | Train, Inspect, Gradients |
| training | ``engine.training`` | optimiser and loss registries, ``TrainConfig``, the loop, ``Trainer`` (background runs), checkpoints, inference, weights, figures | Train |
| convolution | ``engine.conv`` | step-by-step traces equal to ``torch.nn.functional``, size arithmetic, receptive fields, examples, figures | Convolution |
| gradients | ``engine.gradients`` | per-layer and per-step gradient norms, unrolled cells, the lab's experiments, figures | Gradients |
| diagnostics | ``engine.diagnostics`` | unit health, the learning-rate range test, the loss line and plane, the training records' histograms and update ratios as series and figures | Train, Inspect |
| looking inside | ``engine.inspect`` | predictions, activations, filters, recurrent states, Captum attributions, image uploads, figures | Inspect |
| saved work | ``engine.workspace`` | the workspace store (SQLAlchemy + Alembic): workspaces, runs, snapshots, copies, workspace files, classes, lesson progress, the background flusher | every page |
| lessons | ``engine.lessons`` | the ``lessons/*.toml`` schema and loader (``catalogue()``), the check registry (``CHECKS``, ``evaluate``), challenges (``check_challenge``) | Lessons, Class |

At the top: ``ModelSpec``, ``build``, ``summarize``, ``Summary``/``Row``, ``to_pytorch_code`` (from ``network``);
``SpecError`` (an invalid spec: ``layer_index``, ``path``, ``rows``, a message with the fix) and ``InputError``
(bad uploads, settings and other user data) from ``errors``; ``limits`` (server-side caps), ``device`` (``pick``,
``describe``, ``configure_threads``, ``resolve``: a run's device setting as a device) and ``rng`` (per-run
generators; the lock seeded builds hold), ``stats`` (one layer's statistics: histograms on fixed edges, dead and
saturated shares; shared by ``training``, ``diagnostics`` and ``gradients``).

- ``ModelSpec``: a network as JSON-able data (``from_dict``, ``from_json``, ``to_dict``, ``to_json``); ``from_dict``
  checks the structure, the name (1–100 plain characters) and each known argument's type and range.
- ``summarize(spec) -> Summary``: per-layer output shapes, parameters, activation bytes and MACs, computed by
  PyTorch on meta tensors (no allocation); each layer is checked against the shape reaching it; memoised per spec.
- ``build(spec, seed=None) -> torch.nn.Module``: the real network, within the server's caps; a seeded build leaves
  torch's global random state as it was.
- ``network``: ``TYPES`` (the layer registry: arguments, categories, descriptions; ``layer_names(category)``, e.g. the
  activations; ``RECURRENT``, the recurrent cells), ``presets`` (``names``, ``describe``,
  ``get``), ``edit`` (pure edits returning a new spec), ``share`` (``encode``/``decode`` for links),
  ``SCHEMES`` and ``DEPTH_LABS`` (initialisation), ``network_figure``.
- ``data``: ``names()``, ``describe``, ``category``, ``options``, ``load(name, seed, **options) -> Dataset``,
  ``fit(spec)`` (the dataset a network reads as it is: "mnist" for 1×28×28; what the Train, Inspect and Gradients
  pages start from), ``from_text``, ``load_idx_folder``, ``load_cifar10_folder``, ``adapt_spec(spec, dataset)``,
  ``autoencodes``, ``reconstruction``; the shared download cache: ``needs_download``,
  ``download_dataset(name, progress)``, ``progress_text``, ``DownloadError``.
- ``training``: ``TrainConfig``, ``Trainer`` (``start``, ``pause``, ``resume``, ``step``, ``stop``, ``reset``,
  ``update(**changes)`` for ``LIVE_SETTINGS``, ``heartbeat``, ``status``, ``records``, ``checkpoint() ->
  Checkpoint``; ``Trainer(..., resume=checkpoint)`` continues a run), ``STATES``, ``TERMINAL``, ``LIMITER``,
  ``evaluate``, ``predict_grid``, ``sample``, ``save_weights``, ``load_weights``, ``OPTIMIZERS`` (name →
  ``Optimizer``: description, formula, default rate, the settings it owns, ``make``, ``apply``), ``LOSSES`` (name →
  ``Loss``: description, formula, function), ``suggested_settings``, ``figures``; step records also carry
  histograms, update ratios and unit health (``recorder``); ``Trainer.initial_state()``,
  ``Trainer.weights(with_initial=True)``, ``SavedRun.initial_state()``, ``initial_state(weights)``;
  ``Trainer.trajectory()``, ``SavedRun.trajectory()``, ``trajectory_of(weights)`` (a run's ``Trajectory`` on the
  principal plane of its weight ``Snapshots``: ``principal_plane``, ``principal_axes``).
- ``conv``: ``conv1d``/``conv2d``/``conv_transpose1d``/``2d``/``pool1d``/``2d`` traces, ``output_size``, ``fit``;
  ``figures``, ``examples``, ``receptive``.
- ``gradients``: ``layer_grad_norms``, ``timestep_grad_norms``, ``recurrent_stats``, ``activation_stats``,
  ``derivative_bound``, ``recurrent_radius``; ``lab`` (seeded experiments and their
  background runs), ``figures``.
- ``diagnostics``: ``unit_health(model, x)``, ``lr_find(spec, dataset, config, *, start, end, steps, seed)``,
  ``loss_line(model, start_state, end_state, x, y, loss, alphas)``, ``loss_plane(model, x, y, loss, *, steps,
  span, seed, directions)``; ``series`` (the records' histograms, update ratios, unit health, warnings) and
  ``figures``. The records themselves: ``training``'s step records (``engine.training.recorder``).
- ``workspace`` (imported on first use, ``from engine import workspace``: it brings SQLAlchemy): ``get_store()``
  (``Store``: ``create``, ``open``, ``save``, ``save_run``, ``snapshot``, ``copy``, ``export_zip``/``import_zip``,
  classes, ``expire``), ``get_flusher()`` (runs saved off the hot path), ``RunRecord``, ``WorkspaceError``s.
- ``lessons``: ``catalogue()`` (the checked lesson files and the refused ones, with path and field), ``Lesson``/
  ``Step``/``Setup``/``Prediction``, ``CHECKS``, ``evaluate(check, workspace) -> Verdict`` (run on the stored
  runs, never the page's word), ``Challenge``, ``parse_challenge`` (a teacher's form), ``check_challenge(challenge,
  run)``, ``checks_markdown()``; the store keeps progress (``Store.tick_step``, ``record_prediction``,
  ``post_challenge``, ``assign``, ``progress_grid``, ``leaderboard``).
- ``inspect``: ``predict``, ``probabilities``, ``outputs``, ``activations``, ``filters``, ``linear_unit_images``,
  ``recurrent_info``, ``hidden_states``, ``lstm_gates``; autoencoders: ``reconstructions``, ``codes`` (bottleneck
  and PCA), ``interpolate``; ``images`` (safe decoding of uploads, the drawing grid);
  ``attribution`` (Captum, loaded on first use: ``attribute``, ``token_attribution``, ``METHODS``, ``BASELINES``,
  ``gradcam_layers``); ``figures``.
"""
from engine import conv, data, device, diagnostics, gradients, inspect, limits, network, rng, stats, training
from engine import lessons  # after the packages its checks read
from engine.errors import InputError, SpecError
from engine.network import ModelSpec, Row, Summary, build, summarize, to_pytorch_code

__all__ = ["ModelSpec", "Summary", "Row", "SpecError", "InputError", "build", "summarize", "to_pytorch_code",
           "network", "data", "training", "conv", "gradients", "diagnostics", "inspect", "device", "limits", "rng", "stats",
           "lessons"]
