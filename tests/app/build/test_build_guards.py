"""Build page in AppTest: crafted links and files, values no widget can show, structural caps, empty starts."""
import base64
import json
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine import limits
from engine.network import share
from ui.core.session import KEY, SessionState

ROOT = Path(__file__).resolve().parents[3]
PAGE = str(ROOT / "views" / "1_Build.py")

# Each value is outside what its widget accepts; as layer 0 it used to crash the page as soon as it opened.
OUT_OF_RANGE = {
    "Dropout p 1.5": ([4], '{"type": "Dropout", "p": 1.5}'),
    "Dropout p 1e400 (inf)": ([4], '{"type": "Dropout", "p": 1e400}'),
    "RNN hidden_size 5000": ([10, 3], '{"type": "RNN", "hidden_size": 5000}'),
    "Conv2d out_channels 2e6": ([1, 8, 8], '{"type": "Conv2d", "out_channels": 2e6, "kernel_size": 3}'),
    "BatchNorm1d eps 0": ([4], '{"type": "BatchNorm1d", "eps": 0}'),
    "LeakyReLU slope 2": ([4], '{"type": "LeakyReLU", "negative_slope": 2}'),
    "Softmax dim 9": ([4], '{"type": "Softmax", "dim": 9}'),
    "kernel_size as text": ([1, 8, 8], '{"type": "Conv2d", "out_channels": 2, "kernel_size": "3"}'),
    "output not a choice": ([10, 3], '{"type": "GRU", "hidden_size": 4, "output": "bogus"}'),
}


def _text(shape: list, layer: str) -> str:
    return f'{{"name": "crafted", "input": {json.dumps(shape)}, "layers": [{layer}, {{"type": "ReLU"}}]}}'


def _token(text: str) -> str:
    return "z." + base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")


def open_page(query: dict | None = None, spec: engine.ModelSpec | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if spec is not None:
        at.session_state[KEY] = SessionState(spec=spec)
    at.run()
    assert not at.exception, at.exception
    return at


def spec_of(at: AppTest) -> engine.ModelSpec:
    return at.session_state["playground"].spec


@pytest.mark.parametrize("case", list(OUT_OF_RANGE))
def test_crafted_link_with_an_out_of_range_value_falls_back_with_a_notice(case):
    shape, layer = OUT_OF_RANGE[case]
    at = open_page({"net": _token(_text(shape, layer))})
    notices = [w.value for w in at.warning if "could not be opened" in w.value]
    assert notices and "layer 0" in notices[0], [w.value for w in at.warning]
    assert spec_of(at) == engine.network.presets.get("mnist-cnn")
    at.run()  # and it stays open on the next rerun
    assert not at.exception


@pytest.mark.parametrize("case", ["Dropout p 1e400 (inf)", "RNN hidden_size 5000", "Softmax dim 9"])
def test_import_with_an_out_of_range_value_is_refused(case):
    shape, layer = OUT_OF_RANGE[case]
    at = open_page({"net": "p.toy-mlp"})
    at.file_uploader(key="import-json").upload("bad.json", _text(shape, layer).encode(), "application/json").run()
    assert not at.exception
    assert any("Could not import bad.json" in e.value and "layer 0" in e.value for e in at.error)
    assert spec_of(at) == engine.network.presets.get("toy-mlp")


def test_a_value_no_widget_can_show_gets_a_message_and_a_reset():
    # A hand-built spec skips from_dict's checks: the page must still open and offer the way out.
    at = open_page(spec=engine.ModelSpec(input=[4], layers=[{"type": "Dropout", "p": 1.5}, {"type": "ReLU"}]))
    assert any("p must be at most 0.99" in w.value for w in at.warning)
    at.button(key="arg-0-p-reset").click().run()
    assert not at.exception
    assert spec_of(at).layers[0] == {"type": "Dropout"}
    assert at.number_input(key="arg-0-p").value == 0.5


def test_a_hand_made_layer_of_unknown_type_can_be_deleted():
    at = open_page(spec=engine.ModelSpec(input=[4], layers=[{"type": "Foo"}, {"type": "ReLU"}]))
    assert any("unknown layer type 'Foo'" in e.value for e in at.error)
    at.button(key="delete").click().run()
    assert not at.exception and not at.error
    assert spec_of(at).layers == [{"type": "ReLU"}]


def test_unknown_argument_from_a_link_can_be_removed():
    text = '{"name": "typo", "input": [1, 8, 8], "layers": [{"type": "Conv2d", "out_channels": 2, ' \
           '"kernel_size": 3, "kernal_size": 5}]}'
    at = open_page({"net": _token(text)})
    assert any("did you mean 'kernel_size'" in e.value for e in at.error)
    assert any("kernal_size" in w.value for w in at.warning)
    at.button(key="arg-0-unknown-kernal_size").click().run()
    assert not at.exception and not at.error
    assert "kernal_size" not in spec_of(at).layers[0]


def test_import_that_does_not_fit_loads_with_a_warning_naming_the_layer():
    text = '{"name": "wip", "input": [1, 5, 5], "layers": [{"type": "ReLU"}, ' \
           '{"type": "Conv2d", "out_channels": 2, "kernel_size": 7}]}'
    at = open_page({"net": "p.toy-mlp"})
    at.file_uploader(key="import-json").upload("wip.json", text.encode(), "application/json").run()
    assert not at.exception
    assert any("Imported wip.json, but" in w.value and "layer 1 Conv2d" in w.value for w in at.warning)
    assert spec_of(at).name == "wip"
    assert list(at.dataframe[0].value["Layer"]) == ["ReLU", "⚠ error"]


def test_copy_and_add_past_the_layer_cap_show_the_message():
    spec = engine.ModelSpec.from_dict({"input": [4], "layers": [{"type": "ReLU"}] * limits.MAX_LAYERS})
    at = open_page({"net": share.encode(spec)})
    at.button(key="duplicate").click().run()
    assert not at.exception
    assert any(f"more than {limits.MAX_LAYERS} layers" in e.value for e in at.error)
    at.button(key="add-layer").click().run()
    assert not at.exception
    assert any("Could not add the layer" in e.value for e in at.error)
    assert spec_of(at) == spec


def test_nesting_residuals_past_the_cap_shows_the_message():
    block = {"type": "Residual", "layers": []}
    for _ in range(limits.MAX_NESTING - 1):  # MAX_NESTING blocks inside each other: at the cap
        block = {"type": "Residual", "layers": [block]}
    spec = engine.ModelSpec.from_dict({"input": [4], "layers": [block]})
    deepest = ".".join(["0"] * limits.MAX_NESTING)
    at = open_page({"net": share.encode(spec)})
    at.selectbox(key="layer-select").set_value(deepest).run()
    at.selectbox(key="add-type").set_value("Residual")
    at.selectbox(key="add-where").set_value("inside the selected block")
    at.button(key="add-layer").click().run()
    assert not at.exception
    assert any("nested more than" in e.value for e in at.error)
    assert spec_of(at) == spec


@pytest.mark.parametrize("kind, shape", [("image C×H×W", [1, 28, 28]), ("vector F", [2]),
                                         ("sequence T×F", [20, 1]), ("tokens T (+ vocabulary)", [32])])
def test_start_empty_with_each_kind_uses_that_kinds_shape(kind, shape):
    at = open_page({"net": "p.lenet5"})
    at.selectbox(key="empty-kind").set_value(kind).run()
    assert at.text_input(key="empty-shape").value == ", ".join(map(str, shape))
    at.button(key="start-empty").click().run()
    assert not at.exception and not at.error
    assert spec_of(at).input == shape and spec_of(at).layers == []
    assert (spec_of(at).vocab_size is not None) == kind.startswith("tokens")


@pytest.mark.parametrize("kind, text", [("image C×H×W", "28"), ("vector F", "1, 28, 28"), ("sequence T×F", "20"),
                                        ("tokens T (+ vocabulary)", "4, 4")])
def test_start_empty_checks_the_count_of_numbers_for_the_kind(kind, text):
    at = open_page({"net": "p.lenet5"})
    at.selectbox(key="empty-kind").set_value(kind).run()
    at.text_input(key="empty-shape").set_value(text)
    at.button(key="start-empty").click().run()
    assert not at.exception
    assert any("Input shape" in e.value and "needs" in e.value for e in at.error)
    assert spec_of(at) == engine.network.presets.get("lenet5")


def test_non_square_kernel_for_a_new_layer():
    at = open_page({"net": "p.lenet5"})
    at.checkbox(key="arg-0-pairs").check().run()
    at.text_input(key="arg-0-kernel_size-hw").set_value("3, 5").run()
    assert not at.exception and not at.error
    assert spec_of(at).layers[0]["kernel_size"] == [3, 5]
    assert engine.summarize(spec_of(at)).rows[0].output_shape == (6, 30, 28)
    # A refused value leaves the network as it was and says why.
    at.text_input(key="arg-0-stride-hw").set_value("0, 2").run()
    assert not at.exception
    assert any("stride must be at least 1" in e.value for e in at.error)
    assert "stride" not in spec_of(at).layers[0]
    assert at.text_input(key="arg-0-stride-hw").value == "1"  # the box shows the spec's value again
    # Back to square sizes: a pair stays a text box; a single number goes back to a number input.
    at.checkbox(key="arg-0-pairs").uncheck().run()
    assert not at.exception and at.text_input(key="arg-0-kernel_size-hw").value == "3, 5"
    at.text_input(key="arg-0-kernel_size-hw").set_value("5").run()
    assert not at.exception and spec_of(at).layers[0]["kernel_size"] == 5
    assert at.number_input(key="arg-0-kernel_size").value == 5


def test_a_network_over_the_build_cap_says_it_is_summarised_only():
    at = open_page({"net": "p.vgg16"})
    assert any("Summarised only" in i.value and f"{limits.MAX_PARAMS:,}" in i.value for i in at.info)
    labels = [m.label for m in at.metric]
    assert "Forward memory, B=64" in labels and "Backward memory, B=64" in labels
    forward = next(m.value for m in at.metric if m.label.startswith("Forward"))
    assert forward.endswith("GiB")  # 553 MB of weights + 64 × 109 MiB of activations
    at2 = open_page({"net": "p.lenet5"})
    assert not any("Summarised only" in i.value for i in at2.info)
