"""What a run records about its insides: histograms, update-to-weight ratios and unit health (the Train page's
diagnostics), added to the loop's step records.

Which layers: every module that has weights of its own (Linear, convolutions, BatchNorm, Embedding, RNN/LSTM/GRU)
or is an activation (Sigmoid, Tanh, ReLU, LeakyReLU, ELU, hard variants), labelled as the summary writes them
("0 Linear", "3.1 ReLU"), in module order.

When: a step record (``kind="step"``) carries these keys on the run's first step (step 0) and then every ``hist_every``
steps (``every(total_steps)``: ``HIST_EVERY`` = 50, on a long run at most ``MOST_RECORDS`` = 100 records;
``Trainer(..., hist_every=k)`` sets it, as the depth lab does for its short runs):

- ``hist``: {layer: {quantity: {"counts": [int, ...], "mean": float, "std": float, "edges": EdgeSpec}}} with
  quantities "act" (the layer's output on the batch the step trained on, taken by forward hooks during its own
  forward pass: no extra pass), "grad" (the gradient of the layer's weights, every parameter named weight*,
  as the optimiser used it: after L1/L2 and clipping) and "weight" (those weights before the step). Biases are
  left out. The edges are fixed per layer and quantity from its first record (``engine.stats.first_spec``:
  sigmoid and tanh their own range; other activations and weights twice the first record's range; gradients
  symmetric log bins, 2 a decade over 8 decades below the first record's largest |g|, and a central bin
  holding 0) and repeated in every record as a few numbers; ``engine.stats.edges(spec)`` expands them. Finite values
  beyond the edges count in the outermost bins, so counts always sum to the number of values counted: all of
  them, or for a tensor of more than ``MAX_VALUES`` (65,536) values an evenly strided sample of about that many
  (every ⌈n / 65,536⌉-th value; a convolution's activations on a batch). ``mean`` and ``std`` use every value.
- ``update_ratio``: {layer: ‖w_after − w_before‖ / ‖w_before‖} for the optimiser step of that batch, over all
  the layer's parameters (weights and biases).
- ``health`` (on the first step and every ``health_every`` steps, ``HEALTH_EVERY`` rounded to a multiple of
  ``hist_every``): [{"layer", "kind", "dead",
  "saturated"}] per activation layer over a fixed probe set (the first ``PROBE`` validation samples, eval mode);
  see ``engine.diagnostics.unit_health``.

A recurrent layer's activation is its output sequence; with truncated BPTT, the last chunk's.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from engine import stats
from engine.network.build import display_path

HIST_EVERY = 50  # steps between histogram records (each costs a few ms on small models; benchmarks/train_overhead)
HEALTH_EVERY = 200  # steps between unit-health records (a forward pass over the probe set)
MOST_RECORDS = 100  # histogram records a run keeps at most (a workspace file stays small): long runs record less often
PROBE = 256  # validation samples unit health is measured on
ONE_PASS = 4096  # values up to which torch.var_mean is the faster way to a tensor's mean and std (CPU)
MAX_VALUES = 1 << 16  # values counted per histogram at most (a strided sample of larger tensors; bucketing is the cost)


def every(total_steps: int, base: int = HIST_EVERY) -> int:
    """Steps between histogram records for a run of ``total_steps``: ``base``, more on a long run (at most
    ``MOST_RECORDS`` records)."""
    return max(base, math.ceil(total_steps / MOST_RECORDS))


def health(model: nn.Module, x: torch.Tensor) -> list[dict]:
    """Dead and saturated unit shares of every activation layer of ``model`` on ``x`` (no grad, mode kept).

    Returns:
        [{"layer": "3.1", "kind": "ReLU", "name": "3.1 ReLU", "dead": float, "saturated": float}] in module order.
    """
    found = [(n, m) for n, m in model.named_modules() if n and stats.is_activation(m)]
    with stats.captured(model, [n for n, _ in found]) as outputs, torch.no_grad():
        model(x)
    shares = [(n, m, *stats.unit_shares(m, outputs[n])) for n, m in found if n in outputs]
    if not shares:
        return []
    values = torch.stack([torch.stack([d, s]) for _, _, d, s in shares]).tolist()  # one synchronisation
    return [{"layer": display_path(n), "kind": type(m).__name__, "name": stats.label(model, n), "dead": v[0],
             "saturated": v[1]}
            for (n, m, _, _), v in zip(shares, values)]


def _moments(flats: list[torch.Tensor]) -> torch.Tensor:
    """[mean_1, std_1, mean_2, std_2, …] (population) of 1-D tensors, as float64."""
    means, variances = [], []
    for flat in flats:
        if flat.numel() <= ONE_PASS:
            var, mean = torch.var_mean(flat, correction=0)
        else:  # two passes: var_mean's single one is 4× slower on a large CPU tensor
            mean = flat.mean()
            var = (flat - mean).square().mean()
        means.append(mean)
        variances.append(var)
    # stacked and rooted once for all: a small model's record is bound by the number of operations
    return torch.stack([torch.stack(means), torch.stack(variances).sqrt()], 1).double().reshape(-1)


class Recorder:
    """Histograms, update ratios and unit health for one run's model (see the module docstring)."""

    def __init__(self, model: nn.Module, probe: torch.Tensor, total_steps: int, hist_every: int | None = None,
                 health_every: int = HEALTH_EVERY):
        self.model, self.probe = model, probe[:PROBE]
        self.hist_every = hist_every or every(total_steps)
        # a multiple of hist_every: health is measured on histogram steps
        self.health_every = self.hist_every * max(1, round(health_every / self.hist_every))
        self.modules: list[tuple[str, str, nn.Module, list[nn.Parameter]]] = []  # (name, label, module, weights)
        for name, module in model.named_modules():
            weights = [p for n, p in module.named_parameters(recurse=False) if n.startswith("weight") and
                       p.requires_grad]
            own = [p for p in module.parameters(recurse=False) if p.requires_grad]
            if name and (own or stats.is_activation(module)):
                self.modules.append((name, stats.label(model, name), module, weights))
        self.layer_params = {label: [p for p in module.parameters(recurse=False) if p.requires_grad]
                             for _, label, module, _ in self.modules}
        self.layer_params = {k: v for k, v in self.layer_params.items() if v}
        # every layer's parameters in one list, and the layer each belongs to: the update ratios in a few operations
        self._params = [p for params in self.layer_params.values() for p in params]
        self._layer_of = torch.tensor([k for k, params in enumerate(self.layer_params.values()) for _ in params],
                                      dtype=torch.long, device=self._params[0].device if self._params else None)
        self.specs: dict[tuple[str, str], dict] = {}  # (layer, quantity) -> EdgeSpec, fixed at the first record
        self._bins: dict[tuple, stats.Bins] = {}  # ((layer, quantity), dtype) -> its spec's bins, made once
        self._layouts: dict = {}  # stats.counts_many's: the same layers and sizes at every record
        self._outputs: dict | None = None
        self._context = None
        self._pending: dict | None = None

    def due(self, step: int) -> bool:
        """Whether the batch about to train as step ``step`` (0-based) records histograms (a resumed run records
        at the same steps as one that never stopped)."""
        return step == 0 or (step + 1) % self.hist_every == 0

    def edge_specs(self) -> list:
        """The fixed edges so far, JSON-able (a checkpoint keeps them, so a resumed run bins as before)."""
        return [[layer, quantity, spec] for (layer, quantity), spec in self.specs.items()]

    def set_edge_specs(self, specs) -> None:
        """Edges from ``edge_specs`` (ignored when not of that shape: an older checkpoint has none)."""
        if isinstance(specs, list):
            self.specs.update({(s[0], s[1]): s[2] for s in specs if isinstance(s, list) and len(s) == 3
                               and isinstance(s[2], dict)})

    # -------------------------------------------------------- around the forward pass
    def attach(self) -> None:
        """Hook every recorded module's output for the next forward pass."""
        self._context = stats.captured(self.model, [name for name, *_ in self.modules])
        self._outputs = self._context.__enter__()

    def detach(self) -> None:
        """Remove the hooks (the outputs they took stay until ``before_step``)."""
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None

    # -------------------------------------------------------- around the optimiser step
    def before_step(self) -> None:
        """Histograms of the outputs, gradients and weights as they are now, and a copy of the weights; all on the
        device, read back in ``after_step``."""
        outputs, self._outputs = self._outputs or {}, None
        pending: dict = {"hist": [], "numbers": None, "before": []}
        for name, label, module, weights in self.modules:
            values = {"act": outputs.get(name)}
            if weights:
                grads = [p.grad.detach().reshape(-1) for p in weights if p.grad is not None]
                # read in this call, before the optimiser step changes the weights (a view when there is one)
                values["grad"] = (grads[0] if len(grads) == 1 else torch.cat(grads)) if grads else None
                values["weight"] = torch.cat([p.detach().reshape(-1) for p in weights]) if len(weights) > 1 \
                    else weights[0].detach().reshape(-1)
            for quantity, v in values.items():
                if v is None or not v.numel():
                    continue
                key = (label, quantity)
                if key not in self.specs:
                    self.specs[key] = stats.first_spec(quantity, v, module)
                flat = v.reshape(-1) if v.is_floating_point() else v.reshape(-1).float()
                if (key, flat.dtype) not in self._bins:  # once per layer and quantity: edges as device tensors
                    self._bins[(key, flat.dtype)] = stats.Bins(self.specs[key], flat.dtype, flat.device)
                bins = self._bins[(key, flat.dtype)]
                # a large tensor is counted on an evenly strided sample: the picture is the same, the cost bounded
                stride = -(-flat.numel() // MAX_VALUES)
                sample = flat[::stride].contiguous() if stride > 1 else flat
                pending["hist"].append((label, quantity, flat, (sample, bins)))
        if pending["hist"]:
            # A NaN or ±inf makes both moments non-finite: after_step then counts that sample again, leaving those
            # out (Bins counts finite values only). Counted together and stacked once: a small model's record is
            # bound by the number of operations, not of values.
            counts = stats.counts_many([pair for *_, pair in pending["hist"]], self._layouts)
            moments = _moments([flat for _, _, flat, _ in pending["hist"]])
            pending["numbers"] = torch.cat([torch.cat(counts).double(), moments])
        pending["before"] = [p.detach().clone() for p in self._params]
        self._pending = pending

    def after_step(self, step: int) -> dict:
        """The record's new keys (``hist``, ``update_ratio`` and, when due, ``health``) after the optimiser step."""
        pending, self._pending = self._pending, None
        if pending is None:
            return {}
        parts = [pending["numbers"]] if pending["hist"] else []  # counts and moments
        layers = list(self.layer_params)
        if layers:  # ‖w_after − w_before‖ / ‖w_before‖ of each layer, over all its parameters
            before = pending["before"]
            norms = torch._foreach_norm(torch._foreach_sub([p.detach() for p in self._params], before))
            squares = torch.stack(norms + torch._foreach_norm(before)).double().square().reshape(2, -1)
            sums = torch.zeros(2, len(layers), dtype=torch.float64, device=squares.device).index_add_(
                1, self._layer_of, squares)
            parts.append((sums[0] / sums[1]).sqrt())
        numbers = torch.cat(parts).tolist() if parts else []  # one synchronisation
        numbers, ratios = numbers[:len(numbers) - len(layers)], numbers[len(numbers) - len(layers):]
        hist: dict[str, dict] = {}
        if pending["hist"]:
            entries = pending["hist"]
            at, sums = 0, numbers[-2 * len(entries):]
            for k, (label, quantity, _, (sample, bins)) in enumerate(entries):
                counts, (mean, std) = [int(v) for v in numbers[at:at + bins.count]], sums[2 * k:2 * k + 2]
                at += bins.count
                if not (math.isfinite(mean) and math.isfinite(std)):  # NaN or ±inf among them: left out
                    # (a lone weight tensor is a view: counted as the step left it, a diverged run's last record)
                    counts = stats.histogram(sample, bins.edges).tolist()
                hist.setdefault(label, {})[quantity] = {"counts": counts, "mean": mean, "std": std,
                                                        "edges": dict(self.specs[(label, quantity)])}
        record = {"hist": hist, "update_ratio": {k: (v if math.isfinite(v) else None) for k, v in zip(layers, ratios)}}
        if step == 0 or (step + 1) % self.health_every == 0:
            record["health"] = self.health()
        return record

    def health(self) -> list[dict]:
        """Unit health on the probe set, in eval mode (dropout off), the model's modes restored."""
        modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        try:
            return health(self.model, self.probe)
        finally:
            for module, training in modes:
                module.training = training
