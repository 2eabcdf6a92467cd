"""Look inside a network: predictions, weights, every layer's activations and recurrent states, as numpy arrays.

Every function works on a private copy of the model (``copy.deepcopy``, in eval mode, weights
frozen): hooks, eval mode and Captum's own hooks never touch the caller's model, so a page may
inspect the model while another thread uses it, and two sessions never corrupt each other's
results. A page may pass its own ``private_copy`` (made once per model version) to skip the copy.
Gradient attributions live in ``engine.inspect.attribution``; figures in ``engine.inspect.figures``.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.errors import InputError
from engine.network.build import display_path
from engine.network.modules import Recurrent


@dataclass(repr=False)
class LayerActivation:
    """One layer's output for one sample.

    Attributes:
        path: the layer's position as ``engine.summarize`` rows write it ("3", "3.1", "3.shortcut").
        type: the spec's layer type ("Conv2d", "LSTM", "Residual", ...).
        shape: the output shape without the batch dimension.
        array: the output as float32 numpy, same shape.
    """

    path: str
    type: str
    shape: tuple
    array: np.ndarray

    def __repr__(self) -> str:
        return f"LayerActivation({self.path} {self.type} {self.shape})"


_PRIVATE = "_playground_private_copy"  # set on every private copy


def private_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode with frozen weights: safe to hook, cheap to backpropagate to the input only.

    A model that is already such a copy, with no hook left on it, is returned as it is: its owner keeps
    one copy per model version and must never use it from two threads at once (one per session).
    """
    if getattr(model, _PRIVATE, False) and not _hooked(model):
        return model.eval()
    twin = copy.deepcopy(model).eval()
    for p in twin.parameters():
        p.requires_grad_(False)
    setattr(twin, _PRIVATE, True)
    return twin


def _hooked(model: nn.Module) -> bool:
    """Whether any hook is still on the model (an attribution stopped half-way): such a copy is not reused."""
    return any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks
               for m in model.modules())


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def as_batch(x, model: nn.Module) -> torch.Tensor:
    """One sample (tensor or array, no batch dimension) as a batch of one on the model's device.

    Token ids stay integers; everything else becomes float32.
    """
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    t = t.detach().to(model_device(model))
    t = t.long() if not t.is_floating_point() and _takes_tokens(model) else t.float()
    return t.unsqueeze(0)


def _takes_tokens(model: nn.Module) -> bool:
    first = next((m for m in model.modules() if not isinstance(m, nn.Sequential)), None)
    return isinstance(first, nn.Embedding)


@contextmanager
def no_cudnn():
    """cuDNN refuses RNN backward in eval mode; the plain kernels do not (a no-op on CPU)."""
    with torch.backends.cudnn.flags(enabled=False):
        yield


def layer_modules(model: nn.Module) -> list[tuple[str, str, nn.Module]]:
    """(path, type, module) for every row ``engine.summarize`` shows, in the same order.

    A Residual block's ``body`` Sequential, a Recurrent's inner ``rnn`` and identity shortcuts have
    no row of their own and are left out.
    """
    out, seen = [], set()
    for name, module in model.named_modules():
        if not name or isinstance(module, nn.Sequential) or name.endswith(".rnn"):
            continue
        if name.endswith("shortcut") and isinstance(module, nn.Identity):
            continue
        path = display_path(name)
        if path in seen:
            continue
        seen.add(path)
        kind = module.cell if isinstance(module, Recurrent) else type(module).__name__
        out.append((path, kind, module))
    return out


def find_layer(model: nn.Module, path: str) -> nn.Module:
    """The module at a summary path such as "3" or "3.1".

    Raises:
        InputError: when no layer has that path.
    """
    for p, _, module in layer_modules(model):
        if p == str(path):
            return module
    raise InputError(f"The model has no layer {path!r}; layers are {', '.join(p for p, _, _ in layer_modules(model))}.")


def logits_at(output: torch.Tensor, position: int | None = None) -> torch.Tensor:
    """Per-sample scores ``(N, K)``: the output itself, or one step of a sequence output ``(N, T, K)`` (default: last)."""
    if output.ndim == 3:
        return output[:, -1 if position is None else position]
    return output.reshape(output.shape[0], -1)


def predict(model: nn.Module, x, classes: list[str] | None = None, k: int = 5,
            position: int | None = None) -> list[tuple[str, float]]:
    """The k most probable classes for one sample, by the model's softmax.

    Args:
        model: the network (left untouched: it runs on a private copy in eval mode).
        x: one sample without the batch dimension (token ids ``(T,)`` for character models).
        classes: class names; defaults to "0", "1", ...
        k: how many classes to return (fewer when the model has fewer).
        position: for sequence outputs ``(T, K)``, the step to read (default: the last).

    Returns:
        (class name, probability) pairs, most probable first.
    """
    probs = probabilities(model, x, position)
    names = list(classes) if classes else [str(i) for i in range(len(probs))]
    if len(names) != len(probs):
        names = [str(i) for i in range(len(probs))]
    order = np.argsort(-probs, kind="stable")[:k]
    return [(names[i], float(probs[i])) for i in order]


def probabilities(model: nn.Module, x, position: int | None = None) -> np.ndarray:
    """All class probabilities ``(K,)`` for one sample (softmax of the logits, float64 so they sum to 1)."""
    twin = private_copy(model)
    with torch.no_grad():
        logits = logits_at(twin(as_batch(x, twin)), position)[0]
    return torch.softmax(logits.double(), dim=0).cpu().numpy()


def outputs(model: nn.Module, x, position: int | None = None) -> np.ndarray:
    """The raw outputs ``(K,)`` for one sample (no softmax): a regression model's predicted values."""
    twin = private_copy(model)
    with torch.no_grad():
        return logits_at(twin(as_batch(x, twin)), position)[0].double().cpu().numpy()


def predicted_classes(model: nn.Module, xs, batch_size: int = 256) -> np.ndarray:
    """The predicted class of every sample in a batch ``(N, ...)`` (last step for sequence outputs), for finding mistakes."""
    twin = private_copy(model)
    xs = torch.as_tensor(np.asarray(xs) if not isinstance(xs, torch.Tensor) else xs).to(model_device(twin))
    out = []
    with torch.no_grad():
        for start in range(0, len(xs), batch_size):
            out.append(logits_at(twin(xs[start:start + batch_size])).argmax(dim=1).cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def activations(model: nn.Module, x) -> list[LayerActivation]:
    """Every layer's output for one sample, by forward hooks on a private copy.

    Args:
        model: the network built by ``engine.network.build``.
        x: one sample without the batch dimension.

    Returns:
        One LayerActivation per ``engine.summarize`` row, input to output (a Residual block's own
        row before its inner layers, as in the summary).
    """
    twin = private_copy(model)
    rows = layer_modules(twin)
    found: dict[str, torch.Tensor] = {}
    handles = []
    for path, _, module in rows:
        def hook(_module, _inputs, output, path=path):
            found[path] = (output[0] if isinstance(output, tuple) else output).detach()
        handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        twin(as_batch(x, twin))
    for h in handles:  # the copy is thrown away, but leave it clean all the same
        h.remove()
    return [LayerActivation(path, kind, tuple(found[path].shape[1:]), found[path][0].float().cpu().numpy())
            for path, kind, _ in rows if path in found]


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(path, module) of every Conv1d and Conv2d layer, input to output: the choices for filters and Grad-CAM."""
    return [(p, m) for p, _, m in layer_modules(model) if isinstance(m, (nn.Conv1d, nn.Conv2d))]


def filters(model: nn.Module, path: str) -> np.ndarray:
    """A convolution's kernels as ``(out_channels, in_channels / groups, kh, kw)`` (Conv1d: kh = 1).

    Raises:
        InputError: when the layer is not a Conv1d or Conv2d.
    """
    module = find_layer(model, path)
    if not isinstance(module, (nn.Conv1d, nn.Conv2d)):
        raise InputError(f"Layer {path} is a {type(module).__name__}, not a convolution.")
    w = module.weight.detach().float().cpu().numpy()
    return w[:, :, None, :] if w.ndim == 3 else w  # (O, I, k) -> (O, I, 1, k)


def linear_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(path, module) of every Linear layer, input to output."""
    return [(p, m) for p, _, m in layer_modules(model) if isinstance(m, nn.Linear)]


def linear_unit_images(model: nn.Module, path: str, input_shape: tuple) -> np.ndarray:
    """Each unit's incoming weights reshaped to the input image: what a first dense layer "looks for".

    Args:
        model: the network.
        path: a Linear layer that sees the flattened input directly (e.g. right after Flatten).
        input_shape: the model's input ``(C, H, W)``.

    Returns:
        ``(out_features, C, H, W)`` weights.

    Raises:
        InputError: when the layer is not Linear, or its inputs are not the image's pixels.
    """
    module = find_layer(model, path)
    if not isinstance(module, nn.Linear):
        raise InputError(f"Layer {path} is a {type(module).__name__}, not Linear.")
    if int(np.prod(input_shape)) != module.in_features:
        raise InputError(f"Layer {path} takes {module.in_features} inputs, not the image's {int(np.prod(input_shape))} "
                         "pixels; only a dense layer right after the input can be drawn as images.")
    w = module.weight.detach().float().cpu().numpy()
    return w.reshape(module.out_features, *input_shape)


def recurrent_layers(model: nn.Module) -> list[tuple[str, Recurrent]]:
    """(path, module) of every Recurrent (RNN, LSTM, GRU) layer."""
    return [(p, m) for p, _, m in layer_modules(model) if isinstance(m, Recurrent)]


def recurrent_info(model: nn.Module) -> dict:
    """The first recurrent layer's shape: {"cell", "num_layers", "bidirectional", "hidden_size"}.

    Raises:
        InputError: when the model has no RNN, LSTM or GRU layer.
    """
    layers = recurrent_layers(model)
    if not layers:
        raise InputError("The model has no RNN, LSTM or GRU layer.")
    rnn = layers[0][1].rnn
    return {"cell": layers[0][1].cell, "num_layers": rnn.num_layers, "bidirectional": rnn.bidirectional,
            "hidden_size": rnn.hidden_size}


def _rnn_input(model: nn.Module, x) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """Run a private copy and capture the first recurrent layer's input ``(1, T, F)`` and output ``(1, T, D*H)``."""
    twin = private_copy(model)
    recurrent_info(twin)
    rnn = recurrent_layers(twin)[0][1].rnn
    seen = {}

    def hook(_module, inputs, output):
        seen["x"], seen["y"] = inputs[0].detach(), output[0].detach()
    handle = rnn.register_forward_hook(hook)
    with torch.no_grad(), no_cudnn():
        twin(as_batch(x, twin))
    handle.remove()
    return rnn, seen["x"], seen["y"]


def _layer_index(rnn: nn.Module, layer: int) -> int:
    k = int(layer) + rnn.num_layers if int(layer) < 0 else int(layer)
    if not 0 <= k < rnn.num_layers:
        raise InputError(f"The recurrent layer has {rnn.num_layers} stacked layer(s); layer {layer} does not exist.")
    return k


def _stacked_outputs(rnn: nn.Module, inp: torch.Tensor, upto: int) -> list[torch.Tensor]:
    """Outputs ``(1, T, D*H)`` of stacked layers 0..upto, each run as a one-layer torch RNN with that layer's weights.

    torch returns only the top layer's sequence; in eval mode (no dropout between layers) feeding
    one layer's output to the next one-layer copy gives exactly the same top output.
    """
    extra = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    outs, h = [], inp
    for k in range(upto + 1):
        one = type(rnn)(h.shape[-1], rnn.hidden_size, batch_first=True, bidirectional=rnn.bidirectional,
                        bias=rnn.bias, **extra).to(inp.device)
        one.load_state_dict({n: getattr(rnn, n.replace("_l0", f"_l{k}")) for n, _ in one.named_parameters()})
        with torch.no_grad(), no_cudnn():
            h = one.eval()(h)[0]
        outs.append(h)
    return outs


def hidden_states(model: nn.Module, x, layer: int = -1) -> np.ndarray:
    """One stacked layer's hidden states over time, ``(T, H)`` (``2H``, forward then backward, when bidirectional).

    Args:
        model: a network with an RNN, LSTM or GRU layer (the first one is read).
        x: one sample without the batch dimension (token ids ``(T,)`` or a sequence ``(T, F)``).
        layer: which stacked layer (``num_layers``): 0 is the bottom, -1 (default) the top, whose
            states are the layer's output.

    Returns:
        h_t for every step t: units × steps once transposed for a heatmap.
    """
    rnn, inp, y = _rnn_input(model, x)
    k = _layer_index(rnn, layer)
    if k == rnn.num_layers - 1:
        return y[0].float().cpu().numpy()
    return _stacked_outputs(rnn, inp, k)[k][0].float().cpu().numpy()


def lstm_gates(model: nn.Module, x, layer: int = -1, direction: int = 0) -> dict[str, np.ndarray]:
    """One LSTM layer's gates over time, by unrolling it with its own weights (torch's order i, f, g, o).

    Args:
        model: a network whose first recurrent layer is an LSTM.
        x: one sample without the batch dimension.
        layer: which stacked layer: 0 the bottom, -1 (default) the top, as in ``hidden_states``.
        direction: 0 forward; 1 backward (bidirectional LSTMs: read from the last step to the first).

    Returns:
        {"input", "forget", "output": sigmoid gates in [0, 1]; "candidate": tanh g; "cell": c_t},
        each ``(T, H)``, row t for input step t in both directions.

    Raises:
        InputError: when the first recurrent layer is not an LSTM, or no such layer or direction exists.
    """
    rnn, inp, _ = _rnn_input(model, x)
    if not isinstance(rnn, nn.LSTM):
        raise InputError(f"Gates are drawn for LSTM layers; this model's first recurrent layer is a {type(rnn).__name__}.")
    k = _layer_index(rnn, layer)
    if direction not in ((0, 1) if rnn.bidirectional else (0,)):
        raise InputError("direction must be 0 (forward)" + (" or 1 (backward)." if rnn.bidirectional else
                                                          "; this LSTM reads one way only."))
    below = inp if k == 0 else _stacked_outputs(rnn, inp, k - 1)[k - 1]  # (1, T, F)
    suffix = f"_l{k}" + ("_reverse" if direction else "")
    w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{n}{suffix}", None)
                              for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    steps = below[0].flip(0) if direction else below[0]  # the backward direction reads t = T-1 first
    hidden = rnn.hidden_size
    with torch.no_grad():
        xw = steps @ w_ih.t()  # (T, 4H)
        if b_ih is not None:
            xw = xw + b_ih + b_hh
        h, c = inp.new_zeros(hidden), inp.new_zeros(hidden)
        out = {name: [] for name in ("input", "forget", "candidate", "output", "cell")}
        for x_t in xw:
            pre = x_t + w_hh @ h  # (4H,): i, f, g, o
            i, f, o = (torch.sigmoid(pre[j * hidden:(j + 1) * hidden]) for j in (0, 1, 3))
            g = torch.tanh(pre[2 * hidden:3 * hidden])
            c = f * c + i * g
            h = o * torch.tanh(c)
            for key, value in zip(out, (i, f, g, o, c)):
                out[key].append(value)
    return {key: (torch.stack(v).flip(0) if direction else torch.stack(v)).float().cpu().numpy()
            for key, v in out.items()}


__all__ = ["LayerActivation", "private_copy", "as_batch", "layer_modules", "find_layer", "logits_at", "predict",
           "probabilities", "predicted_classes", "activations", "conv_layers", "filters", "linear_layers", "linear_unit_images",
           "recurrent_layers", "recurrent_info", "outputs", "hidden_states", "lstm_gates", "no_cudnn"]
