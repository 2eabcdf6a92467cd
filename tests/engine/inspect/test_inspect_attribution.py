"""Grad-CAM through downsampling, baselines, Occlusion's cost, Guided Backprop without ReLU, raw outputs,
upload conversions and the Inspect figures' labels: against PyTorch and Captum computed directly."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import Occlusion
from PIL import Image
from torch import nn

import engine
from engine import inspect
from engine.errors import InputError
from engine.inspect import attribution, images
from engine.inspect import figures as figs


def _bars_net() -> nn.Sequential:
    """Class 0 detects vertical bars, class 1 horizontal ones, through a 2×2 max pool (so Grad-CAM is upsampled)."""
    c1 = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        c1.weight[0, 0] = torch.tensor([[-1.0, 2, -1]] * 3)  # vertical line
        c1.weight[1, 0] = torch.tensor([[-1.0, 2, -1]] * 3).t()  # horizontal line
    net = nn.Sequential(c1, nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 2, 1), nn.ReLU(), nn.AdaptiveMaxPool2d(1),
                        nn.Flatten())
    with torch.no_grad():
        net[3].weight.copy_(torch.eye(2).view(2, 2, 1, 1))
        net[3].bias.zero_()
    return net


def _bars_image() -> torch.Tensor:
    x = torch.zeros(1, 16, 16)
    x[0, 2:7, 3] = 1.0  # vertical bar, top left
    x[0, 12, 9:14] = 1.0  # horizontal bar, bottom right
    return x


@pytest.mark.parametrize("layer", [None, "0", "3"])
def test_gradcam_through_downsampling_peaks_on_the_right_bar(layer):
    net, x = _bars_net(), _bars_image()
    vertical = attribution.attribute(net, x, "gradcam", target=0, layer=layer)[0]
    horizontal = attribution.attribute(net, x, "gradcam", target=1, layer=layer)[0]
    r, c = np.unravel_index(vertical.argmax(), vertical.shape)
    assert 1 <= r <= 7 and 2 <= c <= 4  # on (or next to) the vertical bar's pixels
    r, c = np.unravel_index(horizontal.argmax(), horizontal.shape)
    assert 11 <= r <= 13 and 8 <= c <= 14
    assert vertical[:8, :8].sum() > 0.6 * vertical.sum() and horizontal[8:, 8:].sum() > 0.6 * horizontal.sum()


def test_default_gradcam_layer_is_the_last_main_path_conv():
    resnet = engine.build(engine.network.presets.get("resnet-mini"), seed=0)
    assert attribution.gradcam_layers(resnet)[-1] == "5.shortcut"
    assert attribution.default_gradcam_layer(resnet) == "5.3"  # not the 1×1 projection of the block's input
    x = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(attribution.attribute(resnet, x, "gradcam", target=2),
                                  attribution.attribute(resnet, x, "gradcam", target=2, layer="5.3"))
    assert attribution.default_gradcam_layer(engine.build(engine.network.presets.get("tiny-vgg"), seed=0)) == "7"
    mlp = engine.build(engine.network.presets.get("deep-mlp"), seed=0)
    assert attribution.default_gradcam_layer(mlp) is None
    with pytest.raises(InputError, match="Conv2d"):
        attribution.attribute(mlp, x, "gradcam")


@pytest.fixture(scope="module")
def vgg():
    return engine.build(engine.network.presets.get("tiny-vgg"), seed=0).eval()


@pytest.fixture(scope="module")
def digit():
    return engine.data.load("digits", seed=0).x_test[3]


def _score(model, x, target):
    with torch.no_grad():
        return model(torch.as_tensor(x)[None])[0, target].item()


@pytest.mark.parametrize("kind", ["zero", "mean", "blur"])
def test_integrated_gradients_completeness_from_each_baseline(vgg, digit, kind):
    mean = engine.data.load("digits", seed=0).x_train.mean(dim=0).numpy()
    base = attribution.make_baseline(digit.numpy(), kind, mean=mean)
    assert base.shape == tuple(digit.shape) and base.dtype == np.float32
    attr = attribution.attribute(vgg, digit, "integrated_gradients", target=4, n_steps=128, baseline=base)
    gap = _score(vgg, digit, 4) - _score(vgg, base, 4)
    assert attr.sum() == pytest.approx(gap, abs=0.02 * abs(gap) + 1e-4)


def test_blur_baseline_is_torchs_average_pool(digit):
    x = digit.numpy()
    expected = F.avg_pool2d(digit[None], 5, stride=1, padding=2, count_include_pad=False)[0].numpy()
    np.testing.assert_allclose(attribution.make_baseline(x, "blur"), expected, atol=1e-7)
    flat = np.full((1, 8, 8), 0.3, np.float32)
    np.testing.assert_allclose(attribution.make_baseline(flat, "blur"), flat, atol=1e-7)  # nothing to blur
    with pytest.raises(InputError, match="mean sample"):
        attribution.make_baseline(x, "mean")
    with pytest.raises(InputError, match="image"):
        attribution.make_baseline(np.zeros((5, 2)), "blur")
    with pytest.raises(InputError, match="Unknown baseline"):
        attribution.make_baseline(x, "noise")


def test_occlusion_with_an_image_baseline_equals_captum(vgg, digit):
    base = attribution.make_baseline(digit.numpy(), "blur")
    ours = attribution.attribute(vgg, digit, "occlusion", target=1, window=3, stride=2, baseline=base)
    theirs = Occlusion(vgg).attribute(digit[None], sliding_window_shapes=(1, 3, 3), strides=(1, 2, 2),
                                      baselines=torch.from_numpy(base)[None], target=1)[0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_occlusion_cost_is_counted_and_capped(vgg, digit, monkeypatch):
    rows = []
    vgg_copy = engine.build(engine.network.presets.get("tiny-vgg"), seed=0)
    vgg_copy[0].register_forward_hook(lambda _m, inputs, _o: rows.append(inputs[0].shape[0]))
    monkeypatch.setattr(inspect, "private_copy", lambda m: m.eval())  # count the passes on the hooked model itself
    monkeypatch.setattr(attribution, "private_copy", lambda m: m.eval())
    attribution.attribute(vgg_copy, digit, "occlusion", target=0, window=3, stride=2)
    evals = attribution.occlusion_evals((1, 8, 8), (1, 3, 3), (1, 2, 2))
    assert evals == 16 and sum(rows) == evals + 1  # one per window (4 per axis: 0, 2, 4, 6), plus the unoccluded
    big = engine.build(engine.ModelSpec.from_dict({"name": "big", "input": [1, 80, 80], "layers": [
        {"type": "Conv2d", "out_channels": 1, "kernel_size": 3}, {"type": "Flatten"},
        {"type": "Linear", "out_features": 2}]}), seed=0)
    with pytest.raises(InputError, match="6,400 forward passes; the limit is 4,096"):
        attribution.attribute(big, torch.zeros(1, 80, 80), "occlusion", window=1, stride=1)


def test_guided_backprop_without_relu_is_the_gradient():
    lenet = engine.build(engine.network.presets.get("lenet5"), seed=0)
    assert not attribution.uses_relu(lenet) and attribution.uses_relu(engine.build(engine.network.presets.get("tiny-vgg")))
    x = torch.rand(1, 32, 32, generator=torch.Generator().manual_seed(4)).requires_grad_()
    (grad,) = torch.autograd.grad(lenet.eval()(x[None])[0, 6], x)
    np.testing.assert_allclose(attribution.attribute(lenet, x.detach(), "guided_backprop", target=6), grad.numpy(),
                               rtol=1e-5, atol=1e-8)


def test_outputs_are_the_raw_model_outputs():
    spec = engine.ModelSpec.from_dict({"name": "reg", "input": [20, 1], "layers": [
        {"type": "LSTM", "hidden_size": 4, "output": "last"}, {"type": "Linear", "out_features": 1}]})
    model = engine.build(spec, seed=0)
    x = torch.rand(20, 1, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = model.eval()(x[None])[0].double().numpy()
    np.testing.assert_allclose(inspect.outputs(model, x), expected, atol=1e-7)


# --- uploads ------------------------------------------------------------------------------------------------

def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_decode_says_when_transparency_or_grey_was_converted():
    half = Image.new("RGBA", (4, 4), (0, 0, 0, 255))
    half.putpixel((0, 0), (0, 0, 0, 0))
    assert any("Transparent" in n for n in images.decode(_png(half), "L").notes)
    assert not any("Transparent" in n for n in images.decode(_png(Image.new("RGBA", (4, 4), (9, 9, 9, 255)))).notes)
    grey = images.decode(_png(Image.new("L", (4, 4), 100)), "RGB")
    assert grey.pixels.shape == (3, 4, 4) and any("repeated over the 3 colour channels" in n for n in grey.notes)
    assert images.decode(_png(Image.new("L", (4, 4), 100)), "L").notes == []


def test_uploads_go_to_the_datasets_range_and_can_be_inverted():
    paper = np.full((1, 9, 9), 1.0, np.float32)
    paper[0, 4, :] = 0.0  # a dark stroke on white paper
    x, notes = images.to_pixel_range(paper, -1.0, 1.0, invert=True)
    xo = engine.data.load("xo", seed=0).x_test
    assert x.min() == float(xo.min()) and x.max() == float(xo.max())  # blank paper is the X/O data's blank
    assert x[0, 4].min() == 1.0 and x[0, 0, 0] == -1.0 and len(notes) == 2
    back = images.input_to_drawing(x, (9, 9), low=-1.0, high=1.0)  # the drawing's inverse undoes the mapping
    np.testing.assert_allclose(back, 1.0 - paper[0])
    same, none = images.to_pixel_range(paper)
    np.testing.assert_array_equal(same, paper)
    assert none == []


# --- figure labels --------------------------------------------------------------------------------------------

def test_character_labels_are_visible():
    fig = figs.time_heatmap(np.zeros((3, 2)), x_labels=["a", " ", "\n"])
    assert list(fig.layout.xaxis.ticktext) == ["a", "␣", "⏎"] and list(fig.layout.xaxis.tickvals) == [0, 1, 2]
    bars = figs.topk_bars([(" ", 0.6), ("\n", 0.4)], true_label=" ")
    assert list(bars.data[0].y) == ["␣", "⏎"] and bars.data[0].marker.color[0] == "#2ca02c"
    text = figs.coloured_text(["a", "\n"], np.array([0.1, -0.1]))
    assert text.data[0].text[0][1] == "⏎"
    gates = figs.gates_figures({"input": np.zeros((3, 2))}, "layer 2 of 2, backward")
    assert gates["input"].layout.title.text == "input gate (layer 2 of 2, backward)"


def test_input_figure_draws_each_kind_of_input():
    assert figs.input_figure(np.random.rand(1, 8, 8)).data[0].type == "heatmap"
    assert figs.input_figure(np.random.rand(3, 8, 8)).data[0].type == "image"
    assert len(figs.input_figure(np.random.rand(20, 2)).data) == 2  # one line per feature
    assert figs.input_figure(np.random.rand(2)).data[0].type == "bar"
