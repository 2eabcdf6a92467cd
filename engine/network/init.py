"""Weight initialisation schemes, and the deep MLPs that show why they matter (the depth lab)."""
from __future__ import annotations

import math

import torch
from torch import nn

from engine.network.spec import ModelSpec
from engine.rng import GLOBAL_RNG_LOCK

SCHEMES = {
    "default": "PyTorch's own: uniform in ±1/√fan_in (Kaiming-uniform with a = √5)",
    "normal-0.01": "Small Gaussian, std 0.01: fine for shallow nets, deep ones saturate or die",
    "xavier": "Gaussian with variance 1/fan_in (the course's Xavier): keeps tanh layers' variance",
    "he": "Gaussian with variance 2/fan_in (He): keeps ReLU layers' variance, half the units being 0",
}

# Layers whose weights the schemes set; Embedding and BatchNorm keep their defaults (N(0, 1), γ = 1).
_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.RNNBase)


def init_weights(model: nn.Module, scheme: str = "default", seed: int | None = None) -> nn.Module:
    """Re-initialise a model's weights in place; every scheme but "default" zeroes the biases.

    Covers Linear, convolution and recurrent layers (each recurrent matrix with its own fan-in, the
    input size for weight_ih and the hidden size for weight_hh), nested ones included.

    Args:
        model: the network.
        scheme: one of ``SCHEMES``.
        seed: when given, the draws come from a generator seeded with it (torch's global RNG is untouched).

    Returns:
        The same model, for chaining.

    Raises:
        ValueError: for an unknown scheme.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown initialisation {scheme!r}; one of {', '.join(SCHEMES)}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, _WEIGHTED):
                continue
            if scheme == "default":
                if generator is not None:  # reset_parameters draws from the global RNG: borrow it alone
                    with GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
                        torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
                        module.reset_parameters()
                else:
                    module.reset_parameters()
                continue
            for name, param in module.named_parameters(recurse=False):
                if name.startswith("bias"):
                    param.zero_()
                elif scheme == "normal-0.01":
                    param.normal_(0.0, 0.01, generator=generator)
                else:
                    gain = 1.0 if scheme == "xavier" else 2.0
                    param.normal_(0.0, math.sqrt(gain / _fan_in(module, param)), generator=generator)
    return model


def _fan_in(module: nn.Module, weight: torch.Tensor) -> int:
    """Inputs summed into one output: in_features, in_channels·kernel, or a recurrent matrix's columns."""
    if isinstance(module, nn.ConvTranspose2d):  # weight is (C_in, C_out/groups, kH, kW)
        return weight.shape[1] * weight[0, 0].numel()
    return weight[0].numel()


def make_depth_mlp(depth: int = 10, width: int = 32, activation: str = "Sigmoid", batch_norm: bool = False,
                   residual: bool = False, input_shape: int | list[int] = 64, num_classes: int = 10,
                   name: str | None = None) -> ModelSpec:
    """A deep, narrow MLP for the depth lab: ``depth`` hidden layers of Linear (+ BatchNorm) + activation.

    With ``residual=True`` every hidden layer after the first is wrapped in a Residual block,
    h ← h + act(W h), so the gradient has an identity path around each layer. The initialisation
    is not part of a spec: apply ``init_weights`` to the built model.

    Args:
        depth: hidden layers (≥ 1).
        width: units per hidden layer.
        activation: an activation layer type, e.g. "Sigmoid", "Tanh", "ReLU".
        batch_norm: add BatchNorm1d between each Linear and its activation.
        residual: identity shortcuts around hidden layers 2..depth.
        input_shape: features per sample, or a shape such as [1, 8, 8] (flattened first).
        num_classes: output logits.
        name: the spec's name (default e.g. "mlp-10-sigmoid-bn-res").

    Returns:
        The ModelSpec.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    shape = [input_shape] if isinstance(input_shape, int) else list(input_shape)
    layers = [{"type": "Flatten"}] if len(shape) > 1 else []
    for i in range(depth):
        hidden = [{"type": "Linear", "out_features": width}] + \
                 ([{"type": "BatchNorm1d"}] if batch_norm else []) + [{"type": activation}]
        layers += [{"type": "Residual", "layers": hidden}] if residual and i > 0 else hidden
    layers.append({"type": "Linear", "out_features": num_classes})
    default = f"mlp-{depth}-{activation.lower()}" + ("-bn" if batch_norm else "") + ("-res" if residual else "")
    return ModelSpec.from_dict({"name": name or default, "input": shape, "layers": layers})


# The depth lab's comparisons on 8×8 digits: name -> (spec arguments, initialisation scheme).
DEPTH_LABS: dict[str, tuple[dict, str]] = {
    "10-layer sigmoid, small init": ({"depth": 10, "activation": "Sigmoid"}, "normal-0.01"),
    "10-layer ReLU, He init": ({"depth": 10, "activation": "ReLU"}, "he"),
    "10-layer sigmoid, batch norm": ({"depth": 10, "activation": "Sigmoid", "batch_norm": True}, "normal-0.01"),
    "plain 20-layer": ({"depth": 20, "activation": "Sigmoid"}, "default"),
    "residual 20-layer": ({"depth": 20, "activation": "Sigmoid", "residual": True}, "default"),
}


def depth_lab(name: str) -> tuple[ModelSpec, str]:
    """One of ``DEPTH_LABS`` as (spec for [1, 8, 8] inputs and 10 classes, initialisation scheme)."""
    kwargs, scheme = DEPTH_LABS[name]
    return make_depth_mlp(input_shape=[1, 8, 8], name=name, **kwargs), scheme
