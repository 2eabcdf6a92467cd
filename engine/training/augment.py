"""Image augmentation on a batch already on its device: flips, shifts, rotations, random erasing, mixup."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, config, generator: torch.Generator, rng: np.random.Generator
            ) -> tuple[torch.Tensor, tuple[float, torch.Tensor] | None]:
    """A randomly transformed copy of an image batch ``(N, C, H, W)``.

    Random numbers come from a CPU ``generator`` (and ``rng`` for mixup's λ), so a seed repeats a run.

    Returns:
        The batch, and ``(λ, perm)`` when mixup is on (the loss is λ·L(y) + (1 − λ)·L(y[perm])), else None.
    """
    n, device = x.shape[0], x.device
    if config.flip:
        flip = (torch.rand(n, generator=generator) < 0.5).to(device)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if config.shift or config.rotate:
        x = _affine(x, config.shift, config.rotate, generator)
    if config.erase:
        x = _erase(x, config.erase, generator)
    mix = None
    if config.mixup:
        lam = float(rng.beta(config.mixup, config.mixup))
        perm = torch.randperm(n, generator=generator).to(device)
        x = lam * x + (1.0 - lam) * x[perm]  # x̃ = λx_i + (1−λ)x_j
        mix = (lam, perm)
    return x, mix


def _affine(x: torch.Tensor, shift: int, degrees: float, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by whole pixels in ±shift and rotate it by up to ±degrees, zeros filling in."""
    n, _, h, w = x.shape
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(degrees)
    dx = torch.randint(-shift, shift + 1, (n,), generator=generator)
    dy = torch.randint(-shift, shift + 1, (n,), generator=generator)
    cos, sin = angle.cos(), angle.sin()
    # affine_grid maps output to input coordinates in [-1, 1]: a shift of d pixels is 2d/size there.
    theta = torch.stack([torch.stack([cos, -sin, -2 * dx / w], 1),
                         torch.stack([sin, cos, -2 * dy / h], 1)], 1).to(x.device, x.dtype)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _erase(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Random erasing: with probability p, zero a rectangle a quarter to a half of each side."""
    n, _, h, w = x.shape
    eh = torch.randint(max(1, h // 4), max(1, h // 2) + 1, (n,), generator=generator)
    ew = torch.randint(max(1, w // 4), max(1, w // 2) + 1, (n,), generator=generator)
    y0 = (torch.rand(n, generator=generator) * (h - eh + 1)).long()
    x0 = (torch.rand(n, generator=generator) * (w - ew + 1)).long()
    on = torch.rand(n, generator=generator) < p
    rows, cols = torch.arange(h), torch.arange(w)
    in_rows = (rows >= y0[:, None]) & (rows < (y0 + eh)[:, None])  # (N, H)
    in_cols = (cols >= x0[:, None]) & (cols < (x0 + ew)[:, None])  # (N, W)
    mask = in_rows[:, :, None] & in_cols[:, None, :] & on[:, None, None]  # (N, H, W)
    return x.masked_fill(mask[:, None].to(x.device), 0.0)
