"""Spec editing by path, URL sharing (including tampered links) and the network graph."""
import base64
import zlib

import pytest

from engine import ModelSpec, SpecError, summarize
from engine.network import edit, presets, share
from engine.network.graph import network_figure


def test_insert_move_duplicate_remove_round_trip():
    spec = presets.get("xo-cnn")
    n = len(spec.layers)
    bigger = edit.insert_layer(spec, "1", {"type": "BatchNorm2d"})
    assert [l["type"] for l in bigger.layers[:3]] == ["Conv2d", "BatchNorm2d", "ReLU"]
    moved = edit.move_layer(bigger, "1", +1)
    assert [l["type"] for l in moved.layers[:3]] == ["Conv2d", "ReLU", "BatchNorm2d"]
    assert edit.move_layer(moved, "0", -1) == moved  # already at the top
    dup = edit.duplicate_layer(moved, "0")
    assert dup.layers[0] == dup.layers[1] and len(dup.layers) == n + 2
    assert edit.remove_layer(edit.remove_layer(dup, "0"), "2") == spec
    assert spec == presets.get("xo-cnn")  # edits never mutate their input


def test_nested_edits_inside_residual_blocks():
    spec = presets.get("resnet-mini")
    paths = [p for p, _ in edit.paths(spec)]
    assert "3.0" in paths and "5.4" in paths
    spec2 = edit.append_layer(spec, {"type": "ReLU"}, inside="3")
    assert edit.get_layer(spec2, "3.5") == {"type": "ReLU"}
    spec3 = edit.set_arg(spec2, "3.0", "out_channels", 16)
    assert edit.get_layer(spec3, "3.0")["out_channels"] == 16
    assert summarize(edit.remove_layer(spec3, "3.5")).total_params == summarize(spec).total_params
    with pytest.raises(SpecError):
        edit.append_layer(spec, {"type": "ReLU"}, inside="0")
    with pytest.raises(SpecError):
        edit.get_layer(spec, "99")


def test_set_arg_none_restores_default():
    spec = edit.set_arg(presets.get("lenet5"), "0", "stride", 2)
    assert summarize(spec).rows[0].output_shape == (6, 14, 14)
    assert edit.set_arg(spec, "0", "stride", None) == presets.get("lenet5")


@pytest.mark.parametrize("name", presets.names())
def test_share_round_trip(name):
    spec = presets.get(name)
    assert share.encode(spec) == f"p.{name}"
    assert share.decode(share.encode(spec)) == spec
    edited = edit.set_arg(spec, "0", "type", spec.layers[0]["type"]) if spec.layers else spec
    edited = ModelSpec.from_dict({**edited.to_dict(), "name": "mine"})
    token = share.encode(edited)
    assert token.startswith("z.") and len(token) < 4000
    assert share.decode(token) == edited


@pytest.mark.parametrize("token", [
    "", "p.nope", "q.abc", "z.!!!notbase64", "z." + base64.urlsafe_b64encode(b"garbage").decode(),
    "z." + base64.urlsafe_b64encode(zlib.compress(b"{not json")).decode(),
    "z." + base64.urlsafe_b64encode(zlib.compress(b'{"input": [3], "layers": [{"type": "Nope"}]}')).decode(),
    "z." + base64.urlsafe_b64encode(zlib.compress(b" " * 10_000_000)).decode(),  # inflates past the cap
    "z." + "A" * 20_000,
])
def test_tampered_links_raise_spec_error(token):
    with pytest.raises(SpecError):
        share.decode(token)


def test_graph_has_a_block_per_layer_and_arcs_for_shortcuts():
    summary = summarize(presets.get("resnet-mini"))
    fig = network_figure(summary)
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    leaves = [r for r in summary.rows if r.type != "Residual" and not r.index.endswith("shortcut")]
    assert len(rects) == len(leaves) + 1  # plus the input block
    assert sum(1 for s in fig.layout.shapes if s.type == "path") == 2
    labels = [a.text for a in fig.layout.annotations]
    assert "32×4×4" in labels and "10" in labels
