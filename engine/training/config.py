"""Training configuration as one dataclass, the settings a live run may change, and suggested settings per dataset."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch

from engine import data, limits
from engine.errors import InputError
from engine.network.init import SCHEMES
from engine.training.losses import LOSSES
from engine.training.optimizers import OPTIMIZERS, owners

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
        return float(self.lr) if self.lr is not None else OPTIMIZERS[self.optimizer].default_lr

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


# Settings that ``Trainer.update`` may change in a live run (they act from the next batch).
LIVE_SETTINGS = ("lr", "momentum", "betas", "alpha", "weight_decay", "l1", "clip_norm")


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
    optimizer = OPTIMIZERS[config.optimizer]
    for name in LIVE_SETTINGS:  # another optimiser's setting is refused rather than ignored
        if name in changes and not optimizer.uses(name):
            value = changes[name]
            same = tuple(value) == tuple(config.betas) if name == "betas" and isinstance(value, (list, tuple)) \
                else value == getattr(config, name)
            if not same:
                raise InputError(f"{name} belongs to the {' and '.join(owners(name))} optimiser; this run uses "
                                 f"{config.optimizer}")
    return config.replace(**changes)


def apply_settings(optimizer: torch.optim.Optimizer, old: TrainConfig, new: TrainConfig) -> list[dict]:
    """Put ``new``'s optimiser settings into ``optimizer``'s parameter groups; returns what changed.

    Returns:
        ``[{"setting", "old", "new"}]`` for each of ``LIVE_SETTINGS`` that differs (``lr`` as the rate used).
    """
    OPTIMIZERS[new.optimizer].apply(optimizer, new.learning_rate, new)
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
    if dataset in _SUGGESTED_BY_NAME:
        return dict(_SUGGESTED_BY_NAME[dataset])
    category = data.category(dataset) if dataset in data.names() else None
    return dict(_SUGGESTED_BY_CATEGORY.get(category, {"lr": 0.001, "epochs": 10}))
