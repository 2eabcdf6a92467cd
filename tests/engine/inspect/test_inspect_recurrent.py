"""Stacked and bidirectional recurrent layers in engine.inspect against torch's own RNN modules and LSTMCell;
cuDNN is off around every recurrent forward and backward; no layer is ever built in place."""
from __future__ import annotations

import copy
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from torch import nn

import engine
from engine import inspect
from engine.errors import InputError, SpecError
from engine.inspect import attribution


def _char(cell: str, **kw) -> nn.Module:
    return engine.build(engine.ModelSpec.from_dict({"name": "c", "input": [15], "vocab_size": 10, "layers": [
        {"type": "Embedding", "embedding_dim": 5}, {"type": cell, "hidden_size": 7, **kw},
        {"type": "Linear", "out_features": 10}]}), seed=0)


@pytest.fixture(scope="module")
def ids():
    return torch.randint(0, 10, (15,), generator=torch.Generator().manual_seed(0))


def _embedded(model, ids):
    ref = copy.deepcopy(model).eval()
    with torch.no_grad():
        emb = ref[0](ids[None])  # (1, T, E)
    return ref[1].rnn, emb


CASES = [("LSTM", {}), ("GRU", {}), ("RNN", {}), ("LSTM", {"num_layers": 2}), ("GRU", {"num_layers": 3}),
         ("LSTM", {"bidirectional": True}), ("LSTM", {"num_layers": 2, "bidirectional": True}),
         ("RNN", {"num_layers": 2, "nonlinearity": "relu"})]


@pytest.mark.parametrize("cell,kw", CASES, ids=[f"{c}-{k}" for c, k in CASES])
def test_top_layer_states_are_torchs_output_and_lower_layers_feed_it(cell, kw, ids):
    model = _char(cell, **kw)
    rnn, emb = _embedded(model, ids)
    with torch.no_grad():
        top = rnn(emb)[0][0].numpy()
    np.testing.assert_allclose(inspect.hidden_states(model, ids), top, atol=1e-6)
    n = rnn.num_layers
    np.testing.assert_allclose(inspect.hidden_states(model, ids, layer=n - 1), top, atol=1e-6)
    if n > 1:  # torch's top layer, fed the states we report for the layer below, gives torch's own top output
        below = torch.from_numpy(inspect.hidden_states(model, ids, layer=n - 2))[None]
        one = type(rnn)(below.shape[-1], rnn.hidden_size, batch_first=True, bidirectional=rnn.bidirectional,
                        **({"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}))
        one.load_state_dict({k: getattr(rnn, k.replace("_l0", f"_l{n - 1}")) for k, _ in one.named_parameters()})
        with torch.no_grad():
            np.testing.assert_allclose(one(below)[0][0].numpy(), top, atol=1e-5)
    with pytest.raises(InputError, match="stacked layer"):
        inspect.hidden_states(model, ids, layer=n)


def _cell_unrolled(rnn, steps: torch.Tensor, layer: int, reverse: bool) -> dict:
    """torch's LSTMCell with the layer's weights over ``steps`` (T, F); gates from torch's weight chunks (i f g o)."""
    sfx = f"_l{layer}" + ("_reverse" if reverse else "")
    w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{n}{sfx}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    cell = nn.LSTMCell(steps.shape[-1], rnn.hidden_size)
    with torch.no_grad():
        for name, w in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), (w_ih, w_hh, b_ih, b_hh)):
            getattr(cell, name).copy_(w)
    order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
    h = c = torch.zeros(1, rnn.hidden_size)
    out = {k: [None] * len(steps) for k in ("input", "forget", "output", "cell", "h")}
    with torch.no_grad():
        for t in order:
            i, f, _, o = (steps[t:t + 1] @ w_ih.t() + h @ w_hh.t() + b_ih + b_hh).chunk(4, dim=1)
            h, c = cell(steps[t:t + 1], (h, c))
            for key, v in zip(out, (torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), c, h)):
                out[key][t] = v[0]
    return {k: torch.stack(v).numpy() for k, v in out.items()}


@pytest.mark.parametrize("kw", [{}, {"num_layers": 2}, {"bidirectional": True},
                                {"num_layers": 2, "bidirectional": True}],
                         ids=["1-layer", "2-layer", "bi", "2-layer-bi"])
def test_lstm_gates_equal_lstmcell_with_torchs_weights(kw, ids):
    model = _char("LSTM", **kw)
    rnn, emb = _embedded(model, ids)
    hidden = rnn.hidden_size
    for layer in range(rnn.num_layers):
        below = emb[0] if layer == 0 else torch.from_numpy(inspect.hidden_states(model, ids, layer=layer - 1))
        states = inspect.hidden_states(model, ids, layer=layer)
        for direction in (0, 1) if rnn.bidirectional else (0,):
            gates = inspect.lstm_gates(model, ids, layer=layer, direction=direction)
            ref = _cell_unrolled(rnn, below, layer, reverse=bool(direction))
            for name in ("input", "forget", "output", "cell"):
                np.testing.assert_allclose(gates[name], ref[name], atol=1e-5, err_msg=f"{name} l{layer} d{direction}")
            # the gates belong to the states drawn above them: torch's h for this layer and direction
            np.testing.assert_allclose(ref["h"], states[:, direction * hidden:(direction + 1) * hidden], atol=1e-5)
    with pytest.raises(InputError, match="direction"):
        inspect.lstm_gates(model, ids, direction=2)


def test_recurrent_info():
    assert inspect.recurrent_info(_char("GRU", num_layers=2, bidirectional=True)) == {
        "cell": "GRU", "num_layers": 2, "bidirectional": True, "hidden_size": 7}
    with pytest.raises(InputError, match="no RNN"):
        inspect.recurrent_info(engine.build(engine.network.presets.get("tiny-vgg"), seed=0))


# --- cuDNN -------------------------------------------------------------------------------------------------

def test_recurrent_forward_and_backward_run_with_cudnn_off(monkeypatch, ids):
    """cuDNN's RNN backward refuses eval mode on CUDA; the kernel is chosen at the forward, so every RNN
    forward (Captum's included) must run inside ``cudnn.flags(enabled=False)``. Checked on CPU by patching."""
    real = torch.backends.cudnn.flags
    depth, seen = [0], []

    @contextmanager
    def flags(*args, enabled=True, **kw):
        with real(*args, enabled=enabled, **kw):
            depth[0] += 1 if not enabled else 0
            try:
                yield
            finally:
                depth[0] -= 1 if not enabled else 0

    forward = nn.LSTM.forward

    def recording(self, *a, **kw):
        seen.append(depth[0])
        return forward(self, *a, **kw)

    model = _char("LSTM", num_layers=2)  # built first: engine.network.build runs a forward of its own
    seq = engine.build(engine.ModelSpec.from_dict({"name": "s", "input": [6, 2], "layers": [
        {"type": "LSTM", "hidden_size": 3, "output": "last"}, {"type": "Linear", "out_features": 2}]}), seed=0)
    monkeypatch.setattr(torch.backends.cudnn, "flags", flags)
    monkeypatch.setattr(nn.LSTM, "forward", recording)
    attribution.token_attribution(model, ids, n_steps=4)
    inspect.hidden_states(model, ids, layer=0)
    inspect.lstm_gates(model, ids)
    for method in ("saliency", "integrated_gradients", "occlusion"):
        attribution.attribute(seq, torch.rand(6, 2), method, n_steps=4, window=2)
    assert len(seen) > 10 and all(d > 0 for d in seen), seen


# --- no in-place layers ----------------------------------------------------------------------------------

INPLACE_CAPABLE = ["ReLU", "LeakyReLU", "ELU", "Dropout", "Sigmoid", "Tanh"]


@pytest.mark.parametrize("ltype", INPLACE_CAPABLE)
def test_no_layer_is_built_in_place_and_captum_runs_through_it(ltype):
    spec = {"name": "x", "input": [1, 6, 6], "layers": [{"type": "Conv2d", "out_channels": 2, "kernel_size": 3},
                                                       {"type": ltype}, {"type": "Flatten"},
                                                       {"type": "Linear", "out_features": 3}]}
    model = engine.build(engine.ModelSpec.from_dict(spec), seed=0)
    assert not any(getattr(m, "inplace", False) for m in model.modules())
    x = torch.rand(1, 6, 6)
    for method in ("saliency", "guided_backprop", "gradcam"):  # full backward hooks raise on in-place outputs
        assert np.isfinite(attribution.attribute(model, x, method)).all()
    spec["layers"][1]["inplace"] = True
    with pytest.raises(SpecError, match="inplace"):
        engine.build(engine.ModelSpec.from_dict(spec), seed=0)


def test_no_preset_has_an_in_place_module():
    for name in engine.network.presets.names():
        if name == "vgg16":  # 138M parameters: too slow to build here; same layer types as the others
            continue
        model = engine.build(engine.network.presets.get(name), seed=0)
        assert not [n for n, m in model.named_modules() if getattr(m, "inplace", False)], name
