"""The loss landscape: along the straight line between two weight states, and on a plane around the trained one."""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from engine import limits
from engine.device import background_priority
from engine.errors import InputError
from engine.training import LOSSES, compute_loss
from engine.training.trajectory import Trajectory, principal_plane

LossArg = str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
DIRECTIONS = ("random", "pca")
CHUNK = 128  # samples per forward pass: larger batches ran 1.5 times slower per sample on the CPU (cache misses)


@dataclass
class LossPlane:
    """The loss on a grid around the model's weights θ*: θ* + α·d₁ + β·d₂.

    Attributes:
        alphas, betas: the grid's coordinates along d₁ and d₂ (each ``steps`` long, 0 among them).
        losses: ``losses[i][j]`` is the loss at (alphas[i], betas[j]); the centre is the model's own loss.
        centre: the model's own loss on the batch.
        directions: "random" (filter-normalised Gaussian) or "pca" (the trajectory's first two principal axes).
        trajectory: for "pca", each checkpoint's (α, β) on the plane (its projection), else None.
        explained: for "pca", the share of the trajectory's variance along d₁ and d₂, else None.
    """

    alphas: list[float]
    betas: list[float]
    losses: list[list[float]]
    centre: float
    directions: str
    trajectory: list[tuple[float, float]] | None = None
    explained: tuple[float, float] | None = None


def _loss_fn(loss: LossArg, y: torch.Tensor):
    if callable(loss):
        return loss
    name = ("cross-entropy" if not y.is_floating_point() else "mse") if loss == "auto" else loss
    if name not in LOSSES or LOSSES[name].fn is None:
        raise InputError(f"unknown loss {loss!r}; one of {', '.join(k for k in LOSSES if LOSSES[k].fn)}")
    return lambda out, target: compute_loss(name, out, target)


def _check_points(points: int, what: str) -> None:
    if points > limits.MAX_LANDSCAPE_POINTS:
        raise InputError(f"{what} has {points:,} points, over this server's cap of {limits.MAX_LANDSCAPE_POINTS:,} "
                         f"(PLAYGROUND_MAX_LANDSCAPE_POINTS): choose fewer steps")


def _layout(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Convolution weights (4-D) made channels-last on the CPU: its max pooling runs 5 to 10 times faster there
    (mnist-cnn: 165 instead of 217 ms of CPU a 512-sample pass). Returns each changed parameter with its own data,
    to put back."""
    changed = []
    for p in model.parameters():
        if p.dim() == 4 and p.device.type == "cpu":
            changed.append((p, p.data))
            # .to, not .contiguous: a one-channel weight counts as channels-last contiguous already, yet runs as NCHW
            p.data = p.data.to(memory_format=torch.channels_last)
    return changed


def _workers(model: nn.Module, chunks: int) -> int:
    """Evaluation threads: on the CPU as many as ``limits.LANDSCAPE_THREADS`` cores hold with torch's own threads
    each (2 on a 2-core server with one torch thread), one per chunk at most; elsewhere one."""
    first = next(model.parameters())
    if first.device.type != "cpu":
        return 1
    return max(1, min(chunks, limits.LANDSCAPE_THREADS // max(1, torch.get_num_threads())))


def _background() -> None:
    background_priority(limits.TRAIN_NICE)  # like a training run: the page scripts and the web server go first


@contextmanager
def _evaluating(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: LossArg):
    """Yields ``evaluate() -> float``, the loss of the model's current weights on ``x, y``: eval mode, no
    gradients, convolution weights channels-last on the CPU, chunks evaluated side by side on ``_workers``
    threads. Every weight, buffer, memory layout and mode is restored bit for bit afterwards."""
    first = next(model.parameters(), None)
    if first is None:
        raise InputError("this network has no weights, so it has no loss landscape")
    x = x.to(first.device, first.dtype) if x.is_floating_point() else x.to(first.device)
    y = y.to(first.device, first.dtype) if y.is_floating_point() else y.to(first.device)
    fn = _loss_fn(loss, y)
    modes = [(m, m.training) for m in model.modules()]
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if x.dim() == 4 and any(p.dim() == 4 for p in model.parameters()) and first.device.type == "cpu":
        x = x.to(memory_format=torch.channels_last)  # as _layout makes the convolutions' weights
    chunks = [(x[i:i + CHUNK], y[i:i + CHUNK]) for i in range(0, len(x), CHUNK)]
    workers = _workers(model, len(chunks))

    def part(chunk) -> float:
        with torch.inference_mode():  # per thread: the pool's threads do not inherit the caller's grad mode
            return float(fn(model(chunk[0]), chunk[1]))

    def evaluate() -> float:
        try:
            if len(chunks) == 1:
                return part(chunks[0])
            means = pool.map(part, chunks) if pool is not None else map(part, chunks)
            # the batch mean from chunk means, each weighted by its share of the loss terms (targets' elements),
            # summed in the chunks' order whichever thread computed them: the same number on 1 thread or 8
            return sum(m * c[1].numel() for m, c in zip(means, chunks)) / y.numel()
        except (RuntimeError, ValueError, IndexError) as exc:
            raise InputError(f"the loss of this network cannot be evaluated on a batch of shape {tuple(x.shape)} "
                             f"with targets {tuple(y.shape)}: {exc}") from None

    pool, layouts = None, []
    try:
        layouts = _layout(model)
        pool = ThreadPoolExecutor(workers, "loss-landscape", initializer=_background) if workers > 1 else None
        model.eval()
        with torch.no_grad():
            yield evaluate
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        for p, data in layouts:
            p.data = data
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(saved[k])
        for module, training in modes:
            module.training = training


def loss_line(model: nn.Module, start_state: dict, end_state: dict, x: torch.Tensor, y: torch.Tensor,
              loss: LossArg, alphas) -> list[float]:
    """The loss along θ(α) = (1 − α)·θ₀ + α·θ₁ (Goodfellow, Vinyals and Saxe 2015), e.g. α from −0.5 to 1.5.

    Every floating-point entry of the state (weights and batch-norm statistics) is interpolated; integer ones
    (counters) come from ``end_state``. The model runs in eval mode without gradients; its weights, buffers and
    modes are restored bit for bit afterwards. On the CPU its 4-D (convolution) weights run channels-last meanwhile
    (losses within float rounding of the default layout's) and the batch's chunks on up to
    ``limits.LANDSCAPE_THREADS`` cores (PLAYGROUND_LANDSCAPE_THREADS; the same losses on one).

    Args:
        model: the network (its own weights do not matter).
        start_state, end_state: state_dicts θ₀ (e.g. the run's initial weights) and θ₁ (its trained ones).
        x, y: the evaluation batch and its targets (moved to the model's device); more than ``CHUNK`` (128)
            samples are evaluated 128 at a time and their batch-mean losses averaged, each weighted by its share of
            the targets' elements (equal to one pass up to float rounding).
        loss: a ``LOSSES`` name ("cross-entropy", "mse", ...; "auto" picks by the targets) or ``fn(out, y)``, a
            batch-mean loss.
        alphas: the positions on the line (at most ``limits.MAX_LANDSCAPE_POINTS``).

    Returns:
        The loss at each α: at 0 the loss of ``start_state`` as the model evaluates it (bit for bit; convolutional
            networks within float rounding, channels-last), at 1 that of ``end_state``.

    Raises:
        InputError: states that do not fit the model, too many points, a loss that cannot be evaluated.
    """
    alphas = [float(a) for a in alphas]
    _check_points(len(alphas), "the line")
    own = model.state_dict()
    for name, state in (("start", start_state), ("end", end_state)):
        if state is None:
            raise InputError(f"the line needs the run's {name} weights; this run did not keep them (train it again)")
        if set(state) != set(own) or any(tuple(state[k].shape) != tuple(own[k].shape) for k in own):
            raise InputError(f"the {name} weights do not fit this network (saved from another one?)")
    keys = [k for k, v in own.items() if v.is_floating_point()]
    s0 = [start_state[k].to(own[k].device, own[k].dtype) for k in keys]
    s1 = [end_state[k].to(own[k].device, own[k].dtype) for k in keys]
    out = []
    with _evaluating(model, x, y, loss) as evaluate:
        own = model.state_dict()  # after _evaluating: the convolutions' channels-last weights are the ones it runs
        targets = [own[k] for k in keys]
        for k, v in own.items():
            if not v.is_floating_point():
                v.copy_(end_state[k])
        for a in alphas:
            # (1 − α)·θ₀ + α·θ₁, not θ₀ + α(θ₁ − θ₀): exactly θ₀ at α = 0 and θ₁ at α = 1
            mixed = torch._foreach_add(torch._foreach_mul(s0, 1.0 - a), torch._foreach_mul(s1, a))
            torch._foreach_copy_(targets, mixed)
            out.append(evaluate())
    return out


def grid(steps: int, span: float) -> list[float]:
    """``steps`` coordinates from −span, evenly spaced, 0 among them (symmetric when ``steps`` is odd)."""
    half = steps // 2
    return [span * (i - half) / max(half, 1) for i in range(steps)]


def random_direction(model: nn.Module, generator: torch.Generator) -> list[torch.Tensor]:
    """A Gaussian direction per parameter, normalised filter by filter (Li et al. 2018).

    For a weight of two or more dimensions each filter (a slice along the first dimension: a convolution's output
    channel, a Linear layer's row) is scaled to the norm of the same filter of the weight; one-dimensional
    parameters (biases, batch norm's γ and β) get a zero direction.
    """
    out = []
    for p in model.parameters():
        d = torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p.device, p.dtype)
        if p.dim() <= 1:
            out.append(torch.zeros_like(p))
            continue
        w = p.detach().reshape(p.shape[0], -1)
        dn = d.reshape(p.shape[0], -1)
        scale = w.norm(dim=1, keepdim=True) / dn.norm(dim=1, keepdim=True).clamp_min(1e-12)
        out.append((dn * scale).reshape(p.shape))
    return out


def _pca(model: nn.Module, trajectory: list[dict] | Trajectory | None):
    """Two orthonormal directions (the checkpoints' principal axes around the model's weights), the checkpoints'
    projections and the variance each direction explains."""
    params = dict(model.named_parameters())
    if isinstance(trajectory, Trajectory):
        path = trajectory
    elif not trajectory or len(trajectory) < 3:
        raise InputError("PCA directions need the run's trajectory: at least 3 checkpoints of its weights "
                         "(pass trajectory=[state_dict, ...]); use directions=\"random\" without them")
    else:
        final = {n: p.detach() for n, p in params.items()}
        path = principal_plane(final, trajectory[:-1] if _same(trajectory[-1], final) else trajectory)
    if any(set(d) != set(params) or any(d[n].shape != p.shape for n, p in params.items()) for d in path.directions):
        raise InputError("the trajectory's directions do not fit this network (kept by another one?)")
    directions = [[d[n].to(p.device, p.dtype) for n, p in params.items()] for d in path.directions]
    return directions, [tuple(c) for c in path.coords], tuple(path.explained)


def _same(state: dict, final: dict) -> bool:
    """Whether a checkpoint is the final weights themselves (the trajectory's last point, then not doubled)."""
    return all(n in state and torch.equal(state[n].detach().cpu(), final[n].cpu()) for n in final)


def loss_plane(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: LossArg, *, steps: int = 21,
               span: float = 1.0, seed: int = 0, directions: str = "random",
               trajectory: list[dict] | Trajectory | None = None,
               progress: Callable[[float], None] | None = None,
               cancel: Callable[[], bool] | None = None) -> LossPlane:
    """The loss on a ``steps`` × ``steps`` grid around the model's weights (Li et al. 2018).

    The model runs in eval mode without gradients; its weights, buffers and modes are restored bit for bit.

    Args:
        model: the trained network (θ*, the grid's centre).
        x, y: a fixed evaluation batch (e.g. 512 seeded samples) and its targets (evaluated as for ``loss_line``).
        loss: a ``LOSSES`` name ("auto" picks by the targets) or ``fn(out, y)``.
        steps: points per axis (2 to 101; steps² at most ``limits.MAX_LANDSCAPE_POINTS``).
        span: for "random", the grid covers ±span along each direction; for "pca", ±span × 1.2 × the
            trajectory's extent.
        seed: the random directions' generator.
        directions: "random" (two filter-normalised Gaussian directions; bias and batch-norm directions zero) or
            "pca" (the first two principal directions of ``trajectory`` around θ*, which is projected onto the
            plane).
        trajectory: for "pca", checkpoints of the run's weights (state_dicts, at least 3 with the final ones) or a
            run's ``Trajectory`` (``Trainer.trajectory()``, ``SavedRun.trajectory()``: its directions and path).
        progress: called with the share done (0..1) after each row.
        cancel: polled before each row; when it turns true, InputError("cancelled").

    Returns:
        A ``LossPlane``.

    Raises:
        InputError: a grid over the cap (named), unknown directions, a trajectory missing, a loss that cannot
            be evaluated, cancelled.
    """
    if directions not in DIRECTIONS:
        raise InputError(f"directions should be one of {', '.join(DIRECTIONS)}, not {directions!r}")
    if not 2 <= steps <= 101:
        raise InputError(f"the grid takes 2 to 101 steps per axis, not {steps}")
    if not (span > 0 and math.isfinite(span)):
        raise InputError(f"the span should be a positive number, not {span}")
    _check_points(steps * steps, f"a {steps}×{steps} grid")
    params = [p for p in model.parameters()]
    base = [p.detach().clone() for p in params]
    track, explained, scale = None, None, (span, span)
    if directions == "random":
        gen = torch.Generator().manual_seed(seed)
        d1, d2 = random_direction(model, gen), random_direction(model, gen)
    else:
        (d1, d2), track, explained = _pca(model, trajectory)
        extent = [max(abs(c[i]) for c in track) or 1.0 for i in (0, 1)]
        scale = (span * 1.2 * extent[0], span * 1.2 * extent[1])
    alphas, betas = grid(steps, scale[0]), grid(steps, scale[1])
    losses = []
    with _evaluating(model, x, y, loss) as evaluate:
        centre = evaluate()
        for i, a in enumerate(alphas):
            if cancel is not None and cancel():
                raise InputError("the loss plane was cancelled")
            row = []
            for b in betas:
                if a == 0 and b == 0:
                    torch._foreach_copy_(params, base)
                else:
                    point = torch._foreach_add(base, d1, alpha=a)
                    torch._foreach_add_(point, d2, alpha=b)
                    torch._foreach_copy_(params, point)
                row.append(evaluate())
            losses.append(row)
            if progress is not None:
                progress((i + 1) / steps)
    return LossPlane(alphas, betas, losses, centre, directions, track, explained)


def line_alphas(points: int = 41, lo: float = -0.5, hi: float = 1.5) -> list[float]:
    """``points`` positions from ``lo`` to ``hi``, 0 and 1 among them when the spacing allows (41: steps of 0.05)."""
    return [float(v) for v in np.round(np.linspace(lo, hi, points), 12)]
