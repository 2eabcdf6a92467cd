"""engine.conv against torch.nn.functional on hypothesis-generated sizes, and the traces' own arithmetic."""
import io

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine import conv, limits
from engine.conv import arithmetic as conv_arithmetic
from engine.conv import examples as conv_examples
from engine.conv import figures as conv_figures
from engine.conv import receptive
from engine.errors import InputError
from engine.inspect import images

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
small = st.integers(1, 3)


def arrays(draw, shape):
    """Small integers as float64: exact sums, readable failures."""
    return np.array(draw(st.lists(st.integers(-4, 4), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
                    dtype=np.float64).reshape(shape)


def torch_of(a):
    return torch.tensor(a, dtype=torch.float64)


@st.composite
def conv_cases(draw):
    dims = draw(st.sampled_from([1, 2]))
    c_in, c_out = draw(small), draw(small)
    size = tuple(draw(st.integers(1, 9)) for _ in range(dims))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    stride, dilation = draw(small), draw(small)
    padding = draw(st.one_of(st.integers(0, 3), st.sampled_from(["valid", "same", "full"])))
    if padding == "same":
        stride = 1
    x = arrays(draw, (c_in, *size))
    w = arrays(draw, (c_out, c_in, *kernel))
    return dims, x, w, stride, padding, dilation


def torch_conv(dims, x, w, stride, padding, dilation):
    if padding == "full":
        padding = tuple(dilation * (k - 1) for k in w.shape[2:])
    fn = F.conv1d if dims == 1 else F.conv2d
    return fn(torch_of(x)[None], torch_of(w), stride=stride, padding=padding, dilation=dilation)[0].numpy()


@SETTINGS
@given(conv_cases())
def test_conv_equals_torch(case):
    dims, x, w, stride, padding, dilation = case
    fn = conv.conv1d if dims == 1 else conv.conv2d
    try:
        ours = fn(x, w, stride=stride, padding=padding, dilation=dilation)
    except InputError:
        with pytest.raises(RuntimeError):  # PyTorch refuses the same cases
            torch_conv(dims, x, w, stride, padding, dilation)
        return
    np.testing.assert_allclose(ours.output, torch_conv(dims, x, w, stride, padding, dilation), atol=1e-9)


@SETTINGS
@given(conv_cases())
def test_flip_is_conv_with_rotated_kernel(case):
    dims, x, w, stride, padding, dilation = case
    fn = conv.conv1d if dims == 1 else conv.conv2d
    rotated = np.flip(w, axis=tuple(range(2, 2 + dims))).copy()
    try:
        ours = fn(x, w, stride=stride, padding=padding, dilation=dilation, flip=True)
    except InputError:
        with pytest.raises(RuntimeError):  # PyTorch refuses the same cases
            torch_conv(dims, x, rotated, stride, padding, dilation)
        return
    np.testing.assert_allclose(ours.output, torch_conv(dims, x, rotated, stride, padding, dilation), atol=1e-9)


@SETTINGS
@given(conv_cases(), st.integers(-2, 2))
def test_steps_replay_the_output(case, bias):
    dims, x, w, stride, padding, dilation = case
    fn = conv.conv1d if dims == 1 else conv.conv2d
    try:
        trace = fn(x, w, stride=stride, padding=padding, dilation=dilation, bias=[bias] * w.shape[0])
    except InputError:
        return
    assert len(trace.steps) == trace.output.size
    for i, step in enumerate(trace.steps):
        assert step.out_index == np.unravel_index(i, trace.output.shape)
        assert step.value == pytest.approx(step.products.sum() + bias)
        assert step.value == trace.output[step.out_index]
        # The values under the window are the padded grid's cells at the recorded positions.
        cells = trace.padded[(slice(None), *step.positions.T)].reshape(step.values.shape)
        np.testing.assert_array_equal(cells, step.values)
        assert (step.values[:, step.is_padding.reshape(step.values.shape[1:])] == 0).all()


@SETTINGS
@given(st.data())
def test_conv_transpose_equals_torch(data):
    dims = data.draw(st.sampled_from([1, 2]))
    c_in, c_out = data.draw(small), data.draw(small)
    size = tuple(data.draw(st.integers(1, 6)) for _ in range(dims))
    kernel = tuple(data.draw(st.integers(1, 4)) for _ in range(dims))
    stride, dilation, padding = data.draw(small), data.draw(small), data.draw(st.integers(0, 3))
    output_padding = data.draw(st.integers(0, max(stride, dilation) - 1))
    x, w = arrays(data.draw, (c_in, *size)), arrays(data.draw, (c_in, c_out, *kernel))
    fn, ref = (conv.conv_transpose1d, F.conv_transpose1d) if dims == 1 else (conv.conv_transpose2d, F.conv_transpose2d)
    try:
        ours = fn(x, w, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    except InputError:
        with pytest.raises(RuntimeError):
            ref(torch_of(x)[None], torch_of(w), stride=stride, padding=padding, output_padding=output_padding,
                dilation=dilation)
        return
    expected = ref(torch_of(x)[None], torch_of(w), stride=stride, padding=padding, output_padding=output_padding,
                   dilation=dilation)[0].numpy()
    np.testing.assert_allclose(ours.output, expected, atol=1e-9)
    # Zero insertion: S−1 zeros between neighbours, all of them INSERTED cells holding 0.
    assert (ours.padded[:, ours.source == conv.INSERTED] == 0).all()


@SETTINGS
@given(st.data())
def test_pool_equals_torch(data):
    dims = data.draw(st.sampled_from([1, 2]))
    mode = data.draw(st.sampled_from(["max", "avg"]))
    channels = data.draw(st.sampled_from([None, 2]))
    size = tuple(data.draw(st.integers(1, 9)) for _ in range(dims))
    kernel, ceil_mode = data.draw(st.integers(1, 4)), data.draw(st.booleans())
    stride = data.draw(st.one_of(st.none(), small))
    dilation = data.draw(small) if mode == "max" else 1
    padding = data.draw(st.integers(0, kernel // 2))
    include_pad = data.draw(st.booleans())
    x = arrays(data.draw, (channels or 1, *size))
    x = x if channels else x[0]
    fn = conv.pool1d if dims == 1 else conv.pool2d
    t = torch_of(x)[None]

    def reference():
        if mode == "max":
            return (F.max_pool1d if dims == 1 else F.max_pool2d)(t, kernel, stride, padding, dilation, ceil_mode)
        return (F.avg_pool1d if dims == 1 else F.avg_pool2d)(t, kernel, stride, padding, ceil_mode, include_pad)

    try:
        ours = fn(x, kernel, stride, mode, ceil_mode, padding=padding, dilation=dilation,
                  count_include_pad=include_pad)
    except InputError:
        with pytest.raises(RuntimeError):  # PyTorch refuses the same cases
            reference()
        return
    ref = reference()
    np.testing.assert_allclose(ours.output, ref[0].numpy(), atol=1e-9)
    for step in ours.steps:
        if mode == "max":
            assert step.values.ravel()[step.winner] == step.value
        assert step.weights is None and step.products is None


def test_rgb_input_with_a_3x3x3_kernel():
    rng = np.random.default_rng(0)
    x, w = rng.integers(-3, 4, (3, 5, 5)).astype(float), rng.integers(-1, 2, (3, 3, 3)).astype(float)
    trace = conv.conv2d(x, w, padding=1)
    assert trace.output.shape == (5, 5)
    step = trace.steps[0]
    assert step.values.shape == (3, 3, 3) and step.out_index == (0, 0)
    assert step.is_padding.sum() == 5  # top-left window: a row and a column of padding
    expected = F.conv2d(torch_of(x)[None], torch_of(w)[None], padding=1)[0, 0].numpy()
    np.testing.assert_allclose(trace.output, expected)


def test_padding_modes_give_narrow_equal_and_wide_outputs():
    x, w = np.arange(7.0), np.array([1.0, -2.0, 1.0])
    assert conv.conv1d(x, w, padding="valid").output.shape == (5,)
    assert conv.conv1d(x, w, padding="same").output.shape == (7,)
    assert conv.conv1d(x, w, padding="full").output.shape == (9,)
    # The second difference of a straight line is zero away from the edges.
    np.testing.assert_allclose(conv.conv1d(x, w).output, 0)
    np.testing.assert_allclose(conv.conv1d(x, [1 / 2, 0, -1 / 2], flip=True).output, 1)  # slope 1


def test_output_size_and_fit():
    assert conv.output_size(7, 3, stride=3) == 2
    fit = conv.fit(7, 3, stride=3)
    assert not fit.exact and fit.leftover == 1 and fit.uncovered == (6,)
    assert conv.fit(7, 3, stride=2).exact and conv.fit(7, 3, stride=2).uncovered == ()
    assert conv.fit(5, 1, stride=2).uncovered == (1, 3)  # gaps between windows
    assert conv.output_size(5, 3, padding=1, dilation=2) == 3
    assert conv.output_size(2, 3) == 0
    assert conv.output_size(5, 2, stride=2, ceil_mode=True) == 3
    assert conv_arithmetic.resolve_padding("same", 4, dims=1) == ((1, 2),)
    for n, k, s, p, d in [(7, 3, 3, 0, 1), (10, 3, 2, 1, 2), (5, 5, 1, 0, 1), (9, 2, 4, 1, 1)]:
        torch_size = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d).shape[-1]
        assert conv.output_size(n, k, s, p, d) == torch_size == conv.fit(n, k, s, p, d).output_size


@pytest.mark.parametrize("call, words", [
    (lambda: conv.conv2d(np.ones((3, 3)), np.ones((5, 5))), "larger than the padded input"),
    (lambda: conv.conv2d(np.ones((5, 5)), np.ones((3, 3)), dilation=3), "Dilation 3"),
    (lambda: conv.conv2d(np.ones((5, 5)), np.ones((3, 3)), stride=0), "stride must be at least 1"),
    (lambda: conv.conv2d(np.ones((5, 5)), np.ones((3, 3)), padding=-1), "padding must be at least 0"),
    (lambda: conv.conv2d(np.ones((5, 5)), np.ones((3, 3)), stride=2, padding="same"), "stride 1"),
    (lambda: conv.conv2d(np.ones((3, 5, 5)), np.ones((2, 3, 3))), "channel"),
    (lambda: conv.conv2d(np.ones((5, 5)), [[1, "a"], [2, 3]]), "only numbers"),
    (lambda: conv.conv2d(np.full((5, 5), np.nan), np.ones((3, 3))), "fill every cell"),
    (lambda: conv.pool2d(np.ones((5, 5)), 2, padding=2), "half the window"),
    (lambda: conv.pool2d(np.ones((5, 5)), 2, mode="min"), "max"),
    (lambda: conv.conv_transpose2d(np.ones((2, 2)), np.ones((3, 3)), padding=3), "crops away"),
])
def test_bad_parameters_explain_the_fix(call, words):
    with pytest.raises(InputError, match=words):
        call()


def test_stride_that_does_not_fit_is_not_an_error():
    trace = conv.conv2d(np.ones((7, 7)), np.ones((3, 3)), stride=3)
    assert trace.output.shape == (2, 2)
    assert conv.fit(7, 3, 3).uncovered == (6,)


def test_transposed_trace_marks_inserted_zeros():
    trace = conv.conv_transpose2d(np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((3, 3)), stride=2)
    assert trace.output.shape == (5, 5)
    assert trace.padded.shape == (1, 7, 7)  # 3×3 after zero insertion, plus K−1 = 2 on every side
    assert (trace.source == conv.INPUT).sum() == 4 and (trace.source == conv.INSERTED).sum() == 5
    assert trace.output[2, 2] == 10  # the centre sees all four inputs


def test_ceil_mode_windows_run_past_the_edge():
    trace = conv.pool2d(np.arange(25.0).reshape(5, 5), 2, ceil_mode=True)
    assert trace.output.shape == (3, 3)
    last = trace.steps[-1]
    assert (last.kinds == conv.OUTSIDE).sum() == 3 and last.value == 24


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["conv", "pool"]), st.integers(1, 4), small, st.integers(0, 1), small),
                min_size=1, max_size=4))
def test_receptive_field_matches_torch_gradients(layers):
    """The pixels whose gradient reaches one output unit are exactly its receptive field."""
    stack = [receptive.Layer(kind, k, s, min(p, k // 2), d if kind == "conv" else 1) for kind, k, s, p, d in layers]
    n = 40
    try:
        fields = receptive.fields(stack, n)
    except InputError:
        return
    x = torch.zeros(1, 1, n, dtype=torch.float64, requires_grad=True)
    h = x
    for layer in stack:
        if layer.kind == "conv":
            h = F.conv1d(h, torch.ones(1, 1, layer.kernel_size, dtype=torch.float64), stride=layer.stride,
                         padding=layer.padding, dilation=layer.dilation)
        else:
            h = F.avg_pool1d(h, layer.kernel_size, layer.stride, layer.padding)
    unit = h.shape[-1] // 2
    assert h.shape[-1] == fields[-1].output_size
    h[0, 0, unit].backward()
    seen = np.flatnonzero(x.grad[0, 0].numpy())
    lo, hi = fields[-1].span(unit)
    assert set(seen) <= set(range(max(lo, 0), min(hi, n - 1) + 1))
    if all(layer.dilation == 1 and layer.stride <= layer.kernel_size for layer in stack) and 0 <= lo and hi < n:
        assert seen.min() == lo and seen.max() == hi and len(seen) == fields[-1].size  # no gaps: the whole span


def test_receptive_field_of_stacked_3x3_layers_is_1_plus_l_k_minus_1():
    for n_layers in range(1, 6):
        assert receptive.fields(receptive.stack(n_layers, 3))[-1].size == 1 + n_layers * 2
    with_pooling = receptive.fields(receptive.stack(2, 3, pool_every=1))
    assert [f.size for f in with_pooling] == [3, 4, 8, 10]


FIGURE_CASES = {
    "conv 2-D": lambda: conv.conv2d(conv_examples.random_grid((5, 5)), conv_examples.kernel("Sobel x"), padding=1),
    "conv RGB, 2 maps": lambda: conv.conv2d(conv_examples.random_grid((4, 4), 3), np.ones((2, 3, 2, 2)), dilation=2),
    "conv 1-D": lambda: conv.conv1d(conv_examples.signal("step", 8), conv_examples.kernel("first difference", 1)),
    "transposed": lambda: conv.conv_transpose2d(np.ones((2, 2)), np.ones((3, 3)), stride=2, padding=1),
    "max pool, ceil": lambda: conv.pool2d(conv_examples.random_grid((5, 5), 2), 2, ceil_mode=True),
    "avg pool 1-D": lambda: conv.pool1d(np.arange(7.0), 3, 2, "avg", padding=1),
}


@pytest.mark.parametrize("name", FIGURE_CASES)
def test_animation_is_a_valid_plotly_figure(name):
    trace = FIGURE_CASES[name]()
    fig = conv_figures.animation(trace, active=1)
    as_dict = fig.to_dict()
    go.Figure(as_dict)  # the frames skip plotly's validation when built; validate a serialised copy here
    assert len(as_dict["frames"]) == trace.n_steps == len(as_dict["layout"]["sliders"][0]["steps"])
    assert as_dict["layout"]["sliders"][0]["active"] == 1
    last = as_dict["frames"][-1]["data"][-1]["text"][0]
    assert last == conv_figures.step_equation(trace, trace.steps[-1], "<br>")
    assert last.endswith(f"= {conv_figures.fmt(trace.output.ravel()[-1])}")


def test_step_equation_writes_out_the_products():
    trace = conv.conv1d([1.0, 2.0, -3.0], [1.0, -1.0, 0.5])
    assert conv_figures.step_equation(trace, trace.steps[0]) == "out[0] = 1·1 + 2·(−1) + (−3)·0.5 = −2.5"
    pooled = conv.pool2d(np.array([[1.0, 5.0], [3.0, 2.0]]), 2)
    assert conv_figures.step_equation(pooled, pooled.steps[0]) == "out[0, 0] = max(1, 5, 3, 2) = 5"
    written = [conv_figures.fmt(v) for v in (3.0, -1.5, 1 / 3, -np.inf, 1e-3)]
    assert written == ["3", "−1.5", "0.333", "−∞", "1.00e−03"]


def test_examples_match_the_course():
    assert conv_examples.X_IMAGE.shape == conv_examples.O_IMAGE.shape == (9, 9)
    assert set(np.unique(conv_examples.X_IMAGE)) == {-1.0, 1.0}
    np.testing.assert_allclose(conv_examples.kernel("Gaussian blur") * 16, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_allclose(conv_examples.kernel("moving average", 1), [1 / 3] * 3)
    assert conv_examples.kernel("box blur", size=5).shape == (5, 5) and conv_examples.fixed_size("Sobel x") == 3
    # The X's diagonal filter matches the X's diagonal exactly: 9 products of (±1)·(±1) = 9.
    response = conv.conv2d(conv_examples.X_IMAGE, conv_examples.kernel("X/O diagonal ╲")).output
    assert response.max() == 9 and response[1, 1] == 9  # centred on the stroke
    image, label = conv_examples.digit(0)
    assert image.shape == (8, 8) and 0 <= image.min() and image.max() <= 1 and label == 0
    with pytest.raises(InputError, match="Unknown kernel"):
        conv_examples.kernel("emboss")


def _encoded(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def test_images_decode_grey_rgb_and_transparency():
    rgba = Image.new("RGBA", (4, 3), (255, 0, 0, 0))  # fully transparent red: becomes white
    assert images.decode(_encoded(rgba), "RGB").pixels.shape == (3, 3, 4)
    np.testing.assert_allclose(images.decode(_encoded(rgba), "L").pixels, 1.0)
    pixels, note = images.resize(np.zeros((3, 100, 50)), 12)
    assert pixels.shape == (3, 12, 6) and note == "Resized from 50×100 to 6×12."
    assert images.resize(np.zeros((5, 5)), 12) == (pytest.approx(np.zeros((5, 5))), None)


def test_images_refuse_bad_uploads(monkeypatch):
    frames = [Image.new("L", (4, 4), v) for v in (0, 128, 255)]
    animated = images.decode(_encoded(frames[0], "GIF", save_all=True, append_images=frames[1:]))
    assert animated.notes == ["The file has 3 frames; using the first."]
    with pytest.raises(InputError, match="corrupt or truncated"):
        images.decode(_encoded(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")[:200])
    with pytest.raises(InputError, match="not an image"):
        images.decode(b"%PDF-1.4 not an image")
    monkeypatch.setattr(limits, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(InputError, match="11×11 = 121 pixels"):
        images.decode(_encoded(Image.new("L", (11, 11))))
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(InputError, match="MB"):
        images.decode(b"x" * 11)
