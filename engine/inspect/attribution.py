"""Which input pixels (or characters) a prediction depends on, by Captum, on a private copy of the model.

Captum's hook-based methods (Guided Backprop, Grad-CAM) add hooks to the model while they run, and
two attributions on one shared model corrupt each other; so every call deep-copies the model
(``inspect.private_copy``): the caller's parameters, train/eval flags and hook dicts are never touched.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import (GuidedBackprop, IntegratedGradients, LayerAttribution, LayerGradCam, NoiseTunnel, Occlusion,
                         Saliency)
from torch import nn

from engine.errors import InputError
from engine.inspect.probe import as_batch, conv_layers, find_layer, logits_at, no_cudnn, private_copy

# name -> (label, one line for the page)
METHODS = {
    "saliency": ("Saliency", "|∂ score / ∂ pixel|: how much a tiny change of each pixel moves the score"),
    "integrated_gradients": ("Integrated Gradients", "gradients averaged along the path from the baseline to "
                             "the input; they add up to the score's change"),
    "smoothgrad": ("SmoothGrad", "saliency averaged over noisy copies of the input: less speckle"),
    "guided_backprop": ("Guided Backprop", "gradients with negative signals stopped at every ReLU: sharp edges"),
    "gradcam": ("Grad-CAM", "a conv layer's maps weighted by their average gradient, upsampled to the input"),
    "occlusion": ("Occlusion", "how much the score drops when a window of the input is replaced by the baseline"),
}
# name -> what the "absent" input of Integrated Gradients and Occlusion is
BASELINES = {"zero": "every value 0", "mean": "the training data's mean image", "blur": "a blurred copy of the input"}
MAX_STEPS = 300
MAX_SAMPLES = 100
MAX_OCCLUSION_EVALS = 4096  # forward passes; window 1, stride 1 on 224×224 would be 50,176
BLUR_KERNEL = 5


class _Scores(nn.Module):
    """The model's per-class scores ``(N, K)``; a module (not a lambda) so Guided Backprop finds its ReLUs."""

    def __init__(self, model: nn.Module, position: int | None):
        super().__init__()
        self.model = model
        self.position = position

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return logits_at(self.model(x), self.position)


def attribute(model: nn.Module, x, method: str, target: int | None = None, *, layer: str | None = None,
              n_steps: int = 50, nt_samples: int = 25, stdev: float = 0.15, window: int = 4,
              stride: int | None = None, baseline=0.0, position: int | None = None) -> np.ndarray:
    """How much each input value contributes to one class's score, for one sample.

    Args:
        model: the network (untouched: a private copy runs in eval mode).
        x: one float sample without the batch dimension: ``(C, H, W)``, ``(T, F)`` or ``(F,)``.
        method: a key of ``METHODS``.
        target: the class whose score is explained; defaults to the predicted class.
        layer: Grad-CAM's conv layer (a summary path such as "3"); defaults to ``default_gradcam_layer``.
        n_steps: Integrated Gradients' steps (at most ``MAX_STEPS``).
        nt_samples: SmoothGrad's noisy copies (at most ``MAX_SAMPLES``).
        stdev: SmoothGrad's noise, as a fraction of the input's value range.
        window: Occlusion's square window side (steps for sequences).
        stride: Occlusion's stride; defaults to half the window (at least 1).
        baseline: the "absent" input for Integrated Gradients and Occlusion: a number, or an array of
            ``x``'s shape (``make_baseline``).
        position: for sequence outputs, the step whose scores are explained (default: the last).

    Returns:
        float32 attributions of ``x``'s shape. Saliency and SmoothGrad are ≥ 0; Grad-CAM is ≥ 0 and
        the same for every channel.

    Raises:
        InputError: an unknown method, token inputs (use ``token_attribution``), Grad-CAM without a
            Conv2d layer or on a non-image, an invalid option, or an Occlusion of more than
            ``MAX_OCCLUSION_EVALS`` forward passes.
    """
    if method not in METHODS:
        raise InputError(f"Unknown attribution method {method!r}; choose one of {', '.join(METHODS)}.")
    twin = private_copy(model)
    xb = as_batch(x, twin)
    if not xb.is_floating_point():
        raise InputError("This model reads token ids; use token_attribution for character models.")
    if not isinstance(baseline, (int, float)):
        baseline = torch.as_tensor(np.asarray(baseline), dtype=xb.dtype, device=xb.device).reshape(xb.shape)
    scores = _Scores(twin, position).eval()
    with torch.no_grad(), no_cudnn():
        target = int(scores(xb).argmax(dim=1)[0]) if target is None else int(target)
    xb.requires_grad_()  # Captum would warn and set it itself
    with torch.enable_grad(), no_cudnn(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks")  # Guided Backprop's notice
        attr = _run(scores, twin, xb, method, target, layer, n_steps, nt_samples, stdev, window, stride, baseline)
    return attr[0].detach().float().cpu().numpy()


def _run(scores, twin, xb, method, target, layer, n_steps, nt_samples, stdev, window, stride, baseline):
    if method == "saliency":
        return Saliency(scores).attribute(xb, target=target, abs=True)
    if method == "integrated_gradients":
        steps = _bounded(n_steps, MAX_STEPS, "n_steps")
        start = baseline if isinstance(baseline, torch.Tensor) else torch.full_like(xb, baseline)
        return IntegratedGradients(scores).attribute(xb, baselines=start, target=target,
                                                     n_steps=steps, internal_batch_size=min(steps, 64))
    if method == "smoothgrad":
        samples = _bounded(nt_samples, MAX_SAMPLES, "nt_samples")
        spread = float(xb.detach().max() - xb.detach().min()) or 1.0
        return NoiseTunnel(Saliency(scores)).attribute(xb, nt_type="smoothgrad", nt_samples=samples,
                                                       nt_samples_batch_size=min(samples, 32),
                                                       stdevs=float(stdev) * spread, target=target, abs=True)
    if method == "guided_backprop":
        return GuidedBackprop(scores).attribute(xb, target=target)
    if method == "gradcam":
        return _gradcam(scores, twin, xb, target, layer)
    return _occlusion(scores, xb, target, window, stride, baseline)


def _bounded(value: int, most: int, name: str) -> int:
    value = int(value)
    if not 1 <= value <= most:
        raise InputError(f"{name} must be between 1 and {most}, not {value}.")
    return value


def _gradcam(scores, twin, xb, target, layer):
    if xb.ndim != 4:
        raise InputError("Grad-CAM needs an image input (C×H×W).")
    layer = default_gradcam_layer(twin) if layer is None else layer
    if layer is None:
        raise InputError("Grad-CAM needs a Conv2d layer; this model has none.")
    module = find_layer(twin, layer)
    if not isinstance(module, nn.Conv2d):
        raise InputError(f"Grad-CAM needs a Conv2d layer; layer {layer} is a {type(module).__name__}.")
    cam = LayerGradCam(scores, module).attribute(xb, target=target, relu_attributions=True)  # (1, 1, h, w)
    cam = LayerAttribution.interpolate(cam, tuple(xb.shape[-2:]), interpolate_mode="bilinear")
    return cam.clamp_min(0).expand_as(xb)  # bilinear keeps it ≥ 0; clamp guards rounding


def _occlusion(scores, xb, target, window, stride, baseline):
    window = int(window)
    stride = max(1, window // 2) if stride is None else int(stride)
    sample = tuple(xb.shape[1:])
    spatial = sample[1:] if len(sample) == 3 else sample[:1]
    if not 1 <= window <= max(spatial) or stride < 1:
        raise InputError(f"The occlusion window must be between 1 and {max(spatial)} and the stride at least 1.")
    if len(sample) == 3:  # (C, H, W): a square over every channel at once
        shape = (sample[0], min(window, sample[1]), min(window, sample[2]))
        strides = (sample[0], stride, stride)
    elif len(sample) == 2:  # (T, F): a run of steps, every feature
        shape, strides = (window, sample[1]), (stride, sample[1])
    else:
        shape, strides = (window,), (stride,)
    evals = occlusion_evals(sample, shape, strides)
    if evals > MAX_OCCLUSION_EVALS:
        raise InputError(f"Occlusion with window {window} and stride {stride} needs {evals:,} forward passes; the "
                         f"limit is {MAX_OCCLUSION_EVALS:,}. Use a larger stride or window.")
    return Occlusion(scores).attribute(xb, sliding_window_shapes=shape, strides=strides, baselines=baseline,
                                       target=target, perturbations_per_eval=16)


def occlusion_evals(sample: tuple, window: tuple, strides: tuple) -> int:
    """Forward passes Captum's Occlusion makes: one per window position, ``ceil((n − w) / s) + 1`` per axis
    (Captum also places a last, clipped window at the far edge)."""
    return int(np.prod([-(-(n - w) // st) + 1 for n, w, st in zip(sample, window, strides)]))


def gradcam_layers(model: nn.Module) -> list[str]:
    """Summary paths of every Conv2d layer, input to output: Grad-CAM's choices."""
    return [p for p, m in conv_layers(model) if isinstance(m, nn.Conv2d)]


def default_gradcam_layer(model: nn.Module) -> str | None:
    """The last Conv2d on the main path (a Residual's 1×1 shortcut projection is skipped); None without one.

    The last conv has the most semantic maps that still keep a spatial layout; a shortcut only
    projects the block's input, so its maps are one block less deep.
    """
    paths = gradcam_layers(model)
    main = [p for p in paths if not p.endswith("shortcut")]
    return (main or paths or [None])[-1]


def uses_relu(model: nn.Module) -> bool:
    """Whether the model has an nn.ReLU module: without one, Guided Backprop equals the plain gradient."""
    return any(isinstance(m, nn.ReLU) for m in model.modules())


def make_baseline(x, kind: str = "zero", mean=None, kernel: int = BLUR_KERNEL) -> np.ndarray:
    """The "absent" input for Integrated Gradients and Occlusion, of ``x``'s shape.

    Args:
        x: one sample ``(C, H, W)`` (``(T, F)`` and ``(F,)`` for "zero" and "mean").
        kind: a key of ``BASELINES``: "zero", "mean" (needs ``mean``) or "blur" (images only: a
            ``kernel``×``kernel`` box blur, torch's ``avg_pool2d`` with stride 1, edges averaged over
            the pixels inside the image).
        mean: the training data's mean sample, of ``x``'s shape.

    Returns:
        float32 array of ``x``'s shape.

    Raises:
        InputError: an unknown kind, "mean" without a mean of the right shape, "blur" on a non-image.
    """
    x = np.asarray(x, dtype=np.float32)
    if kind == "zero":
        return np.zeros_like(x)
    if kind == "mean":
        if mean is None or np.shape(mean) != x.shape:
            raise InputError(f"The mean baseline needs the dataset's mean sample of shape {x.shape}.")
        return np.asarray(mean, dtype=np.float32)
    if kind == "blur":
        if x.ndim != 3:
            raise InputError("The blurred baseline needs an image input (C×H×W).")
        t = torch.from_numpy(x)[None]  # (1, C, H, W)
        blurred = F.avg_pool2d(t, kernel, stride=1, padding=kernel // 2, count_include_pad=False)
        return blurred[0, :, :x.shape[1], :x.shape[2]].numpy()
    raise InputError(f"Unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}.")


def token_attribution(model: nn.Module, ids, target_pos: int | None = None, target: int | None = None,
                      n_steps: int = 50) -> np.ndarray:
    """Each token's share of one predicted character, by Integrated Gradients on the embedding layer.

    The path runs from an all-zero embedding (no character at all) to the tokens' embeddings: Captum's
    LayerIntegratedGradients can only start from other token ids, so the layers after the Embedding
    are integrated directly. Attributions are summed over the embedding dimension.

    Args:
        model: an ``nn.Sequential`` starting with an Embedding (a character model).
        ids: token ids ``(T,)``.
        target_pos: the output step explained (default: the last).
        target: the character id whose score is explained (default: the predicted one at that step).
        n_steps: integration steps (at most ``MAX_STEPS``).

    Returns:
        ``(T,)`` float32: positive where a character raises the target's score. Characters after
        ``target_pos`` get 0 in a one-direction model.

    Raises:
        InputError: when the model does not start with an Embedding.
    """
    twin = private_copy(model)
    if not isinstance(twin, nn.Sequential) or not isinstance(twin[0], nn.Embedding):
        raise InputError("Token attribution needs a character model whose first layer is an Embedding.")
    ids_b = as_batch(torch.as_tensor(np.asarray(ids)).long(), twin)  # (1, T)
    rest = _Scores(twin[1:], target_pos)
    steps = _bounded(n_steps, MAX_STEPS, "n_steps")
    with torch.no_grad(), no_cudnn():
        embedded = twin[0](ids_b)  # (1, T, E)
        target = int(rest(embedded).argmax(dim=1)[0]) if target is None else int(target)
    embedded.requires_grad_()
    with torch.enable_grad(), no_cudnn():
        attr = IntegratedGradients(rest).attribute(embedded, baselines=torch.zeros_like(embedded), target=target,
                                                   n_steps=steps, internal_batch_size=min(steps, 64))
    return attr[0].sum(dim=-1).detach().float().cpu().numpy()  # (T, E) -> (T,)


__all__ = ["METHODS", "BASELINES", "attribute", "token_attribution", "make_baseline", "gradcam_layers",
           "default_gradcam_layer", "uses_relu", "occlusion_evals", "MAX_OCCLUSION_EVALS"]
