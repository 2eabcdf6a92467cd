"""Build page in AppTest: presets, layer edits, invalid edits, export/import, shared links."""
import json
from pathlib import Path

import pytest
import torch
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import engine
from engine.network import share

ROOT = Path(__file__).resolve().parents[3]
PAGE = str(ROOT / "views" / "1_Build.py")


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


@pytest.fixture
def downloads(monkeypatch):
    """What each download button would send: media file id -> (bytes, file name)."""
    seen = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        seen[file_id] = (path_or_data, filename)
        return file_id
    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def download(at: AppTest, downloads: dict, key: str) -> tuple[bytes, str]:
    """The bytes and file name behind the download button with this key."""
    button = next(b for b in at.get("download_button") if b.proto.id.endswith(key))
    data, name = downloads[button.proto.url.rsplit("/", 1)[-1].split(".")[0]]
    return (data.encode() if isinstance(data, str) else data), name


def run_exported(code: bytes) -> dict:
    namespace = {"__name__": "exported"}
    exec(compile(code, "exported.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", engine.network.presets.names())
def test_every_preset_loads_with_its_parameter_count(name):
    at = open_page()
    at.expander[0]  # the start panel exists
    at.selectbox(key="preset").set_value(name)
    at.button(key="load-preset").click().run()
    assert not at.exception and not at.error
    assert spec_of(at) == engine.network.presets.get(name)
    assert params_shown(at) == engine.summarize(engine.network.presets.get(name)).total_params
    assert "net" not in at.query_params  # the address holds the workspace alone; the network link is offered
    assert [c.value for c in at.code if "net=" in c.value][0].endswith(f"Build?net=p.{name}")


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
    assert [l["type"] for l in spec_of(at).layers] == [l["type"] for l in engine.network.presets.get("xo-cnn").layers]


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


def test_export_then_import_gives_the_same_summary(downloads):
    at = open_page({"net": "p.resnet-mini"})
    exported, filename = download(at, downloads, "download-json")
    assert filename == "resnet-mini.json"
    at2 = open_page({"net": "p.lenet5"})
    at2.file_uploader(key="import-json").set_value(("net.json", exported, "application/json")).run()
    assert not at2.exception and not at2.error
    assert spec_of(at2) == engine.network.presets.get("resnet-mini")
    summary = engine.summarize(engine.network.presets.get("resnet-mini"))
    assert params_shown(at2) == summary.total_params
    # The downloaded code runs, with the same parameter count and output shape.
    code, filename = download(at2, downloads, "download-py")
    assert filename == "resnet_mini.py"
    net = run_exported(code)["Net"]().eval()
    assert sum(p.numel() for p in net.parameters()) == params_shown(at2)
    assert tuple(net(torch.randn(2, *summary.input_shape)).shape[1:]) == summary.output_shape


def test_empty_network_downloads_code_that_runs(downloads):
    at = open_page()
    at.selectbox(key="empty-kind").set_value("vector F").run()
    at.button(key="start-empty").click().run()
    assert not at.exception and spec_of(at).layers == []
    code, _ = download(at, downloads, "download-py")
    x = torch.randn(3, 2)
    assert torch.equal(run_exported(code)["Net"]()(x), x)  # no layers: the identity


def test_hostile_name_cannot_reach_the_file_name_or_the_code(downloads):
    spec = engine.ModelSpec(input=[4], layers=[{"type": "ReLU"}], name='a""";INJECTED=1;"""/../x')
    from ui.core.session import KEY, SessionState
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=spec)
    at.run()
    assert not at.exception
    code, filename = download(at, downloads, "download-py")
    assert filename == "a_INJECTED_1_x.py"
    assert "INJECTED" not in run_exported(code)


def test_nested_layers_edit_move_copy_delete():
    at = open_page({"net": "p.resnet-mini"})
    block = engine.network.presets.get("resnet-mini").layers[3]["layers"]
    # Edit a nested argument: the table follows.
    at.selectbox(key="layer-select").set_value("3.0").run()
    at.number_input(key="arg-3.0-out_channels").set_value(12).run()
    assert not at.exception
    assert spec_of(at).layers[3]["layers"][0]["out_channels"] == 12
    table = at.dataframe[0].value
    assert table.loc[table["#"].str.strip() == "3.0", "Output"].item() == "12×8×8"
    assert params_shown(at) == engine.summarize(spec_of(at)).total_params
    at.number_input(key="arg-3.0-out_channels").set_value(16).run()
    assert spec_of(at) == engine.network.presets.get("resnet-mini") and not at.error
    # Move the nested ReLU up, copy it, delete both copies: the block is as it was.
    at.selectbox(key="layer-select").set_value("3.2").run()
    at.button(key="move-up").click().run()
    assert [l["type"] for l in spec_of(at).layers[3]["layers"][:3]] == ["Conv2d", "ReLU", "BatchNorm2d"]
    assert at.selectbox(key="layer-select").value == "3.1"
    at.button(key="duplicate").click().run()
    assert len(spec_of(at).layers[3]["layers"]) == len(block) + 1
    assert at.selectbox(key="layer-select").value == "3.2"
    at.button(key="delete").click().run()
    at.selectbox(key="layer-select").set_value("3.1").run()
    at.button(key="move-down").click().run()
    assert not at.exception and spec_of(at) == engine.network.presets.get("resnet-mini")
    # Delete a whole block.
    at.selectbox(key="layer-select").set_value("3").run()
    at.button(key="delete").click().run()
    assert not at.exception and len(spec_of(at).layers) == len(engine.network.presets.get("resnet-mini").layers) - 1


@pytest.mark.parametrize("payload", [b"{not json", b"\x00\xff" * 100, json.dumps({"input": [3], "layers": [
    {"type": "Nope"}]}).encode(), b"[" * 300_000])
def test_bad_imports_are_refused_and_the_network_kept(payload):
    at = open_page({"net": "p.toy-mlp"})
    at.file_uploader(key="import-json").set_value(("bad.json", payload, "application/json")).run()
    assert not at.exception
    assert any("Could not import bad.json" in e.value for e in at.error)
    assert spec_of(at) == engine.network.presets.get("toy-mlp")


@pytest.mark.parametrize("token", ["z.garbage", "p.nonexistent", "zz"])
def test_tampered_link_falls_back_with_a_notice(token):
    at = open_page({"net": token})
    assert any("could not be opened" in w.value for w in at.warning)
    assert spec_of(at) == engine.network.presets.get("mnist-cnn")


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
