"""Memory of one training batch, checked against ``limits.MAX_BATCH_BYTES`` before a run starts."""
from __future__ import annotations

from engine import limits
from engine.errors import InputError
from engine.network.build import Summary

# Forward activations, their gradients in the backward pass, and the copies autograd saves for it.
BACKWARD_FACTOR = 3
# Weights, their gradients and up to two optimiser buffers per weight (Adam's moments), float32.
WEIGHT_COPIES = 4


def weight_bytes(summary: Summary) -> int:
    """Bytes of weights, gradients and optimiser state."""
    return summary.total_params * 4 * WEIGHT_COPIES


def batch_bytes(summary: Summary, batch: int) -> int:
    """Estimated peak bytes of one training step on ``batch`` samples."""
    return summary.total_activation_bytes * batch * BACKWARD_FACTOR + weight_bytes(summary)


def largest_batch(summary: Summary, cap: int | None = None) -> int:
    """The largest batch whose training step fits under the cap (0 when not even one sample does)."""
    cap = limits.MAX_BATCH_BYTES if cap is None else cap
    per_sample = max(summary.total_activation_bytes * BACKWARD_FACTOR, 1)
    return max(0, (cap - weight_bytes(summary)) // per_sample)


def check_batch(summary: Summary, batch: int) -> None:
    """Refuse a batch whose training step would need more than ``limits.MAX_BATCH_BYTES``.

    Args:
        summary: ``engine.summarize`` of the (adapted) network.
        batch: samples per step (the batch size, or the whole training split when that is smaller).

    Raises:
        InputError: with the estimate, the cap and the largest batch size that fits.
    """
    cap = limits.MAX_BATCH_BYTES
    need = batch_bytes(summary, batch)
    if need <= cap:
        return
    act, weights = summary.total_activation_bytes / 2**20, weight_bytes(summary) / 2**20
    fit = largest_batch(summary, cap)
    fix = f"Use a batch size of at most {fit:,}, or a smaller network" if fit else \
        "Not even one sample fits: use a smaller network (fewer channels or units, more pooling)"
    raise InputError(f"one training batch of {batch:,} needs about {_size(need)} ({act:,.2f} MiB of "
                     f"activations per sample × {batch:,} × {BACKWARD_FACTOR} for the forward and backward passes, "
                     f"plus {weights:,.0f} MiB of weights, gradients and optimiser state); this server allows "
                     f"{_size(cap)} per batch. {fix}.")


def _size(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


# Multiply-accumulates one validation chunk may take: about 0.1-0.3 s on one CPU core, so that a stop or pause
# lands within about one training batch, while small networks still validate in one chunk.
EVAL_CHUNK_MACS = 500_000_000


def eval_chunk(summary: Summary, batch: int, most: int) -> int:
    """Validation chunk size: what ``EVAL_CHUNK_MACS`` allows, at least two training batches (no backward pass,
    so that takes about as long as one training step), at most ``most`` and within the memory cap."""
    by_cost = EVAL_CHUNK_MACS // max(summary.total_macs, 1)
    fits = (limits.MAX_BATCH_BYTES - weight_bytes(summary)) // max(summary.total_activation_bytes, 1)
    return int(max(1, min(most, max(by_cost, 2 * batch), fits)))
