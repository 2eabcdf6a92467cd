"""Inspect views that read on a projector (issue 18): the filter grid's input channel, the overlay's opacity."""
import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

import engine
from ui.core.session import KEY, SessionState

PAGE = str(Path(__file__).resolve().parents[3] / "views" / "4_Inspect.py")


def _page(preset: str, tab: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=engine.network.presets.get(preset))
    at.session_state["inspect_tab"] = tab
    return at.run()


def _chart(at, key: str) -> dict | None:
    return next((json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")), None)


def test_multi_channel_filters_are_drawn_one_input_channel_at_a_time():
    at = _page("tiny-vgg", "Filters")
    assert not at.exception
    assert "inspect_filter_channel" not in [w.key for w in at.slider]  # the first layer reads 1 channel
    at.selectbox(key="inspect_filter_layer").set_value(at.selectbox(key="inspect_filter_layer").options[1]).run()
    at.slider(key="inspect_filter_channel").set_value(3).run()
    assert not at.exception
    fig = _chart(at, "inspect_filters")
    assert "input channel 3 (of 10)" in fig["layout"]["title"]["text"]
    heat = fig["data"][0]
    assert heat["zmid"] == 0 and heat["zmin"] == -heat["zmax"]


def test_the_overlay_opacity_is_the_students_choice():
    at = _page("tiny-vgg", "Attribution")
    assert not at.exception
    at.slider(key="inspect_opacity").set_value(0.35).run()
    assert not at.exception
    assert _chart(at, "inspect_overlay")["data"][1]["opacity"] == 0.35


def test_a_channel_beyond_another_layers_inputs_is_no_error():
    spec = engine.ModelSpec.from_dict({"name": "three-convs", "input": [1, 8, 8], "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "Conv2d", "out_channels": 8, "kernel_size": 3},
        {"type": "Conv2d", "out_channels": 3, "kernel_size": 3}, {"type": "Flatten"},
        {"type": "Linear", "out_features": 10}]})
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=spec)
    at.session_state["inspect_tab"] = "Filters"
    at.run()
    layers = at.selectbox(key="inspect_filter_layer").options
    at.selectbox(key="inspect_filter_layer").set_value(layers[2]).run()
    at.slider(key="inspect_filter_channel").set_value(7).run()
    assert "input channel 7 (of 8)" in _chart(at, "inspect_filters")["layout"]["title"]["text"]
    at.selectbox(key="inspect_filter_layer").set_value(layers[1]).run()  # 4 input channels
    assert not at.exception
    assert at.slider(key="inspect_filter_channel").value <= 3
    assert "(of 4)" in _chart(at, "inspect_filters")["layout"]["title"]["text"]


def _captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_the_filter_caption_names_the_scale_of_each_mode():
    spec = engine.ModelSpec.from_dict({"name": "rgb-conv", "input": [3, 8, 8], "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "Flatten"},
        {"type": "Linear", "out_features": 10}]})
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=spec)
    at.session_state["inspect_tab"] = "Filters"
    at.run()
    assert not at.exception and at.toggle(key="inspect_rgb").value  # RGB tiles by default
    text = _captions(at)
    assert "white = 0" not in text and "smallest weight" in text and "largest" in text
    at.toggle(key="inspect_rgb").set_value(False).run()
    text = _captions(at)
    assert "one colour scale for every filter and channel, white = 0" in text and "smallest weight" not in text
