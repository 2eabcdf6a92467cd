"""The Convolution page in AppTest: every mode draws, invalid settings give messages and never tracebacks."""
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from streamlit.testing.v1 import AppTest

from engine.conv import examples as conv_examples
from engine.conv import figures as conv_figures

PAGE = str(Path(__file__).resolve().parents[3] / "views" / "2_Convolution.py")


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    assert not app.exception
    return app


def chart(at, key="conv_animation") -> dict:
    """The named Plotly chart's figure, as the browser receives it."""
    charts = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    assert charts, f"no plotly chart with key {key}"
    return json.loads(charts[0].proto.spec)


def open_tab(at, label: str) -> AppTest:
    """Switch the page's tabs (keyed, they rerun on a switch) as a click on the tab would (bound to the address,
    which AppTest sends with every run, so it changes there too)."""
    at.session_state["conv_tab"] = at.query_params["conv_tab"] = label
    return at.run()


def equation(at) -> str:
    return at.code[0].value


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    shape = (height, width, 3) if mode == "RGB" else (height, width)
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


KINDS = {"conv_flip": "toggle", "conv_ceil": "toggle", "conv_rgb": "toggle", "conv_channels": "radio",
         "conv_pool_mode": "radio", "conv_pad_mode": "selectbox", "conv_input": "selectbox", "conv_kernel": "selectbox",
         "conv_op": "selectbox"}


def set_widget(at, key, value):
    """Set a widget by key (sliders unless KINDS says otherwise) and rerun."""
    getattr(at, KINDS.get(key, "slider"))(key=key).set_value(value).run()


def ok(at):
    assert not at.exception
    assert not at.error, [e.value for e in at.error]


def test_default_is_a_2d_convolution_with_every_step(at):
    ok(at)
    fig = chart(at)
    assert len(fig["frames"]) == 25  # 7×7 input, 3×3 kernel: a 5×5 output
    assert fig["layout"]["updatemenus"][0]["buttons"][0]["label"].endswith("Play")
    labels = [a["text"] for a in fig["layout"]["annotations"]]
    assert "<b>Input</b>" in labels and "<b>Output</b>" in labels
    assert equation(at).startswith("out[0, 0] = ")
    assert any("= 5" in latex.value for latex in at.latex)  # (7 + 0 − 2 − 1)/1 + 1
    assert any("= 10" in latex.value for latex in at.latex)  # ((3·3)·1 + 1)·1 parameters


def test_next_and_previous_move_the_step(at):
    at.button(key="conv_next").click().run()
    assert equation(at).startswith("out[0, 1] = ")
    assert chart(at)["layout"]["sliders"][0]["active"] == 1
    at.button(key="conv_prev").click().run()
    assert equation(at).startswith("out[0, 0] = ")
    at.slider(key="conv_step").set_value(25).run()
    assert equation(at).startswith("out[4, 4] = ")


@pytest.mark.parametrize("changes, frames", [
    ({"conv_pad_mode": "same"}, 49),
    ({"conv_pad_mode": "full"}, 81),
    ({"conv_stride": 2, "conv_pad": 1}, 16),
    ({"conv_dilation": 2}, 9),
    ({"conv_flip": True}, 25),
    ({"conv_channels": 3, "conv_maps": 2}, 50),
    ({"conv_input": "X image", "conv_kernel": "X/O diagonal ╲"}, 49),
    ({"conv_input": "O image", "conv_kernel": "Laplacian"}, 49),
    ({"conv_input": "digit", "conv_kernel": "Sobel x"}, 36),
    ({"conv_input": "edit a grid"}, 25),
    ({"conv_kernel": "box blur", "conv_k": 5}, 9),
])
def test_2d_convolution_settings(at, changes, frames):
    for key, value in changes.items():
        set_widget(at, key, value)
    ok(at)
    assert len(chart(at)["frames"]) == frames


def test_flip_rotates_the_kernel(at):
    at.toggle(key="conv_flip").set_value(True).run()
    fig = chart(at)
    assert any("rotated 180°" in a["text"] for a in fig["layout"]["annotations"])
    assert equation(at).startswith("out[0, 0] = ") and "·(−1)" in equation(at)


@pytest.mark.parametrize("mode, ceil, frames", [("max", False, 9), ("avg", False, 9), ("max", True, 16)])
def test_pooling(at, mode, ceil, frames):
    for key, value in [("conv_op", "pooling"), ("conv_pool_mode", mode), ("conv_ceil", ceil)]:
        set_widget(at, key, value)
    ok(at)
    assert len(chart(at)["frames"]) == frames  # 7×7 input, 2×2 windows, stride 2: 3×3 (floor) or 4×4 (ceil)
    assert equation(at).startswith("out[0, 0] = " + ("max(" if mode == "max" else "("))
    assert any("Parameters:** 0" in m.value for m in at.markdown)


def test_transposed_convolution_inserts_zeros(at):
    at.selectbox(key="conv_op").set_value("transposed convolution").run()
    at.slider(key="conv_stride").set_value(2).run()
    ok(at)
    fig = chart(at)
    assert len(fig["frames"]) == 49  # (3 − 1)·2 + 3 = 7
    assert any("zeros inserted" in a["text"] for a in fig["layout"]["annotations"])
    assert any("(N-1)S" in latex.value and "= 7" in latex.value for latex in at.latex)


@pytest.mark.parametrize("op", ["convolution", "pooling", "transposed convolution"])
@pytest.mark.parametrize("source", ["random integers", "edit a signal", "test signal"])
def test_1d_modes(at, op, source):
    at.button_group(key="conv_dims").set_value("1-D").run()
    at.selectbox(key="conv_op").set_value(op).run()
    at.selectbox(key="conv_input_1d").set_value(source).run()
    ok(at)
    fig = chart(at)
    assert fig["frames"] and equation(at).startswith("out[0] = ")


def test_1d_second_difference_of_a_ramp_is_zero(at):
    at.button_group(key="conv_dims").set_value("1-D").run()
    at.selectbox(key="conv_input_1d").set_value("test signal").run()
    at.selectbox(key="conv_signal").set_value("ramp").run()
    at.selectbox(key="conv_kernel_1d").set_value("second difference").run()
    ok(at)
    assert equation(at).endswith("= 0")


def test_stride_that_does_not_fit_is_a_warning_naming_the_uncovered_rows(at):
    at.slider(key="conv_stride").set_value(3).run()
    ok(at)
    warning = " ".join(w.value for w in at.warning)
    assert "does not fit" in warning and "6" in warning  # input row/column 6 of 0..6 is never read
    assert len(chart(at)["frames"]) == 4


@pytest.mark.parametrize("changes, message", [
    ([("conv_n", 2)], "larger than the padded input"),  # 3×3 kernel on a 2×2 input
    ([("conv_dilation", 4)], "Dilation 4"),  # spans 9 cells of a 7-cell input
    ([("conv_pad_mode", "same"), ("conv_stride", 2)], "stride 1"),
    ([("conv_op", "pooling"), ("conv_k", 2), ("conv_pad", 2)], "half the window"),
    ([("conv_op", "transposed convolution"), ("conv_n_t", 2), ("conv_pad", 4)], "crops away"),
])
def test_invalid_settings_show_a_message(at, changes, message):
    for key, value in changes:
        set_widget(at, key, value)
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert not at.get("plotly_chart") or all("conv_animation" not in c.proto.id for c in at.get("plotly_chart"))


def test_upload_is_resized_and_animated(at):
    at.selectbox(key="conv_input").set_value("upload").run()
    at.file_uploader(key="conv_upload").set_value(("photo.png", png(100, 60), "image/png")).run()
    ok(at)
    assert any("Resized from 100×60 to 12×7" in c.value for c in at.caption)
    assert len(chart(at)["frames"]) == 5 * 10
    at.toggle(key="conv_rgb").set_value(True).run()
    ok(at)
    assert any(a["text"] == "channel 3" for a in chart(at)["layout"]["annotations"])  # the kernel got 3 slices too
    assert equation(at).count("·") == 27


def test_corrupt_upload_is_a_message(at):
    at.selectbox(key="conv_input").set_value("upload").run()
    at.file_uploader(key="conv_upload").set_value(("broken.png", png(20, 20)[:60], "image/png")).run()
    assert not at.exception
    assert any("corrupt" in e.value or "not an image" in e.value for e in at.error)


def test_large_input_falls_back_to_before_and_after(at):
    at.selectbox(key="conv_op").set_value("transposed convolution").run()
    at.slider(key="conv_n_t").set_value(12).run()
    at.slider(key="conv_stride").set_value(2).run()
    ok(at)
    assert any("larger than" in i.value for i in at.info)
    assert chart(at, "conv_before_after")["data"]


def test_receptive_field_grows_by_k_minus_1_per_layer(at):
    open_tab(at, "Receptive field")
    ok(at)
    assert any("1 + L(K-1) = 1 + 3\\cdot(3-1) = 7" in latex.value for latex in at.latex)
    at.slider(key="rf_stride").set_value(2).run()
    ok(at)
    table = next(d.value for d in at.dataframe if "receptive field" in d.value.columns)
    assert list(table["receptive field"]) == ["3×3", "7×7", "15×15"]
    at.slider(key="rf_stride").set_value(1).run()
    at.selectbox(key="rf_pool").set_value("after every layer").run()
    ok(at)
    table = next(d.value for d in at.dataframe if "receptive field" in d.value.columns)
    assert list(table["receptive field"]) == ["3×3", "4×4", "8×8", "10×10", "18×18", "22×22"]
    assert chart(at, "rf_figure")["data"]


def test_receptive_field_that_no_longer_fits_is_a_message(at):
    open_tab(at, "Receptive field")
    at.slider(key="rf_n").set_value(8).run()
    at.slider(key="rf_layers").set_value(8).run()
    assert not at.exception
    assert any("no longer fits" in e.value for e in at.error)


@pytest.mark.parametrize("source", ["digit", "X image", "O image"])
def test_feature_maps(at, source):
    open_tab(at, "Feature maps")
    at.selectbox(key="fm_source").set_value(source).run()
    ok(at)
    fig = chart(at, "fm_figure")
    titles = " ".join(a["text"] for a in fig["layout"]["annotations"])
    assert "Input" in titles and "Output" in titles and "ReLU" in titles


def test_feature_maps_of_an_upload(at):
    open_tab(at, "Feature maps")
    at.selectbox(key="fm_source").set_value("upload").run()
    ok(at)
    at.file_uploader(key="fm_upload").set_value(("big.png", png(300, 200, "L"), "image/png")).run()
    ok(at)
    assert any("Resized from 300×200 to 128×85" in c.value for c in at.caption)


SIZE_RULE = re.compile(r"\\frac\{(\d+) \+ (?:2\\cdot(\d+)|(\d+) \+ (\d+)) - (\d+)\((\d+)-1\) - 1\}\{(\d+)\}.*"
                       r"\\l(floor|ceil) (-?\d+)/(\d+) \\r(?:floor|ceil) \+ 1( - 1)? = (\d+)")


def output_size_shown(at) -> int:
    """The output size the formula panel writes, after checking that its arithmetic is right as written."""
    latex = next(x.value for x in at.latex if "\\frac{N" in x.value)
    m = SIZE_RULE.search(latex)
    assert m, latex
    n, p, lo, hi, d, k, s, rounding, room, s2, dropped, size = m.groups()
    pads = 2 * int(p) if p is not None else int(lo) + int(hi)
    assert int(n) + pads - int(d) * (int(k) - 1) - 1 == int(room) and s == s2, latex
    windows = (math.floor if rounding == "floor" else math.ceil)(int(room) / int(s)) + 1
    assert windows - (1 if dropped else 0) == int(size), latex
    return int(size)


def test_avg_pooling_offers_no_dilation_and_the_formula_shows_what_was_computed(at):
    set_widget(at, "conv_dilation", 3)
    for key, value in [("conv_op", "pooling"), ("conv_k", 3), ("conv_pool_stride", 1), ("conv_pool_mode", "avg")]:
        set_widget(at, key, value)
    ok(at)
    assert "conv_dilation" not in [s.key for s in at.slider]  # PyTorch's avg_pool has no dilation
    expected = F.avg_pool2d(torch.tensor(conv_examples.random_grid((7, 7)))[None, None], 3, 1).shape[-1]
    assert output_size_shown(at) == expected == 5
    assert not at.info and not at.warning  # stride 1 reads every row: no "skips rows" note
    set_widget(at, "conv_pool_mode", "max")
    set_widget(at, "conv_dilation", 2)
    ok(at)
    assert output_size_shown(at) == F.max_pool2d(torch.zeros(1, 1, 7, 7), 3, 1, dilation=2).shape[-1]


def test_ceil_mode_formula_drops_the_window_pytorch_drops(at):
    for key, value in [("conv_op", "pooling"), ("conv_n", 5), ("conv_k", 2), ("conv_pad", 1), ("conv_ceil", True)]:
        set_widget(at, key, value)
    ok(at)
    expected = F.max_pool2d(torch.zeros(1, 1, 5, 5), 2, 2, 1, ceil_mode=True).shape[-1]
    assert output_size_shown(at) == expected == 3
    assert any("right padding" in c.value for c in at.caption)
    assert len(chart(at)["frames"]) == expected ** 2


@pytest.mark.parametrize("mode, kernel, k, dilation", [("same", "vertical edge", 3, 2), ("same", "box blur", 4, 1),
                                                     ("full", "box blur", 2, 3), ("valid", "vertical edge", 3, 1)])
def test_padding_modes_show_how_p_is_chosen(at, mode, kernel, k, dilation):
    set_widget(at, "conv_kernel", kernel)
    if kernel == "box blur":
        set_widget(at, "conv_k", k)
    for key, value in [("conv_dilation", dilation), ("conv_pad_mode", mode)]:
        set_widget(at, key, value)
    ok(at)
    rule = next(x.value for x in at.latex if f"{mode}: " in x.value)
    x = torch.tensor(conv_examples.random_grid((7, 7)))[None, None]
    w = torch.tensor(conv_examples.kernel(kernel, 2, k))[None, None]
    if "before" in rule:  # an odd total: PyTorch puts the extra cell after
        lo, hi = map(int, re.search(r"(\d+)\\text\{ before, \}(\d+)", rule).groups())
        shown = F.conv2d(F.pad(x, (lo, hi, lo, hi)), w, dilation=dilation)
    else:
        shown = F.conv2d(x, w, padding=int(re.search(r"= (\d+)\s*\$*$", rule.strip()).group(1)), dilation=dilation)
    torch_padding = tuple(dilation * (k - 1) for _ in range(2)) if mode == "full" else mode
    expected = F.conv2d(x, w, padding=torch_padding, dilation=dilation)
    torch.testing.assert_close(shown, expected)
    assert output_size_shown(at) == expected.shape[-1]


@pytest.mark.parametrize("changes, words", [
    ([], "zeros added"),
    ([("conv_op", "transposed convolution")], "removes P"),
    ([("conv_op", "pooling")], "−∞"),
    ([("conv_op", "pooling"), ("conv_pool_mode", "avg")], "counted in the mean"),
])
def test_padding_help_depends_on_the_operation(at, changes, words):
    for key, value in changes:
        set_widget(at, key, value)
    assert words in at.slider(key="conv_pad").help


def before_after(at) -> dict:
    ok(at)
    assert any("Too large to animate" in i.value for i in at.info)
    return chart(at, "conv_before_after")


def test_fallback_names_the_step_count_and_draws_maps_as_heatmaps(at):
    for key, value in [("conv_n", 12), ("conv_maps", 3), ("conv_pad_mode", "same")]:
        set_widget(at, key, value)
    fig = before_after(at)
    steps = 3 * F.conv2d(torch.zeros(1, 1, 12, 12), torch.zeros(1, 1, 3, 3), padding="same")[0, 0].numel()
    assert any(f"{steps} steps" in i.value for i in at.info)  # 432, not "larger than 12×12"
    assert [d["type"] for d in fig["data"]] == ["heatmap", "heatmap"]
    labels = [a["text"] for a in fig["layout"]["annotations"]]
    assert "map 2" in labels and "map 3" in labels
    assert len(fig["data"][1]["z"]) == 3 * 13 - 1  # three 12-row maps with a gap row between them
    set_widget(at, "conv_channels", 3)
    fig = before_after(at)
    x = conv_examples.random_grid((12, 12), 3)
    first = np.array(fig["data"][0]["z"][:12], dtype=float)
    np.testing.assert_array_equal(first, x[0])  # the values, not an RGB picture clipped to [0, 1]
    assert "channel 3" in [a["text"] for a in fig["layout"]["annotations"]]


def test_fallback_draws_an_rgb_upload_in_colour(at):
    set_widget(at, "conv_input", "upload")
    at.file_uploader(key="conv_upload").set_value(("photo.png", png(12, 12), "image/png")).run()
    for key, value in [("conv_rgb", True), ("conv_maps", 3), ("conv_pad_mode", "same")]:
        set_widget(at, key, value)
    fig = before_after(at)
    assert [d["type"] for d in fig["data"]] == ["image", "heatmap"]


def test_flip_off_says_it_is_cross_correlation(at):
    at.button_group(key="conv_dims").set_value("1-D").run()
    at.selectbox(key="conv_input_1d").set_value("test signal").run()
    at.selectbox(key="conv_signal").set_value("ramp").run()
    at.selectbox(key="conv_kernel_1d").set_value("first difference").run()
    ok(at)
    ramp = torch.tensor(conv_examples.signal("ramp"))[None, None]
    w = torch.tensor(conv_examples.kernel("first difference", 1))[None, None]
    assert any("cross-correlation" in c.value for c in at.caption)
    assert equation(at).endswith(f"= {conv_figures.fmt(F.conv1d(ramp, w)[0, 0, 0])}")  # −0.5: minus the slope
    set_widget(at, "conv_flip", True)
    ok(at)
    assert not any("Flip is off" in c.value for c in at.caption)
    assert equation(at).endswith(f"= {conv_figures.fmt(F.conv1d(ramp, w.flip(-1))[0, 0, 0])}")  # the slope
    at.selectbox(key="conv_kernel_1d").set_value("second difference").run()
    set_widget(at, "conv_flip", False)
    assert not any("Flip is off" in c.value for c in at.caption)  # symmetric: both give the same


def test_fixed_size_preset_shows_its_own_kernel_size(at):
    set_widget(at, "conv_kernel", "box blur")
    set_widget(at, "conv_k", 5)
    set_widget(at, "conv_kernel", "Sobel x")
    ok(at)
    shown = [s for s in at.slider if s.label == "Kernel size K" and s.key.startswith("conv_")]
    assert len(shown) == 1 and shown[0].disabled
    assert shown[0].value == len(conv_examples.kernel("Sobel x")) == 3
    assert len(chart(at)["frames"]) == F.conv2d(torch.zeros(1, 1, 7, 7), torch.zeros(1, 1, 3, 3)).numel()


@pytest.mark.parametrize("kernel, k, flip", [("Laplacian", 3, False), ("box blur", 5, False), ("Sobel x", 3, True)])
def test_feature_maps_can_use_the_animation_kernel(at, kernel, k, flip):
    set_widget(at, "conv_kernel", kernel)
    if k != 3:
        set_widget(at, "conv_k", k)
    set_widget(at, "conv_flip", flip)
    open_tab(at, "Feature maps")
    at.selectbox(key="fm_kernel").set_value("the Animation tab's kernel").run()
    ok(at)
    image, _ = conv_examples.digit(0)
    w = torch.tensor(conv_examples.kernel(kernel, 2, k))
    w = w.flip(-1, -2) if flip else w
    expected = F.conv2d(torch.tensor(image)[None, None], w[None, None], padding="same")[0, 0].numpy()
    fig = chart(at, "fm_figure")
    np.testing.assert_allclose(np.array(fig["data"][1]["z"], dtype=float), expected, atol=1e-9)
    assert any(kernel in a["text"] for a in fig["layout"]["annotations"])


def test_does_not_fit_note_suggests_a_padding_that_fits(at):
    set_widget(at, "conv_stride", 3)
    warning = " ".join(w.value for w in at.warning)
    padding = int(re.search(r"use padding (\d+)", warning).group(1))
    set_widget(at, "conv_pad", padding)
    ok(at)
    assert not at.warning  # the suggested padding fits exactly
    size = F.conv2d(torch.zeros(1, 1, 7, 7), torch.zeros(1, 1, 3, 3), stride=3, padding=padding).shape[-1]
    assert output_size_shown(at) == size


def test_does_not_fit_note_when_only_padding_is_dropped(at):
    for key, value in [("conv_op", "pooling"), ("conv_k", 4), ("conv_pad", 2)]:
        set_widget(at, key, value)
    ok(at)
    warning = " ".join(w.value for w in at.warning)
    assert "window does not fit" in warning and "none" not in warning and "never read" not in warning


def test_small_wording_fixes(at):
    set_widget(at, "conv_maps", 2)
    labels = [a["text"] for a in chart(at)["layout"]["annotations"]]
    assert "<b>Kernel of the map being filled</b>" in labels
    assert any("do not follow each other" in c.value for c in at.caption)
    set_widget(at, "conv_channels", 3)
    set_widget(at, "conv_input", "upload")
    at.file_uploader(key="conv_upload").set_value(("grey.png", png(8, 8, "L"), "image/png")).run()
    ok(at)
    assert any("C_in is 1 here" in c.value for c in at.caption)
    at.button_group(key="conv_dims").set_value("1-D").run()
    ok(at)
    assert any("3-tap slice" in c.value for c in at.caption)


def test_receptive_table_counts_conv_layers_like_the_slider(at):
    open_tab(at, "Receptive field")
    at.selectbox(key="rf_pool").set_value("after every 2 layers").run()
    ok(at)
    table = next(d.value for d in at.dataframe if "receptive field" in d.value.columns)
    assert list(table["layer"]) == ["conv 1", "conv 2", "pool (after conv 2)", "conv 3"]


def test_only_the_open_tab_draws_and_the_closed_ones_keep_their_choices(at):
    assert [c.proto.id.split("-")[-1] for c in at.get("plotly_chart")] == ["conv_animation"]  # default: Animation
    assert not any(d.key == "rf_table" for d in at.dataframe)  # the receptive field's table is not built either
    set_widget(at, "conv_kernel", "Laplacian")
    at.button(key="conv_next").click().run()
    open_tab(at, "Receptive field")
    ok(at)
    assert [c.proto.id.split("-")[-1] for c in at.get("plotly_chart")] == ["rf_figure"]
    set_widget(at, "rf_layers", 5)
    open_tab(at, "Feature maps")
    ok(at)
    assert [c.proto.id.split("-")[-1] for c in at.get("plotly_chart")] == ["fm_figure"]
    open_tab(at, "Animation")
    ok(at)
    assert at.selectbox(key="conv_kernel").value == "Laplacian" and equation(at).startswith("out[0, 1] = ")
    assert at.slider(key="rf_layers").value == 5  # the closed tab's widgets are still there, with their values
    fig = chart(at)
    assert len(fig["frames"]) == 25 and fig["layout"]["sliders"][0]["active"] == 1
