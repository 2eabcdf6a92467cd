"""After (or during) training: evaluation with a confusion matrix, decision-boundary grids, character sampling."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.data.base import has_accuracy
from engine.errors import InputError
from engine.training.losses import compute_loss, resolve_loss
from engine.training.sequence import forward_with_state, stateful_problem

EVAL_BATCH = 1024
# Temperatures below this divide float32 logits into ±inf (softmax then gives NaN): sample greedily instead.
# At 1e-4 a logit gap of 0.01 is already a factor e^100 in probability, i.e. greedy in all but ties.
GREEDY_BELOW = 1e-4


def _device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@torch.no_grad()
def _outputs(model: nn.Module, x: torch.Tensor, batch: int = EVAL_BATCH) -> torch.Tensor:
    """The model's outputs for x in evaluation mode (dropout off, batch-norm running statistics)."""
    was_training = model.training
    model.eval()
    try:
        device = _device(model)
        return torch.cat([model(x[i:i + batch].to(device)) for i in range(0, len(x), batch)])
    finally:
        model.train(was_training)


@torch.no_grad()
def chunk_sums(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str, task: str) -> torch.Tensor:
    """[loss × terms, correct] of one chunk on the model's device, without synchronising; terms = ``y.numel()``.

    Every loss here is a mean over a multiple of ``y.numel()`` (samples, tokens, outputs), so chunk sums
    weighted by it add up to the loss of the whole split.
    """
    out = model(x)
    y = y.to(out.device)
    value = compute_loss(loss, out, y) * float(y.numel())
    if not has_accuracy(task):
        return torch.stack([value, torch.zeros_like(value)])
    return torch.stack([value, (out.argmax(dim=-1) == y).sum().to(value.dtype)])


def batched_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str, task: str,
                 batch: int = EVAL_BATCH) -> tuple[float, float | None]:
    """Mean loss and accuracy (None for regression and reconstruction) over a split, in evaluation mode."""
    was_training = model.training
    model.eval()
    try:
        device = _device(model)
        sums = sum(chunk_sums(model, x[i:i + batch].to(device), y[i:i + batch], loss, task)
                   for i in range(0, len(x), batch))
    finally:
        model.train(was_training)
    (value, correct), terms = sums.tolist(), y.numel()
    return value / terms, correct / terms if has_accuracy(task) else None


def evaluate(model: nn.Module, dataset, split: str = "test", loss: str = "auto") -> dict:
    """Loss, accuracy, confusion matrix and misclassified samples of one split.

    Args:
        model: a trained network (on any device).
        dataset: an ``engine.data.Dataset``.
        split: "train", "val" or "test".
        loss: a ``LOSSES`` name; "auto" is the task's own.

    Returns:
        ``{"loss", "accuracy", "confusion", "misclassified", "predictions"}``: ``confusion`` is a numpy
        ``(C, C)`` array of counts, rows the true class and columns the predicted one; ``misclassified``
        holds the indices of wrong samples (of wrong tokens in the flattened ``(N·T,)`` targets for "char").
        Regression and reconstruction give only the loss (accuracy and confusion None, no misclassified).
    """
    x, y = dataset.split(split)
    out = _outputs(model, x)
    y = y.to(out.device)
    name = resolve_loss(loss, dataset.task)
    result = {"loss": float(compute_loss(name, out, y)), "accuracy": None, "confusion": None,
              "misclassified": np.zeros(0, dtype=np.int64), "predictions": out.cpu().numpy()}
    if not has_accuracy(dataset.task):
        return result
    pred = out.argmax(dim=-1).reshape(-1).cpu().numpy()
    true = y.reshape(-1).cpu().numpy()
    c = out.shape[-1]
    result.update(accuracy=float((pred == true).mean()), predictions=pred,
                  confusion=np.bincount(true * c + pred, minlength=c * c).reshape(c, c),
                  misclassified=np.flatnonzero(pred != true))
    return result


def predict_grid(model: nn.Module, xlim: tuple[float, float], ylim: tuple[float, float], n: int = 100) -> dict:
    """Class probabilities on an n×n grid of 2-D inputs, for the decision-boundary heatmap.

    Returns:
        ``{"xs": (n,), "ys": (n,), "probs": (n, n, C)}`` numpy arrays; ``probs[i, j]`` is at (xs[j], ys[i]).
        A one-output model (regression) gives its raw output as ``(n, n, 1)``.
    """
    if not 2 <= n <= 1000:
        raise InputError(f"the grid needs 2 to 1000 points a side, not {n}")
    xs = np.linspace(*xlim, n, dtype=np.float32)
    ys = np.linspace(*ylim, n, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)  # (n, n): rows follow y
    points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))  # (n·n, 2)
    out = _outputs(model, points)
    probs = out.softmax(dim=-1) if out.shape[-1] > 1 else out
    return {"xs": xs, "ys": ys, "probs": probs.reshape(n, n, -1).cpu().numpy()}


@torch.no_grad()
def sample(model: nn.Module, vocab: list[str], prefix: str = "", length: int = 100, temperature: float = 1.0,
           seed: int = 0) -> str:
    """Generate text one character at a time from a character model.

    Args:
        model: a network from token ids ``(N, T)`` to logits ``(N, T, V)``.
        vocab: the characters in token-id order (``dataset.vocab``).
        prefix: text to start from (every character must be in vocab); empty starts from a random one.
        length: characters to generate.
        temperature: divides the logits; 0 (or anything below ``GREEDY_BELOW``, where the division overflows)
            picks the most likely character each time (deterministic).
        seed: seeds the draws.

    Returns:
        The ``length`` generated characters (without the prefix).
    """
    if length < 0 or temperature < 0:
        raise InputError("length and temperature must not be negative")
    index = {ch: i for i, ch in enumerate(vocab)}
    missing = sorted({ch for ch in prefix if ch not in index})
    if missing:
        raise InputError(f"the prefix uses characters the model does not know: {''.join(missing)!r}")
    generator = torch.Generator().manual_seed(seed)
    ids = [index[ch] for ch in prefix] or [int(torch.randint(len(vocab), (1,), generator=generator))]
    device = _device(model)
    stateful = stateful_problem(model) is None
    was_training = model.training
    model.eval()
    try:
        state, context, out = None, list(ids), []
        feed = torch.tensor([ids], device=device)  # (1, t)
        for _ in range(length):
            if stateful:  # only the new character goes in; the hidden state carries the rest
                logits, state = forward_with_state(model, feed, state)
            else:  # re-read the whole (recent) context
                logits = model(torch.tensor([context[-512:]], device=device))
            last = logits[0, -1].float().cpu()  # (V,)
            if temperature < GREEDY_BELOW:
                nxt = int(last.argmax())
            else:
                nxt = int(torch.multinomial((last / temperature).softmax(-1), 1, generator=generator))
            out.append(nxt)
            context.append(nxt)
            feed = torch.tensor([[nxt]], device=device)
        return "".join(vocab[i] for i in out)
    finally:
        model.train(was_training)
