"""engine.conv.arithmetic and the conv API's edges against torch.nn.functional: ceil mode, bad arguments, padding pairs."""
import itertools
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import conv
from engine.conv import examples as conv_examples
from engine.conv import figures as conv_figures
from engine.errors import InputError

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def torch_of(a):
    return torch.tensor(np.asarray(a, dtype=np.float64))


def test_output_size_matches_torch_pooling_shapes_in_ceil_and_floor_mode():
    for n, k, s, d, ceil in itertools.product(range(1, 8), range(1, 5), range(1, 4), (1, 2), (False, True)):
        for p in range(k // 2 + 1):
            try:
                expected = F.max_pool1d(torch.zeros(1, 1, n), k, s, p, d, ceil).shape[-1]
            except RuntimeError:
                expected = 0  # PyTorch refuses: no window fits
            assert conv.output_size(n, k, s, p, d, ceil_mode=ceil) == expected, (n, k, s, p, d, ceil)


@pytest.mark.parametrize("n, k, s, p", [(1, 2, None, 0), (2, 3, None, 0), (2, 3, 2, 0), (3, 4, 2, 1), (2, 4, 3, 2)])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_ceil_mode_windows_larger_than_the_input_are_pooled_as_torch_does(n, k, s, p, mode):
    x = np.arange(1.0, n * n + 1).reshape(n, n)
    t = torch_of(x)[None, None]
    ref = F.max_pool2d(t, k, s, p, ceil_mode=True) if mode == "max" else F.avg_pool2d(t, k, s, p, ceil_mode=True)
    ours = conv.pool2d(x, k, s, mode, True, padding=p)
    np.testing.assert_allclose(ours.output, ref[0, 0].numpy())
    signal = conv.pool1d(x[0], k, s, mode, True, padding=p)
    ref1 = (F.max_pool1d if mode == "max" else F.avg_pool1d)(torch_of(x[0])[None, None], k, s, p, ceil_mode=True)
    np.testing.assert_allclose(signal.output, ref1[0, 0].numpy())


@pytest.mark.parametrize("call, words", [
    (lambda: conv.output_size(7, 3, 0), "stride must be at least 1"),
    (lambda: conv.fit(7, 3, 0), "stride must be at least 1"),
    (lambda: conv.output_size(7, 3, 2.0), "stride must be a whole number"),
    (lambda: conv.fit(7, 3, 1.5), "stride must be a whole number"),
    (lambda: conv.output_size(7, 3, 1, -1), "padding must be at least 0"),
    (lambda: conv.fit(7, 0), "kernel_size must be at least 1"),
    (lambda: conv.output_size(7, 3, dilation=0), "dilation must be at least 1"),
    (lambda: conv.conv2d(np.ones((5, 5)), np.ones((3, 3)), stride=2.0), "stride must be a whole number"),
    (lambda: conv.conv1d(np.ones(5), np.ones(3), padding=1.5), "padding must be a whole number"),
    (lambda: conv.pool2d(np.ones((5, 5)), 2, "2"), "stride must be a whole number"),
])
def test_bad_arguments_are_input_errors_not_crashes(call, words):
    with pytest.raises(InputError, match=words):
        call()


def test_conv1d_takes_a_before_after_padding_pair():
    x, w = np.arange(6.0), np.array([1.0, -2.0, 3.0])
    ours = conv.conv1d(x, w, padding=(1, 2))
    expected = F.conv1d(F.pad(torch_of(x)[None, None], (1, 2)), torch_of(w)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(ours.output, expected)
    assert ours.padding == ((1, 2),)
    # In 2-D a pair stays one padding per axis, as in F.conv2d.
    image, k = np.arange(20.0).reshape(4, 5), np.ones((3, 3))
    np.testing.assert_allclose(conv.conv2d(image, k, padding=(1, 2)).output,
                               F.conv2d(torch_of(image)[None, None], torch_of(k)[None, None], padding=(1, 2))[0, 0])


def test_pool2d_takes_mode_after_stride_and_keywords_still_work():
    x = np.arange(36.0).reshape(6, 6)
    t = torch_of(x)[None, None]
    np.testing.assert_allclose(conv.pool2d(x, 2, 2, "avg").output, F.avg_pool2d(t, 2, 2)[0, 0])
    np.testing.assert_allclose(conv.pool2d(x, 3, 2, "max", True).output, F.max_pool2d(t, 3, 2, ceil_mode=True)[0, 0])
    keywords = conv.pool2d(x, kernel_size=2, stride=1, padding=1, mode="avg", count_include_pad=False)
    np.testing.assert_allclose(keywords.output, F.avg_pool2d(t, 2, 1, 1, count_include_pad=False)[0, 0])
    np.testing.assert_allclose(conv.pool1d(x[0], 2, mode="max", padding=1).output,
                               F.max_pool1d(t[0, :, 0], 2, padding=1)[0])


def written_mean(equation: str) -> float:
    """Evaluate "out[i, j] = (a + b + …) / n = v" as written: the sum of the listed values over n."""
    body = re.fullmatch(r"out\[[^\]]*\] = \((.*)\) / (\d+) = .*", equation)
    assert body, equation
    values = [float(v.replace("−", "-")) for v in body.group(1).split(" + ")]
    return sum(values) / int(body.group(2))


@SETTINGS
@given(st.data())
def test_written_average_uses_pytorchs_divisor(data):
    dims = data.draw(st.sampled_from([1, 2]))
    size = tuple(data.draw(st.integers(1, 6)) for _ in range(dims))
    kernel = data.draw(st.integers(1, 4))
    stride = data.draw(st.integers(1, 3))
    padding, ceil_mode = data.draw(st.integers(0, kernel // 2)), data.draw(st.booleans())
    include_pad = data.draw(st.booleans())
    x = np.array(data.draw(st.lists(st.integers(0, 9), min_size=int(np.prod(size)), max_size=int(np.prod(size)))),
                 dtype=float).reshape(size)
    fn, ref_fn = (conv.pool1d, F.avg_pool1d) if dims == 1 else (conv.pool2d, F.avg_pool2d)
    try:
        trace = fn(x, kernel, stride, "avg", ceil_mode, padding=padding, count_include_pad=include_pad)
    except InputError:
        with pytest.raises(RuntimeError):
            ref_fn(torch_of(x)[None, None], kernel, stride, padding, ceil_mode, include_pad)
        return
    ref = ref_fn(torch_of(x)[None, None], kernel, stride, padding, ceil_mode, include_pad)[0, 0].numpy()
    for step in trace.steps:
        written = written_mean(conv_figures.step_equation(trace, step))
        assert written == pytest.approx(ref[step.out_index], abs=1e-9)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_identity_kernel_copies_the_input_under_same_padding(k):
    x = conv_examples.random_grid((6, 6), seed=3)
    w = conv_examples.kernel("identity", 2, k)
    expected = F.conv2d(torch_of(x)[None, None], torch_of(w)[None, None], padding="same")[0, 0].numpy()
    np.testing.assert_allclose(expected, x)  # PyTorch's 'same' with this kernel is a copy
    np.testing.assert_allclose(conv.conv2d(x, w, padding="same").output, expected)
    signal, w1 = np.arange(7.0), conv_examples.kernel("identity", 1, k)
    expected1 = F.conv1d(torch_of(signal)[None, None], torch_of(w1)[None, None], padding="same")[0, 0].numpy()
    np.testing.assert_allclose(expected1, signal)
