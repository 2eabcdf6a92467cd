"""A run's weight trajectory: a few snapshots of its weights while it trains (CPU, bounded), and the plane of their
first two principal directions around the final weights (Li et al. 2018), kept with the run once it ends."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from engine import limits
from engine.errors import InputError

MOST_SNAPSHOTS = 20  # snapshots a run keeps at most: past it every other one goes and the stride doubles
MIN_SNAPSHOTS = 3  # fewer cannot span a plane with the final weights
FIRST_STRIDES = 8  # the first stride: a run of its planned length fills the list about 3 times (3 doublings)
_CHUNK = 1 << 20  # parameters per block of the Gram matrix (float64 copies of one block at a time)


@dataclass
class Trajectory:
    """A run's path on the plane of its first two principal directions, centred at its final weights θ*.

    Attributes:
        directions: (d₁, d₂), each {parameter name: tensor}, orthonormal over all parameters together.
        coords: each snapshot's (α, β) = its projection ((θᵢ − θ*)·d₁, (θᵢ − θ*)·d₂), in training order, the
            final weights last at (0, 0).
        steps: the step each of ``coords`` was taken at (the final one: the run's last step).
        explained: the share of the snapshots' variance about θ* along d₁ and along d₂ (0..1).
    """

    directions: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]
    coords: list[tuple[float, float]]
    steps: list[int]
    explained: tuple[float, float]


def principal_axes(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[float, float]]:
    """The top two right singular vectors of ``rows`` (k × P, e.g. θᵢ − θ*), without a P × P or k × P SVD.

    The k × k Gram matrix G = R Rᵀ is summed in float64 block by block; its eigenvectors uⱼ and eigenvalues σⱼ²
    give vⱼ = Rᵀuⱼ / σⱼ and the projections R vⱼ = σⱼ uⱼ. Signs: the first row's projection is ≤ 0 on each axis
    (the start on the left and at the bottom).

    Returns:
        (axes 2 × P float64, coords k × 2 float64, explained (σ₁², σ₂²) / Σσ²).

    Raises:
        InputError: rows that are not finite or do not span a plane.
    """
    k, size = rows.shape
    gram = torch.zeros(k, k, dtype=torch.float64)
    for at in range(0, size, _CHUNK):
        block = rows[:, at:at + _CHUNK].to(torch.float64)
        gram += block @ block.T
    if not torch.isfinite(gram).all():
        raise InputError("the trajectory holds weights that are not finite (NaN or infinite: the run diverged)")
    try:
        values, vectors = torch.linalg.eigh(gram)  # ascending
    except RuntimeError as exc:  # torch.linalg.LinAlgError: it did not converge
        raise InputError(f"the trajectory's principal directions could not be computed: {exc}") from None
    values, vectors = values.flip(0).clamp_min(0), vectors.flip(1)
    if k < 2 or values[1] <= values[0] * 1e-12 or values[1] <= 0:
        raise InputError("the trajectory does not span a plane (its checkpoints lie on one line)")
    sigma = values[:2].sqrt()
    u = vectors[:, :2] * torch.where(vectors[0, :2] > 0, -1.0, 1.0)
    axes = torch.empty(2, size, dtype=torch.float64)
    for at in range(0, size, _CHUNK):
        axes[:, at:at + _CHUNK] = u.T @ rows[:, at:at + _CHUNK].to(torch.float64)
    axes /= sigma[:, None]
    explained = (values[:2] / values.sum()).tolist()
    return axes, u * sigma, (explained[0], explained[1])


def principal_plane(final: dict[str, torch.Tensor], snapshots: list[dict[str, torch.Tensor]],
               steps: list[int] | None = None, final_step: int | None = None) -> Trajectory:
    """The principal plane of ``snapshots`` around ``final`` and the path projected onto it (the final point last).

    Args:
        final: the final weights θ* by parameter name (the names define the parameters used).
        snapshots: earlier weights by the same names (at least 2 besides ``final``).
        steps: the step of each snapshot; ``final_step`` that of ``final``.

    Raises:
        InputError: too few snapshots, ones that do not fit ``final``, or no plane.
    """
    if len(snapshots) < MIN_SNAPSHOTS - 1:
        raise InputError(f"principal directions need the run's trajectory: at least {MIN_SNAPSHOTS} checkpoints "
                         f"of its weights, the final ones included")
    names = list(final)
    centre = torch.cat([final[n].detach().reshape(-1).float().cpu() for n in names])
    try:
        rows = torch.stack([torch.cat([s[n].detach().reshape(-1).float().cpu() for n in names]) for s in snapshots]
                           + [centre]) - centre
    except (KeyError, RuntimeError):
        raise InputError("the trajectory's checkpoints do not fit this network") from None
    return _from_rows(rows, final, list(steps or range(len(snapshots))),
                      final_step if final_step is not None else len(snapshots))


def _from_rows(rows: torch.Tensor, final: dict[str, torch.Tensor], steps: list[int], final_step: int) -> Trajectory:
    axes, coords, explained = principal_axes(rows)
    directions = []
    for axis in axes:
        parts, at = {}, 0
        for name, p in final.items():
            parts[name] = axis[at:at + p.numel()].reshape(p.shape).to(torch.float32)
            at += p.numel()
        directions.append(parts)
    return Trajectory((directions[0], directions[1]), [(float(a), float(b)) for a, b in coords.tolist()],
                      list(steps) + [final_step], explained)


class Snapshots:
    """A run's weights every ``stride`` steps, flattened on the CPU: at most ``MOST_SNAPSHOTS`` and
    ``limits.MAX_TRAJECTORY_BYTES`` (PLAYGROUND_MAX_TRAJECTORY_BYTES) together; when the list overflows every
    other snapshot goes (the first stays) and the stride doubles, so they stay evenly spread over the run.

    Args:
        model: the network (its parameters are snapshotted: what ``loss_plane`` moves; buffers are not).
        total_steps: the run's planned steps: the first stride is total_steps / (``MOST_SNAPSHOTS`` ×
            ``FIRST_STRIDES``), at least 1.
    """

    def __init__(self, model: nn.Module, total_steps: int):
        self.params = list(model.named_parameters())
        size = sum(p.numel() for _, p in self.params) * 4  # float32
        self.most = min(MOST_SNAPSHOTS, limits.MAX_TRAJECTORY_BYTES // max(size, 1))
        self.why = None if self.most >= MIN_SNAPSHOTS else (
            f"this network's weights take {size / 2 ** 20:,.1f} MiB, so {MIN_SNAPSHOTS} snapshots would pass the "
            f"server's cap of {limits.MAX_TRAJECTORY_BYTES / 2 ** 20:,.0f} MiB (PLAYGROUND_MAX_TRAJECTORY_BYTES)")
        self.stride = max(1, math.ceil(total_steps / (MOST_SNAPSHOTS * FIRST_STRIDES)))
        self.kept: list[torch.Tensor] = []
        self.steps: list[int] = []
        self.path: Trajectory | None = None  # once closed: the plane, the snapshots dropped
        self.taken = 0  # snapshots taken in all, dropped ones included (what they cost: benchmarks/train_overhead)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.kept)

    def offer(self, step: int) -> None:
        """Snapshot the weights before ``step`` when a stride has passed since the last one (call before it)."""
        if self.why is not None or (self.steps and step - self.steps[-1] < self.stride):
            return
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for _, p in self.params]).to("cpu", torch.float32, copy=True)
        self.kept.append(flat)
        self.steps.append(step)
        self.taken += 1
        if len(self.kept) > self.most:
            self.kept, self.steps = self.kept[::2], self.steps[::2]
            self.stride *= 2

    def drop(self, why: str) -> None:
        """Keep no trajectory from now on (e.g. the weights were replaced): ``trajectory`` says ``why``."""
        self.why, self.kept, self.steps, self.path = why, [], [], None

    def close(self, final_step: int) -> None:
        """The run has ended: keep its plane (2 × the weights) instead of the snapshots (up to 20 ×). Never
        raises (the worker thread frees an ended run through it)."""
        if self.path is None and self.why is None:
            try:
                self.path = self.trajectory(final_step)
            except InputError as err:
                self.why = str(err).removeprefix("the run kept no trajectory: ")
            except (RuntimeError, MemoryError) as exc:  # the run's end must not fail over its picture
                self.why = f"its principal directions could not be computed ({type(exc).__name__})"
        self.kept, self.steps = [], []

    def trajectory(self, final_step: int) -> Trajectory:
        """The principal plane around the weights now (the final ones). Raises InputError without enough."""
        if self.path is not None:
            return self.path
        if self.why is not None:
            raise InputError(f"the run kept no trajectory: {self.why}")
        # before the end, and finite: a diverged run snapshotted NaN weights before it restored its best ones
        kept = [(t, s) for t, s in zip(self.kept, self.steps) if s < final_step and bool(torch.isfinite(t).all())]
        if len(kept) < MIN_SNAPSHOTS - 1:
            raise InputError(f"the run kept no trajectory: it took too few snapshots of its weights for principal "
                             f"directions ({len(kept)} before its end; a longer run keeps up to {self.most})")
        final = {n: p.detach().float().cpu() for n, p in self.params}
        centre = torch.cat([t.reshape(-1) for t in final.values()])
        rows = torch.stack([t for t, _ in kept] + [centre]) - centre
        return _from_rows(rows, final, [s for _, s in kept], final_step)


TRAJECTORY = "trajectory/"  # the prefix of a run's trajectory kept in its weights file (no module name holds "/")


def to_tensors(path: Trajectory) -> dict[str, torch.Tensor]:
    """A trajectory as tensors named under ``TRAJECTORY``, for a weights file."""
    out = {f"{TRAJECTORY}d{i + 1}/{n}": t.contiguous() for i, d in enumerate(path.directions) for n, t in d.items()}
    out[TRAJECTORY + "coords"] = torch.tensor(path.coords, dtype=torch.float64).reshape(-1, 2)
    out[TRAJECTORY + "steps"] = torch.tensor(path.steps, dtype=torch.int64)
    out[TRAJECTORY + "explained"] = torch.tensor(path.explained, dtype=torch.float64)
    return out


def from_tensors(tensors: dict[str, torch.Tensor]) -> Trajectory | None:
    """The trajectory ``to_tensors`` wrote among a weights file's tensors, or None when there is none (or it is
    malformed: an older or hand-made file)."""
    found = {k[len(TRAJECTORY):]: v for k, v in tensors.items() if k.startswith(TRAJECTORY)}
    coords, steps, explained = (found.get(k) for k in ("coords", "steps", "explained"))
    d1 = {k[3:]: v for k, v in found.items() if k.startswith("d1/")}
    d2 = {k[3:]: v for k, v in found.items() if k.startswith("d2/")}
    if (coords is None or steps is None or explained is None or not d1 or set(d1) != set(d2)
            or coords.dim() != 2 or coords.shape[1] != 2 or len(steps) != len(coords) or explained.numel() != 2):
        return None
    return Trajectory((d1, d2), [(float(a), float(b)) for a, b in coords.tolist()], [int(s) for s in steps.tolist()],
                      (float(explained[0]), float(explained[1])))
