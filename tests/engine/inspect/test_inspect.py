"""engine.inspect, engine.inspect.attribution and engine.inspect.figures against PyTorch computed directly."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from torch import nn

import engine
from engine import inspect
from engine.errors import InputError
from engine.inspect import attribution
from engine.inspect import figures as figs

TINY_CHAR = {"name": "tiny-char", "input": [12], "vocab_size": 8, "layers": [
    {"type": "Embedding", "embedding_dim": 4}, {"type": "LSTM", "hidden_size": 6},
    {"type": "Linear", "out_features": 8}]}


@pytest.fixture(scope="module")
def vgg():
    return engine.build(engine.network.presets.get("tiny-vgg"), seed=0)


@pytest.fixture(scope="module")
def image():
    return torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def char():
    return engine.build(engine.ModelSpec.from_dict(TINY_CHAR), seed=0)


@pytest.fixture(scope="module")
def ids():
    return torch.randint(0, 8, (12,), generator=torch.Generator().manual_seed(2))


def _logits(model, x):
    model = model.eval()
    with torch.no_grad():
        return model(x.unsqueeze(0))[0]


# --- predictions -------------------------------------------------------------------------------------

def test_predict_matches_softmax(vgg, image):
    top = inspect.predict(vgg, image, [f"c{i}" for i in range(10)], k=10)
    probs = torch.softmax(_logits(engine.build(engine.network.presets.get("tiny-vgg"), seed=0), image).double(), 0)
    assert sum(p for _, p in top) == pytest.approx(1.0, abs=1e-9)
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    for name, p in top:
        assert p == pytest.approx(probs[int(name[1:])].item(), abs=1e-6)
    assert len(inspect.predict(vgg, image, None, k=3)) == 3


def test_predict_sequence_reads_last_step(char, ids):
    probs = inspect.probabilities(char, ids)
    with torch.no_grad():
        expected = torch.softmax(char.eval()(ids.unsqueeze(0))[0, -1].double(), 0).numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-7)


# --- activations, filters -----------------------------------------------------------------------------

def test_layer_paths_match_summary_rows():
    spec = engine.network.presets.get("resnet-mini")
    model = engine.build(spec, seed=0)
    rows = engine.summarize(spec).rows
    assert [(p, t) for p, t, _ in inspect.layer_modules(model)] == [(r.index, r.type) for r in rows]


def test_activations_equal_independent_hooks(image):
    spec = engine.network.presets.get("resnet-mini")
    model = engine.build(spec, seed=0).eval()
    expected = {}
    handles = [m.register_forward_hook(lambda _m, _i, out, name=name: expected.__setitem__(name, out.detach()))
               for name, m in model.named_modules() if name]
    with torch.no_grad():
        model(image.unsqueeze(0))
    for h in handles:
        h.remove()
    acts = {a.path: a for a in inspect.activations(model, image)}
    rows = engine.summarize(spec).rows
    assert list(acts) == [r.index for r in rows]
    for row in rows:
        assert acts[row.index].shape == row.output_shape
    np.testing.assert_array_equal(acts["3.3"].array, expected["3.body.3"][0].numpy())
    np.testing.assert_array_equal(acts["5.shortcut"].array, expected["5.shortcut"][0].numpy())
    np.testing.assert_array_equal(acts["9"].array, expected["9"][0].numpy())


def test_filters_and_linear_unit_images(vgg):
    assert [p for p, _ in inspect.conv_layers(vgg)] == ["0", "2", "5", "7"]
    np.testing.assert_array_equal(inspect.filters(vgg, "2"), vgg[2].weight.detach().numpy())
    mlp = engine.build(engine.network.presets.get("deep-mlp"), seed=0)
    images = inspect.linear_unit_images(mlp, "1", (1, 8, 8))
    assert images.shape == (32, 1, 8, 8)
    np.testing.assert_array_equal(images[3].ravel(), mlp[1].weight[3].detach().numpy())
    with pytest.raises(InputError, match="right after the input"):
        inspect.linear_unit_images(mlp, "3", (1, 8, 8))
    with pytest.raises(InputError, match="not a convolution"):
        inspect.filters(vgg, "1")
    with pytest.raises(InputError, match="no layer"):
        inspect.find_layer(vgg, "99")


# --- recurrent states ---------------------------------------------------------------------------------

def test_hidden_states_equal_lstm_output(char, ids):
    with torch.no_grad():
        expected = char[1].rnn(char[0](ids.unsqueeze(0)))[0][0].numpy()
    np.testing.assert_allclose(inspect.hidden_states(char, ids), expected, atol=1e-6)


def test_lstm_gates_rebuild_the_hidden_state(char, ids):
    gates = inspect.lstm_gates(char, ids)
    for name in ("input", "forget", "output"):
        assert gates[name].shape == (12, 6)
        assert gates[name].min() >= 0 and gates[name].max() <= 1
    h = gates["output"] * np.tanh(gates["cell"])  # h_t = o_t ⊙ tanh(c_t)
    np.testing.assert_allclose(h, inspect.hidden_states(char, ids), atol=1e-5)
    gru = engine.build(engine.network.presets.get("char-gru"), seed=0)
    with pytest.raises(InputError, match="LSTM"):
        inspect.lstm_gates(gru, torch.zeros(32, dtype=torch.long))


# --- attribution --------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", list(attribution.METHODS))
def test_attribution_shapes(vgg, image, method):
    attr = attribution.attribute(vgg, image, method, window=2, nt_samples=4, n_steps=8)
    assert attr.shape == tuple(image.shape) and attr.dtype == np.float32
    assert np.isfinite(attr).all()
    if method in ("saliency", "smoothgrad", "gradcam"):
        assert attr.min() >= 0


def test_saliency_is_abs_gradient(vgg, image):
    target = 3
    model = engine.build(engine.network.presets.get("tiny-vgg"), seed=0).eval()
    x = image.unsqueeze(0).clone().requires_grad_()
    (grad,) = torch.autograd.grad(model(x)[0, target], x)
    np.testing.assert_allclose(attribution.attribute(vgg, image, "saliency", target=target),
                               grad[0].abs().numpy(), rtol=1e-5, atol=1e-8)


def test_integrated_gradients_completeness(vgg, image):
    target = 2
    attr = attribution.attribute(vgg, image, "integrated_gradients", target=target, n_steps=128)
    gap = _logits(vgg, image)[target] - _logits(vgg, torch.zeros_like(image))[target]
    assert attr.sum() == pytest.approx(gap.item(), abs=0.02 * abs(gap.item()) + 1e-4)


def test_default_target_is_predicted(vgg, image):
    predicted = int(_logits(vgg, image).argmax())
    np.testing.assert_array_equal(attribution.attribute(vgg, image, "saliency"),
                                  attribution.attribute(vgg, image, "saliency", target=predicted))


def _quadrant_net() -> nn.Sequential:
    """Channel 0 fires on bright pixels, channel 1 on dark ones; class k is the mean of channel k."""
    conv = nn.Conv2d(1, 2, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        conv.bias.zero_()
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def test_gradcam_finds_the_region():
    x = torch.zeros(1, 8, 8)
    x[0, :4, :4] = 1.0  # bright top-left quadrant
    x[0, 4:, 4:] = -1.0  # dark bottom-right quadrant
    net = _quadrant_net()
    bright = attribution.attribute(net, x, "gradcam", target=0, layer="0")[0]
    dark = attribution.attribute(net, x, "gradcam", target=1)[0]
    assert bright[:4, :4].min() > 0 and bright[4:, :].max() == 0 and bright[:, 4:].max() == 0
    assert dark[4:, 4:].min() > 0 and dark[:4, :].max() == 0 and dark[:, :4].max() == 0


def test_occlusion_blanks_the_region():
    x = torch.zeros(1, 8, 8)
    x[0, :4, :4] = 1.0
    occ = attribution.attribute(_quadrant_net(), x, "occlusion", target=0, window=2, stride=2)[0]
    assert occ[:4, :4].min() > 0 and np.abs(occ[4:, 4:]).max() == 0


def test_token_attribution_completeness(char, ids):
    target_pos = 7
    attr = attribution.token_attribution(char, ids, target_pos=target_pos, target=5, n_steps=128)
    assert attr.shape == (12,)
    assert np.all(attr[target_pos + 1:] == 0)  # a one-direction LSTM cannot see the future
    model = char.eval()
    with torch.no_grad():
        emb = model[0](ids.unsqueeze(0))
        gap = model[1:](emb)[0, target_pos, 5] - model[1:](torch.zeros_like(emb))[0, target_pos, 5]
    assert attr.sum() == pytest.approx(gap.item(), abs=0.02 * abs(gap.item()) + 1e-4)


def test_attribution_errors(vgg, image, char, ids):
    with pytest.raises(InputError, match="Unknown"):
        attribution.attribute(vgg, image, "lime")
    with pytest.raises(InputError, match="Conv2d"):
        attribution.attribute(vgg, image, "gradcam", layer="1")
    with pytest.raises(InputError, match="token_attribution"):
        attribution.attribute(char, ids, "saliency")
    with pytest.raises(InputError, match="Embedding"):
        attribution.token_attribution(vgg, ids)
    with pytest.raises(InputError, match="n_steps"):
        attribution.attribute(vgg, image, "integrated_gradients", n_steps=10_000)


# --- nothing is mutated ---------------------------------------------------------------------------------

_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
               "_forward_hooks_with_kwargs", "_state_dict_hooks")


def _snapshot(model: nn.Module) -> dict:
    return {"params": [(n, p.detach().clone(), p.requires_grad, p.grad) for n, p in model.named_parameters()],
            "buffers": [b.clone() for b in model.buffers()],
            "modes": [m.training for m in model.modules()],
            "hooks": [[dict(getattr(m, d, {})) for d in _HOOK_DICTS] for m in model.modules()]}


def _same(a: dict, b: dict) -> bool:
    return (all(n1 == n2 and torch.equal(p1, p2) and r1 == r2 and g1 is None and g2 is None
                for (n1, p1, r1, g1), (n2, p2, r2, g2) in zip(a["params"], b["params"]))
            and all(torch.equal(x, y) for x, y in zip(a["buffers"], b["buffers"]))
            and a["modes"] == b["modes"] and a["hooks"] == b["hooks"])


def _image_calls():
    yield "predict", lambda m, x: inspect.predict(m, x)
    yield "activations", lambda m, x: inspect.activations(m, x)
    yield "filters", lambda m, x: inspect.filters(m, "0")
    for method in attribution.METHODS:
        yield method, lambda m, x, method=method: attribution.attribute(m, x, method, window=4, nt_samples=2,
                                                                       n_steps=4)


@pytest.mark.parametrize("name,call", list(_image_calls()), ids=[n for n, _ in _image_calls()])
def test_image_functions_leave_the_model_untouched(name, call, image):
    model = engine.build(engine.network.presets.get("resnet-mini"), seed=0).train()  # train mode: BatchNorm, Dropout
    model[0].weight.requires_grad_(False)  # a frozen layer stays frozen
    model[9].register_forward_hook(lambda *_: None)  # the caller's own hook stays, and is the only one
    before = _snapshot(model)
    call(model, image)
    assert _same(before, _snapshot(model))


@pytest.mark.parametrize("call", [inspect.hidden_states, inspect.lstm_gates, attribution.token_attribution,
                                  inspect.predict, inspect.activations])
def test_sequence_functions_leave_the_model_untouched(call, ids):
    model = engine.build(engine.ModelSpec.from_dict(TINY_CHAR), seed=0).train()
    before = _snapshot(model)
    call(model, ids)
    assert _same(before, _snapshot(model))


# --- figures --------------------------------------------------------------------------------------------

def test_tile_puts_nan_between_maps():
    z = figs.tile(np.ones((5, 3, 3)), cols=3)
    assert z.shape == (7, 11)
    assert np.isnan(z[3]).all() and np.isnan(z[:, 3]).all() and np.isnan(z[4:, 8:]).all()
    assert np.nansum(z) == 45


def test_mosaic_is_one_heatmap(vgg, image):
    acts = inspect.activations(vgg, image)
    fig = figs.mosaic(acts[0].array, "0 Conv2d")
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    many = figs.mosaic(np.random.rand(100, 4, 4), max_maps=64)
    assert np.isfinite(np.asarray(many.data[0].z, dtype=float)).sum() == 64 * 16
    for a in acts:
        assert len(figs.activation_figure(a.array).data) == 1


def test_figures_build(vgg, image, char, ids):
    w = inspect.filters(vgg, "0")
    assert len(figs.filter_grid(w).data) == 1
    assert isinstance(figs.filter_grid(np.random.rand(4, 3, 3, 3), rgb=True).data[0], go.Image)
    assert len(figs.histogram(w).data) == 1
    attr = attribution.attribute(vgg, image, "integrated_gradients", n_steps=8)
    fig = figs.overlay(image.numpy(), attr)
    assert len(fig.data) == 2 and fig.data[1].zmid == 0
    rgb = figs.overlay(np.random.rand(3, 8, 8), np.random.rand(3, 8, 8))
    assert isinstance(rgb.data[0], go.Image)
    bars = figs.topk_bars(inspect.predict(vgg, image, None, 3), true_label="0")
    assert len(bars.data[0].y) == 3
    text = figs.coloured_text(list("hello world"), np.linspace(-1, 1, 11), per_line=4)
    assert np.asarray(text.data[0].z).shape == (3, 4) and text.data[0].text[0][0] == "h"
    assert set(figs.gates_figures(inspect.lstm_gates(char, ids))) == {"input", "forget", "output"}
    assert len(figs.time_heatmap(inspect.hidden_states(char, ids)).data[0].z) == 6  # units on the y axis


def test_fit_to_input_converts_channels_and_size():
    rgb = np.random.rand(3, 20, 30)
    x, notes = inspect.fit_to_input(rgb, (1, 8, 8))
    assert x.shape == (1, 8, 8) and x.dtype == np.float32 and len(notes) == 2
    same, none = inspect.fit_to_input(np.random.rand(8, 8), (1, 8, 8))
    assert same.shape == (1, 8, 8) and none == []
    assert inspect.fit_to_input(np.random.rand(8, 8), (3, 4, 4))[0].shape == (3, 4, 4)
    with pytest.raises(InputError, match="not images"):
        inspect.fit_to_input(rgb, (12,))


def test_predicted_classes_match_argmax(vgg):
    xs = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = engine.build(engine.network.presets.get("tiny-vgg"), seed=0).eval()(xs).argmax(1).numpy()
    np.testing.assert_array_equal(inspect.predicted_classes(vgg, xs, batch_size=2), expected)
