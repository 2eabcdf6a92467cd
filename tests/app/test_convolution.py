"""The Convolution page in AppTest: every mode draws, invalid settings give messages and never tracebacks."""
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "2_Convolution.py")


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
    at.slider(key="rf_n").set_value(8).run()
    at.slider(key="rf_layers").set_value(8).run()
    assert not at.exception
    assert any("no longer fits" in e.value for e in at.error)


@pytest.mark.parametrize("source", ["digit", "X image", "O image"])
def test_feature_maps(at, source):
    at.selectbox(key="fm_source").set_value(source).run()
    ok(at)
    fig = chart(at, "fm_figure")
    titles = " ".join(a["text"] for a in fig["layout"]["annotations"])
    assert "Input" in titles and "Output" in titles and "ReLU" in titles


def test_feature_maps_of_an_upload(at):
    at.selectbox(key="fm_source").set_value("upload").run()
    ok(at)
    at.file_uploader(key="fm_upload").set_value(("big.png", png(300, 200, "L"), "image/png")).run()
    ok(at)
    assert any("Resized from 300×200 to 128×85" in c.value for c in at.caption)
