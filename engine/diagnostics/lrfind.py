"""The learning-rate range test (Smith 2017, fastai's lr_find): train briefly with a rate growing exponentially."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from engine.errors import InputError
from engine.network.spec import ModelSpec
from engine.training import Loop, TrainConfig

SMOOTHING = 0.98  # the exponential moving average's β (with bias correction), as fastai smooths the loss
STOP_FACTOR = 4.0  # stop once the smoothed loss passes this many times its best
SMALL_FALL = 0.10  # a smoothed loss that fell by less than this share of its first value: the picks mean little
MAX_STEPS = 1000  # rates a test tries at most


@dataclass
class LRFind:
    """The range test's result.

    Attributes:
        lrs: the learning rate of each step taken, increasing.
        losses: each step's training-batch loss (before its update).
        smoothed: the bias-corrected exponential moving average of ``losses`` (β = 0.98).
        suggestion: the rate where the smoothed loss falls fastest (steepest descent in log η, before its minimum,
            after the first tenth of the steps).
        min_tenth: the rate at the smoothed loss's minimum, divided by 10 (the other usual pick).
        stopped: why the test ended ("the smoothed loss passed 4× its best at η = …", the usual end; "the loss
            became NaN …"; "reached the last rate"), and when the smoothed loss fell by less than 10% of its first
            value, by how much: no rate trained the network much in these steps (a 10-layer sigmoid net whose
            gradients vanish, or too few steps for the data), so the picks are rough.
        diverged: True when the loss became NaN, infinite or a thousand times its first (the training loop's own
            test) before the last rate, or the smoothed loss passed 4× its best without ever falling; passing 4×
            its best after falling is the test's expected end, not this.
        usable: True when the smoothed loss fell below its first value, so that both picks come from a descent;
            else the curve says nothing (start from a smaller rate), and ``stopped`` says so.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float
    min_tenth: float
    stopped: str
    diverged: bool
    usable: bool = True

    def to_dict(self) -> dict:
        """Its plain JSON data (what a workspace keeps; ``from_dict`` reads it back)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, value) -> LRFind:
        """A result again from ``to_dict``'s data, checked: it comes from a stored or an imported workspace.

        Raises:
            InputError: saying what is wrong (a field missing or of the wrong kind, curves of different lengths or
                longer than the test takes, rates that are not positive and growing, a non-finite number).
        """
        if not isinstance(value, dict):
            raise InputError(f"a range test's result is a JSON object, not {type(value).__name__}")
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in value]
        if missing:
            raise InputError(f"a range test's result lacks {', '.join(missing)}")
        curves = [value[name] for name in ("lrs", "losses", "smoothed")]
        if not all(isinstance(c, list) for c in curves) or len({len(c) for c in curves}) != 1 \
                or not 1 <= len(curves[0]) <= MAX_STEPS:
            raise InputError(f"a range test's curves are lists of one length, 1 to {MAX_STEPS:,} rates")
        numbers = [*curves[0], *curves[1], *curves[2], value["suggestion"], value["min_tenth"]]
        try:  # an integer past a float's range (JSON's have no bound) overflows here
            finite = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in numbers)
        except OverflowError:
            finite = False
        if not finite:
            raise InputError("a range test's rates and losses are finite numbers")
        lrs = curves[0]
        if lrs[0] <= 0 or any(b <= a for a, b in zip(lrs, lrs[1:])) or min(value["suggestion"],
                                                                           value["min_tenth"]) <= 0:
            raise InputError("a range test's rates are positive and growing")
        if not isinstance(value["stopped"], str) or len(value["stopped"]) > 2000 \
                or not all(isinstance(value[k], bool) for k in ("diverged", "usable")):
            raise InputError("a range test's ending is a short text and two true/false flags")
        return cls([float(v) for v in lrs], [float(v) for v in curves[1]], [float(v) for v in curves[2]],
                   float(value["suggestion"]), float(value["min_tenth"]), value["stopped"], value["diverged"],
                   value["usable"])


def rates(start: float, end: float, steps: int) -> np.ndarray:
    """``steps`` rates from ``start`` to ``end``, evenly spaced in log η."""
    return np.geomspace(start, end, steps)


def lr_find(spec: ModelSpec, dataset, config: TrainConfig, *, start: float = 1e-7, end: float = 10.0,
            steps: int = 100, seed: int = 0, state: dict | None = None,
            progress: Callable[[float], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> LRFind:
    """Train a copy of the network with the learning rate growing from ``start`` to ``end``; suggest a rate.

    The network is built from ``spec`` with ``seed`` (or loaded with ``state``, a copy), trained on ``dataset``
    with ``config``'s optimiser, loss, batch size, augmentation and penalties, one batch per rate; the same seed
    gives the same result. Nothing outside the copy changes. It stops early once the smoothed loss passes 4× its
    best, or when the loss stops being finite (the result says so).

    Args:
        spec: the network.
        dataset: the data (an ``engine.data`` Dataset).
        config: the run's settings (its learning rate, epochs and early stopping are not used).
        start, end: the first and the last rate (0 < start < end).
        steps: rates tried at most (2 to 1,000).
        seed: the copy's weights (when ``state`` is None), batch order and dropout.
        state: weights to start from (a state_dict, e.g. the session's trained model's), copied.
        progress: called with the share done (0..1) after each step.
        cancel: polled before each step; when it turns true the test ends where it is.

    Returns:
        An ``LRFind``.

    Raises:
        InputError: bad bounds or steps, or a network that cannot train on the data (the message says why).
    """
    if not (0 < start < end and math.isfinite(end)):
        raise InputError(f"the rates must grow: 0 < start < end, not start={start:g}, end={end:g}")
    if not 2 <= steps <= MAX_STEPS:
        raise InputError(f"the range test takes 2 to {MAX_STEPS:,} steps, not {steps}")
    n = len(dataset.split("train")[0])
    per_epoch = max(1, math.ceil(n / config.batch_size))
    cfg = dataclasses.replace(config, seed=seed, lr=float(start), epochs=steps // per_epoch + 2,
                              early_stopping=False, metrics_every=1)
    loop = Loop(spec, cfg, dataset)
    loop.recorder = None  # no histograms here
    loop.snapshots.drop("the range test keeps no trajectory")  # nor weight snapshots for the landscape
    if state is not None:
        with torch.no_grad():
            loop.model.load_state_dict({k: v.detach().clone() for k, v in state.items()})
    lrs, losses, smoothed = [], [], []
    avg, best, stopped, diverged = 0.0, math.inf, "reached the last rate", False
    for i, lr in enumerate(rates(start, end, steps)):
        if cancel is not None and cancel():
            stopped = "cancelled"
            break
        for group in loop.optimizer.param_groups:
            group["lr"] = float(lr)
        records = loop.train_batch(force_metrics=True)
        step = next((r for r in records if r.get("kind") == "step"), None)
        loss = step["train_loss"] if step else math.nan
        if loop.outcome and loop.outcome[0] == "diverged" or not math.isfinite(loss):
            stopped = f"the loss became NaN, infinite or exploded at η = {lr:.3g}: the network diverged"
            diverged = True
            break
        avg = SMOOTHING * avg + (1 - SMOOTHING) * loss
        smooth = avg / (1 - SMOOTHING ** (i + 1))
        lrs.append(float(lr))
        losses.append(float(loss))
        smoothed.append(float(smooth))
        best = min(best, smooth)
        if progress is not None:
            progress((i + 1) / steps)
        if i and smooth > STOP_FACTOR * best:
            stopped = f"the smoothed loss passed {STOP_FACTOR:g}× its best ({best:.4g}) at η = {lr:.3g}"
            break
        if loop.outcome:  # finished its data (cannot happen with the epochs above; kept for safety)
            stopped = loop.outcome[1]
            break
    if not lrs:
        raise InputError(f"the range test stopped at its first step: {stopped}. Start from a smaller rate than "
                         f"{start:g}, or check the network and data")
    suggestion, min_tenth = suggest(lrs, smoothed)
    usable = int(np.argmin(smoothed)) > 0
    passed = stopped.startswith("the smoothed loss passed")
    if passed and usable:
        stopped += ", the usual end of the test: past the rates at which this network trains"
    elif passed:  # growing from the first rates on: that is no end of a curve but a network diverging
        stopped, diverged = stopped + ": the network diverged from the first rates", True
    if not usable:
        stopped += f"; the loss never fell below its first value: start from a smaller rate than {start:g}"
    elif (fell := 1 - min(smoothed) / smoothed[0]) < SMALL_FALL:
        stopped += (f"; the smoothed loss fell by only {100 * fell:.0f}% ({smoothed[0]:.4g} → {min(smoothed):.4g}): "
                    f"no rate trained this network much in {len(lrs)} steps, so both picks are rough (vanishing "
                    "gradients, shown on the Gradients page, or a task that needs more steps)")
    return LRFind(lrs, losses, smoothed, suggestion, min_tenth, stopped, diverged, usable)


def suggest(lrs: list[float], smoothed: list[float]) -> tuple[float, float]:
    """(steepest-descent rate, the minimum's rate / 10) of a smoothed loss curve."""
    if len(lrs) < 2:
        return float(lrs[0]), float(lrs[0] / 10)
    s = np.asarray(smoothed)
    lowest = int(np.argmin(s))
    slopes = np.gradient(s, np.log10(lrs))
    skip = min(len(lrs) // 10, lowest)  # the first tenth: the average is still settling there
    steepest = skip + int(np.argmin(slopes[skip:lowest + 1]))
    return float(lrs[steepest]), float(lrs[lowest] / 10)
