"""Build page in AppTest: presets, layer edits, invalid edits, export/import, shared links."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine import share
from engine.export import to_pytorch_code

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "1_Build.py")


def open_page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def spec_of(at: AppTest) -> engine.ModelSpec:
    return at.session_state["playground"].spec


def params_shown(at: AppTest) -> int:
    return int(at.metric[0].value.replace(",", ""))


@pytest.mark.parametrize("name", engine.presets.names())
def test_every_preset_loads_with_its_parameter_count(name):
    at = open_page()
    at.expander[0]  # the start panel exists
    at.selectbox(key="preset").set_value(name)
    at.button(key="load-preset").click().run()
    assert not at.exception and not at.error
    assert spec_of(at) == engine.presets.get(name)
    assert params_shown(at) == engine.summarize(engine.presets.get(name)).total_params
    assert at.query_params["net"] in (f"p.{name}", [f"p.{name}"])


def test_add_edit_move_delete():
    at = open_page({"net": "p.xo-cnn"})
    n = len(spec_of(at).layers)
    # Add a Conv2d after layer 0, then change its channels: the summary follows.
    at.selectbox(key="add-type").set_value("Conv2d")
    at.selectbox(key="add-where").set_value("after the selected layer")
    at.button(key="add-layer").click().run()
    assert not at.exception and len(spec_of(at).layers) == n + 1
    assert at.selectbox(key="layer-select").value == "1"
    at.number_input(key="arg-1-out_channels").set_value(5).run()
    summary = engine.summarize(spec_of(at))
    assert summary.rows[1].output_shape == (5, 5, 5)
    assert params_shown(at) == summary.total_params
    # Change the stride of the first conv: every shape below changes.
    at.selectbox(key="layer-select").set_value("0").run()
    at.number_input(key="arg-0-stride").set_value(2).run()
    assert engine.summarize(spec_of(at)).rows[0].output_shape == (3, 4, 4)
    # Move the new conv down, duplicate it, delete both copies.
    at.selectbox(key="layer-select").set_value("1").run()
    at.button(key="move-down").click().run()
    assert spec_of(at).layers[2]["type"] == "Conv2d" and at.selectbox(key="layer-select").value == "2"
    at.button(key="duplicate").click().run()
    assert len(spec_of(at).layers) == n + 2
    at.button(key="delete").click().run()
    at.selectbox(key="layer-select").set_value("2").run()
    at.button(key="delete").click().run()
    assert not at.exception
    assert [l["type"] for l in spec_of(at).layers] == [l["type"] for l in engine.presets.get("xo-cnn").layers]


def test_invalid_edit_shows_the_message_and_keeps_rows_above():
    empty = engine.ModelSpec.from_dict({"name": "t", "input": [1, 5, 5], "layers": [
        {"type": "ReLU"}, {"type": "Conv2d", "out_channels": 2, "kernel_size": 3}, {"type": "Flatten"}]})
    at = open_page({"net": share.encode(empty)})
    at.selectbox(key="layer-select").set_value("1").run()
    at.number_input(key="arg-1-kernel_size").set_value(7).run()
    assert not at.exception
    assert any("kernel 7×7 is larger than its 5×5 input" in e.value for e in at.error)
    table = at.dataframe[0].value
    assert list(table["Layer"]) == ["ReLU", "⚠ error"]  # the row above the error still shows
    # The user's work is kept: fixing the value brings the table back.
    at.number_input(key="arg-1-kernel_size").set_value(3).run()
    assert not at.error and list(at.dataframe[0].value["Layer"]) == ["ReLU", "Conv2d", "Flatten"]


def test_residual_blocks_edit_as_nested_lists():
    at = open_page({"net": "p.resnet-mini"})
    at.selectbox(key="layer-select").set_value("3").run()
    at.selectbox(key="add-type").set_value("ReLU")
    at.selectbox(key="add-where").set_value("inside the selected block")
    at.button(key="add-layer").click().run()
    assert not at.exception
    assert spec_of(at).layers[3]["layers"][-1] == {"type": "ReLU"}
    assert at.selectbox(key="layer-select").value == "3.5"


def test_export_then_import_gives_the_same_summary(tmp_path):
    at = open_page({"net": "p.resnet-mini"})
    exported = spec_of(at).to_json()
    at2 = open_page({"net": "p.lenet5"})
    at2.file_uploader(key="import-json").set_value(("net.json", exported.encode(), "application/json")).run()
    assert not at2.exception and not at2.error
    assert spec_of(at2) == engine.ModelSpec.from_json(exported)
    assert params_shown(at2) == engine.summarize(engine.presets.get("resnet-mini")).total_params
    # The exported code runs and has the same parameter count.
    namespace = {"__name__": "exported"}
    exec(to_pytorch_code(spec_of(at2)), namespace)
    assert sum(p.numel() for p in namespace["Net"]().parameters()) == params_shown(at2)


@pytest.mark.parametrize("payload", [b"{not json", b"\x00\xff" * 100, json.dumps({"input": [3], "layers": [
    {"type": "Nope"}]}).encode(), b"[" * 300_000])
def test_bad_imports_are_refused_and_the_network_kept(payload):
    at = open_page({"net": "p.toy-mlp"})
    at.file_uploader(key="import-json").set_value(("bad.json", payload, "application/json")).run()
    assert not at.exception
    assert any("Could not import bad.json" in e.value for e in at.error)
    assert spec_of(at) == engine.presets.get("toy-mlp")


@pytest.mark.parametrize("token", ["z.garbage", "p.nonexistent", "zz"])
def test_tampered_link_falls_back_with_a_notice(token):
    at = open_page({"net": token})
    assert any("could not be opened" in w.value for w in at.warning)
    assert spec_of(at) == engine.presets.get("mnist-cnn")


def test_empty_network_with_token_input():
    at = open_page()
    at.selectbox(key="empty-kind").set_value("tokens T (+ vocabulary)").run()
    at.text_input(key="empty-shape").set_value("16")
    at.number_input(key="empty-vocab").set_value(27)
    at.button(key="start-empty").click().run()
    assert not at.exception
    spec = spec_of(at)
    assert spec.input == [16] and spec.vocab_size == 27 and spec.layers == []
    at.selectbox(key="add-type").set_value("Embedding")
    at.button(key="add-layer").click().run()
    assert not at.error and params_shown(at) == 27 * 16
