"""Training configuration as one dataclass, and the name → object registries of losses and optimisers."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from engine import limits
from engine.errors import InputError
from engine.network.init import SCHEMES

# name -> (description, default learning rate)
OPTIMIZERS: dict[str, tuple[str, float]] = {
    "sgd": ("Plain stochastic gradient descent: w ← w − η·g", 0.1),
    "momentum": ("SGD with momentum: a velocity v ← μv + g, w ← w − η·v", 0.01),
    "nesterov": ("Nesterov momentum: the gradient taken after the look-ahead step", 0.01),
    "adagrad": ("AdaGrad: each weight's step divided by the root of its summed squared gradients", 0.01),
    "rmsprop": ("RMSProp: divided by a running root-mean-square of gradients (decay α = 0.9)", 0.001),
    "adam": ("Adam: momentum and RMSProp together, with bias correction", 0.001),
}

# name -> the exact update PyTorch performs (g: the gradient with the L1/L2 penalties added, see TrainConfig)
OPTIMIZER_FORMULAS: dict[str, str] = {
    "sgd": "torch.optim.SGD: w ← w − η·g",
    "momentum": "torch.optim.SGD(momentum=μ): v ← μ·v + g, w ← w − η·v (equals v ← μv − ηg, w ← w + v while η "
                "is fixed)",
    "nesterov": "torch.optim.SGD(nesterov=True): v ← μ·v + g, w ← w − η·(g + μ·v); the stored w is the look-ahead "
                "point w + μv of the course's form v ← μv − η∇f(w + μv), w ← w + v (same path, shifted weights)",
    "adagrad": "torch.optim.Adagrad: G ← G + g², w ← w − η·g / (√G + 1e-10)",
    "rmsprop": "torch.optim.RMSprop: s ← α·s + (1 − α)·g², w ← w − η·g / (√s + 1e-8)",
    "adam": "torch.optim.Adam: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², w ← w − η·(m / (1 − β₁ᵗ)) / "
            "(√(v / (1 − β₂ᵗ)) + 1e-8); weight decay is coupled L2 in g, not AdamW",
}

LOSSES: dict[str, str] = {
    "auto": "the task's natural loss: cross-entropy for classes and characters, MSE for regression and "
            "reconstruction",
    "cross-entropy": "−Σ t log softmax(s): the gradient w.r.t. the logits is softmax(s) − t",
    "mse": "mean squared error; for classes, between softmax probabilities and one-hot targets (a poor match)",
    "hinge": "multi-class hinge Σ_{j≠y} max(0, s_j − s_y + 1), divided by the number of classes",
    "bce": "binary cross-entropy between outputs in [0, 1] (after a Sigmoid) and targets in [0, 1], e.g. pixels",
}

# name -> the exact formula PyTorch computes for a batch of N samples with C classes (or outputs)
LOSS_FORMULAS: dict[str, str] = {
    "auto": "cross-entropy for classes and characters, mse for regression and reconstruction",
    "cross-entropy": "F.cross_entropy: (1/N)·Σ_n −log softmax(s_n)[y_n] (characters: averaged over all N·T tokens)",
    "mse": "F.mse_loss: (1/(N·C))·Σ_n Σ_c (p_nc − t_nc)², p = softmax(s), t one-hot, so the mean over classes "
           "too (regression: s instead of p, averaged over N × outputs)",
    "hinge": "F.multi_margin_loss: (1/N)·Σ_n (1/C)·Σ_{j≠y_n} max(0, 1 − s_ny + s_nj); the 1/C is torch's, the "
             "CS231n form has none",
    "bce": "F.binary_cross_entropy: −(1/M)·Σ_i [t_i·log p_i + (1 − t_i)·log(1 − p_i)] over all M outputs, p the "
           "network's output (a Sigmoid's), t the target (each log clamped at −100, as torch does)",
}

_TASK_LOSS = {"classification": "cross-entropy", "char": "cross-entropy", "regression": "mse", "reconstruction": "mse"}
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class TrainConfig:
    """Everything a run needs besides the network spec; every field has a default.

    Attributes:
        dataset, dataset_options: ``engine.data.load(dataset, seed, **dataset_options)``.
        loss: one of ``LOSSES``.
        optimizer: one of ``OPTIMIZERS``; ``lr`` None takes the optimiser's default.
        momentum: for "momentum" and "nesterov"; betas: Adam's; alpha: RMSProp's decay.
        weight_decay: λ of the L2 penalty λ/2·‖w‖² on weights (not biases or norm scales): λw is added to the
            gradient. Like ``l1``, before clipping, so the order is the textbook's: penalised loss → backward →
            clip → step (torch's own ``weight_decay`` would add it after clipping; it is 0 in the optimiser).
        l1: λ of the L1 penalty λ‖w‖₁ on the same weights (adds λ·sign(w) to the gradient).
        batch_size, epochs: the schedule.
        init: an ``engine.network.init.SCHEMES`` name ("default" keeps PyTorch's own).
        clip_norm: gradient-norm clipping threshold; 0 turns clipping off.
        bptt: truncated backpropagation through time for character data: chunks of this many steps
            (0 = through the whole sequence). Other sequence data predicts once per sequence, so there it does not
            apply and the run's status says so.
        flip, shift, rotate, erase, mixup: image augmentation: horizontal flips (off by default: a flipped
            digit is another digit or none), shifts of up to ``shift`` pixels, rotations of up to ``rotate``
            degrees, random erasing with probability ``erase``, mixup with Beta(α, α), α = ``mixup`` (0 = off).
        noise: standard deviation of Gaussian noise added to every training input (not to the target, nor to
            validation and test inputs): with a reconstruction task, a denoising autoencoder. Drawn from the run's
            own generator (seeded). 0 = off.
        early_stopping, patience: stop when the validation loss has not improved for ``patience`` epochs and
            restore the best weights.
        seed: seeds the data, the weights, the shuffling, the augmentation and the dropout masks (each run draws
            from its own generators, so runs repeat exactly on CPU even while other runs train; the one exception
            is a recurrent layer's own dropout between stacked layers, which torch draws from its global RNG).
        device: "auto" (CUDA, then MPS, then CPU), "cpu", "cuda" or "mps".
        metrics_every: steps between metric records (each costs one device synchronisation).
        max_seconds: training-time cap, at most ``limits.MAX_RUN_SECONDS``.
        heartbeat_timeout: a run stops itself this many seconds after the page's last heartbeat.
    """

    dataset: str = "circle"
    dataset_options: dict = field(default_factory=dict)
    loss: str = "auto"
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    alpha: float = 0.9
    weight_decay: float = 0.0
    l1: float = 0.0
    batch_size: int = 32
    epochs: int = 10
    init: str = "default"
    clip_norm: float = 0.0
    bptt: int = 0
    flip: bool = False
    shift: int = 0
    rotate: float = 0.0
    erase: float = 0.0
    mixup: float = 0.0
    noise: float = 0.0
    early_stopping: bool = False
    patience: int = 5
    seed: int = 0
    device: str = "auto"
    metrics_every: int = 10
    max_seconds: float = float(limits.MAX_RUN_SECONDS)
    heartbeat_timeout: float = 30.0

    @property
    def learning_rate(self) -> float:
        """``lr``, or the optimiser's default when it is None."""
        return float(self.lr) if self.lr is not None else OPTIMIZERS[self.optimizer][1]

    @property
    def augments(self) -> bool:
        """Whether any image augmentation is on."""
        return bool(self.flip or self.shift or self.rotate or self.erase or self.mixup)

    def to_dict(self) -> dict:
        """JSON-able fields."""
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """The inverse of ``to_dict``; unknown keys or wrong types raise InputError."""
        if not isinstance(data, dict):
            raise InputError(f"training settings must be a JSON object, not {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = [k for k in data if k not in names]
        if unknown:
            raise InputError(f"unknown training setting {unknown[0]!r}")
        data = dict(data)
        if "betas" in data:
            betas = data["betas"]
            if not isinstance(betas, (list, tuple)):
                raise InputError(f"betas must be two numbers such as [0.9, 0.999], not {betas!r}")
            data["betas"] = tuple(betas)
        return cls(**data).check()

    def replace(self, **changes) -> "TrainConfig":
        """A checked copy with some fields changed; unknown names raise InputError."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = [k for k in changes if k not in names]
        if unknown:
            raise InputError(f"unknown training setting {unknown[0]!r}")
        if "betas" in changes and isinstance(changes["betas"], list):
            changes["betas"] = tuple(changes["betas"])
        return dataclasses.replace(self, **changes).check()

    def check(self) -> "TrainConfig":
        """Validate every field; returns self.

        Raises:
            InputError: naming the setting and the allowed values.
        """
        if not isinstance(self.dataset, str) or not self.dataset:
            raise InputError(f"dataset must be a dataset name, not {self.dataset!r}")
        if not isinstance(self.dataset_options, dict) or not all(isinstance(k, str) for k in self.dataset_options):
            raise InputError(f"dataset_options must be an object of named options, not {self.dataset_options!r}")
        if self.lr is not None:
            _number("learning rate", self.lr, 0.0, 1e9, open_low=True)
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        _one_of("loss", self.loss, LOSSES)
        _one_of("init", self.init, SCHEMES)
        _one_of("device", self.device, DEVICES)
        _number("learning rate", self.learning_rate, 0.0, 1e9, open_low=True)
        _number("momentum", self.momentum, 0.0, 0.9999)
        _number("alpha", self.alpha, 0.0, 0.9999)
        if not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise InputError(f"betas must be two numbers, not {self.betas!r}")
        for b in self.betas:
            _number("beta", b, 0.0, 0.9999)
        for name in ("flip", "early_stopping"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be true or false, not {getattr(self, name)!r}")
        for name in ("weight_decay", "l1", "clip_norm", "rotate", "erase", "mixup", "noise"):
            _number(name, getattr(self, name), 0.0, {"rotate": 45.0, "erase": 1.0, "noise": 10.0}.get(name, 1e6))
        for name, lo, hi in (("batch_size", 1, 65_536), ("epochs", 1, 10_000), ("bptt", 0, 10_000),
                             ("shift", 0, 8), ("patience", 1, 1_000), ("metrics_every", 1, 10_000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InputError(f"{name} must be a whole number from {lo} to {hi}, not {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"the seed must be a whole number from 0 upwards, not {self.seed!r}")
        _number("max_seconds", self.max_seconds, 0.0, 1e9, open_low=True)
        _number("heartbeat_timeout", self.heartbeat_timeout, 0.0, 1e9, open_low=True)
        return self


def _one_of(name: str, value, allowed) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def _number(name: str, value, lo: float, hi: float, open_low: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value > hi or value < lo or (open_low and value == lo):
        low = f"above {lo:g}" if open_low else f"from {lo:g}"
        raise InputError(f"{name} must be a number {low} to {hi:g}, not {value!r}")


def resolve_loss(name: str, task: str) -> str:
    """The loss a run uses: "auto" becomes the task's own; regression allows only MSE, reconstruction MSE or BCE."""
    loss = _TASK_LOSS[task] if name == "auto" else name
    if task == "regression" and loss != "mse":
        raise InputError(f"{loss} needs class labels; the regression targets here are numbers: use mse")
    if task == "reconstruction" and loss not in ("mse", "bce"):
        raise InputError(f"{loss} needs class labels; an autoencoder's target is its input image: use mse or bce")
    if loss == "bce" and task != "reconstruction":
        raise InputError("bce compares outputs in [0, 1] with targets in [0, 1] (an autoencoder's pixels); for "
                         "classes use cross-entropy")
    return loss


def check_output_range(loss: str, spec) -> None:
    """BCE takes the log of the outputs and of one minus them: the network must end in a Sigmoid.

    Raises:
        InputError: "bce" on a network whose last value-changing layer is not a Sigmoid.
    """
    kept = [layer["type"] for layer in spec.layers if layer["type"] not in ("Unflatten", "Flatten", "Dropout")]
    if loss == "bce" and (not kept or kept[-1] != "Sigmoid"):
        raise InputError("bce needs outputs in [0, 1]: end the network with a Sigmoid layer, or use mse")


def compute_loss(loss: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean loss of a batch.

    Args:
        loss: "cross-entropy", "mse", "hinge" or "bce" (see ``LOSSES``).
        output: logits ``(N, C)``, character logits ``(N, T, V)``, regression outputs ``(N, out)``, or
            reconstructions ``(N, C, H, W)`` (in [0, 1] for "bce").
        target: long labels ``(N,)`` or ``(N, T)``, float targets ``(N, out)``, or images ``(N, C, H, W)``.
    """
    if target.dtype == torch.long and output.dim() == 3:  # (N, T, V) with (N, T) -> (N·T, V) with (N·T,)
        output, target = output.reshape(-1, output.shape[-1]), target.reshape(-1)
    if loss == "cross-entropy":
        return F.cross_entropy(output, target)
    if loss == "hinge":  # MultiMarginLoss: Σ_{j≠y} max(0, 1 − s_y + s_j) / C, averaged over the batch
        return F.multi_margin_loss(output, target)
    if loss == "bce":
        return F.binary_cross_entropy(output, target.reshape(output.shape).to(output.dtype))
    if target.dtype == torch.long:  # MSE between softmax probabilities and one-hot targets
        one_hot = F.one_hot(target, output.shape[-1]).to(output.dtype)
        return F.mse_loss(output.softmax(dim=-1), one_hot)
    return F.mse_loss(output, target.reshape(output.shape).to(output.dtype))


def penalised(model: nn.Module) -> list[nn.Parameter]:
    """The weights the L1 and L2 penalties act on: matrices and kernels, not biases or norm scales."""
    return [p for p in model.parameters() if p.requires_grad and p.dim() > 1]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The configured optimiser; weight decay goes to ``penalised`` weights only (two parameter groups).

    ``Loop`` passes ``weight_decay=0`` and adds λw to the gradient itself, before clipping.
    """
    decay = penalised(model)
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    lr, name = config.learning_rate, config.optimizer
    if name in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if name == "sgd" else config.momentum
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=name == "nesterov" and momentum > 0)
    if name == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, alpha=config.alpha)
    return torch.optim.Adam(groups, lr=lr, betas=tuple(config.betas))


# Settings that ``Trainer.update`` may change in a live run (they act from the next batch).
LIVE_SETTINGS = ("lr", "momentum", "betas", "alpha", "weight_decay", "l1", "clip_norm")


# Settings that belong to one optimiser only: changing them on another is refused rather than ignored.
_OWNERS = {"momentum": ("momentum", "nesterov"), "betas": ("adam",), "alpha": ("rmsprop",)}


def live_config(config: TrainConfig, changes: dict) -> TrainConfig:
    """``config`` with ``changes`` to ``LIVE_SETTINGS`` made and checked.

    Raises:
        InputError: a setting that cannot change during a run, a bad value (as ``TrainConfig.check``), or a
            changed setting the run's optimiser does not have (an unchanged value is accepted).
    """
    fixed = [k for k in changes if k not in LIVE_SETTINGS]
    if fixed:
        raise InputError(f"{fixed[0]!r} cannot change during a run (only {', '.join(LIVE_SETTINGS)} can); "
                         f"reset the run with a new configuration instead")
    for name, owners in _OWNERS.items():
        if name in changes and config.optimizer not in owners:
            value = changes[name]
            same = tuple(value) == tuple(config.betas) if name == "betas" and isinstance(value, (list, tuple)) \
                else value == getattr(config, name)
            if not same:
                raise InputError(f"{name} belongs to the {' and '.join(owners)} optimiser; this run uses "
                                 f"{config.optimizer}")
    return config.replace(**changes)


def apply_settings(optimizer: torch.optim.Optimizer, old: TrainConfig, new: TrainConfig) -> list[dict]:
    """Put ``new``'s optimiser settings into ``optimizer``'s parameter groups; returns what changed.

    Returns:
        ``[{"setting", "old", "new"}]`` for each of ``LIVE_SETTINGS`` that differs (``lr`` as the rate used).
    """
    momentum = new.momentum if new.optimizer in ("momentum", "nesterov") else 0.0
    for group in optimizer.param_groups:
        group["lr"] = new.learning_rate
        if isinstance(optimizer, torch.optim.SGD):
            group["momentum"] = momentum
            group["nesterov"] = new.optimizer == "nesterov" and momentum > 0
        if "betas" in group:
            group["betas"] = tuple(new.betas)
        if isinstance(optimizer, torch.optim.RMSprop):
            group["alpha"] = new.alpha
    changes = []
    for name in LIVE_SETTINGS:
        before, after = (old.learning_rate, new.learning_rate) if name == "lr" else (getattr(old, name),
                                                                                     getattr(new, name))
        if before != after:
            changes.append({"setting": name, "old": before, "new": after})
    return changes


# Settings that learn in seconds on CPU with Adam, measured on the presets (README, "Expected results").
_SUGGESTED_BY_CATEGORY = {"Toy 2-D": {"lr": 0.03, "epochs": 50}, "Images": {"lr": 0.003, "epochs": 20},
                          "Sequences": {"lr": 0.01, "epochs": 20}, "Characters": {"lr": 0.003, "epochs": 20},
                          "Downloads": {"lr": 0.001, "epochs": 5}}
_SUGGESTED_BY_NAME = {"xo": {"lr": 0.01, "epochs": 30}, "hello": {"lr": 0.01, "epochs": 100},
                      "mnist": {"lr": 0.001, "epochs": 5}, "mnist32": {"lr": 0.001, "epochs": 10}}


def suggested_settings(dataset: str) -> dict:
    """Adam learning rate and epochs that suit a dataset (small toy sets need a larger rate and more epochs)."""
    from engine import data

    if dataset in _SUGGESTED_BY_NAME:
        return dict(_SUGGESTED_BY_NAME[dataset])
    category = data.category(dataset) if dataset in data.names() else None
    return dict(_SUGGESTED_BY_CATEGORY.get(category, {"lr": 0.001, "epochs": 10}))
