"""Spec checks that keep crafted links and files harmless: argument ranges, names, exported code, summary cost."""
import base64
import contextlib
import io
import json
import zlib

import pytest
import torch

from engine import ModelSpec, SpecError, summarize, to_pytorch_code
from engine.limits import MAX_RECURRENT_STACK
from engine.network import edit, presets, share
from engine.network.build import _resolve_uncached
from engine.network.graph import network_figure

BAD_VALUES = [  # (input, layer, words of the message)
    ([4], {"type": "Dropout", "p": 1.5}, "p must be at most 0.99"),
    ([4], {"type": "Dropout", "p": float("inf")}, "p must be a finite number"),
    ([10, 3], {"type": "RNN", "hidden_size": 5000}, "hidden_size must be at most 4096"),
    ([1, 8, 8], {"type": "Conv2d", "out_channels": 2e6, "kernel_size": 3}, "out_channels must be a whole number"),
    ([4], {"type": "BatchNorm1d", "eps": 0}, "eps must be at least"),
    ([4], {"type": "LeakyReLU", "negative_slope": 2}, "negative_slope must be at most 1"),
    ([4], {"type": "Softmax", "dim": 9}, "dim must be at most 3"),
    ([1, 8, 8], {"type": "Conv2d", "out_channels": 2, "kernel_size": [3, 0]}, "kernel_size must be at least 1"),
    ([10, 3], {"type": "GRU", "hidden_size": 4, "output": "bogus"}, "output must be one of"),
    ([4], {"type": "Linear", "out_features": "x" * 10_000}, "..."),  # the message stays short
]


def _token(text: str) -> str:
    return "z." + base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")


@pytest.mark.parametrize("shape, layer, words", BAD_VALUES)
def test_from_dict_refuses_out_of_range_values_naming_the_layer(shape, layer, words):
    nested = {"type": "Residual", "layers": [{"type": "ReLU"}, layer]}
    with pytest.raises(SpecError) as info:
        ModelSpec.from_dict({"input": shape, "layers": [{"type": "ReLU"}, nested]})
    err = info.value
    assert words in str(err) and str(err).startswith(f"layer 1.1 {layer['type']}: ")
    assert (err.layer_index, err.path) == (1, "1.1")
    assert len(str(err)) < 200


@pytest.mark.parametrize("shape, layer, words", BAD_VALUES[:3])
def test_shared_link_and_json_with_out_of_range_values_are_refused(shape, layer, words):
    text = json.dumps({"input": shape, "layers": [layer]}).replace("Infinity", "1e400")
    with pytest.raises(SpecError, match="layer 0"):
        share.decode(_token(text))
    with pytest.raises(SpecError, match="layer 0"):
        ModelSpec.from_json(text)


def test_edits_cannot_store_a_value_out_of_range():
    spec = presets.get("lenet5")
    with pytest.raises(SpecError, match="stride must be at least 1"):
        edit.set_arg(spec, "0", "stride", 0)
    assert edit.set_arg(spec, "0", "kernel_size", [3, 5]).layers[0]["kernel_size"] == [3, 5]


@pytest.mark.parametrize("name", ["", "x" * 101, "a\nb", 'a"b', "a\\b", "[link](http://x)", "<b>", 7])
def test_names_are_short_and_plain(name):
    with pytest.raises(SpecError, match="'name'"):
        ModelSpec.from_dict({"name": name, "input": [2], "layers": []})


@pytest.mark.parametrize("name", ["my net (v2)", "char-lstm", "LeNet-5 on 28×28", "test_1: a/b, 50%"])
def test_plain_names_are_accepted(name):
    assert ModelSpec.from_dict({"name": name, "input": [2], "layers": []}).name == name


def test_hand_built_specs_and_wrong_json_types_raise_spec_error():
    with pytest.raises(SpecError, match="unknown layer type 'Foo'"):
        summarize(ModelSpec(input=[4], layers=[{"type": "Foo"}]))
    with pytest.raises(SpecError, match="'input'"):
        summarize(ModelSpec(input=[0], layers=[]))
    with pytest.raises(SpecError, match="p must be at most"):
        summarize(ModelSpec(input=[4], layers=[{"type": "Dropout", "p": 2.0}]))
    for value in (None, 5, [1], {"input": [2]}):
        with pytest.raises(SpecError, match="JSON text"):
            ModelSpec.from_json(value)


def _run_main(code: str) -> tuple[dict, str]:
    namespace, out = {"__name__": "__main__"}, io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "exported.py", "exec"), namespace)
    return namespace, out.getvalue()


def test_empty_network_exports_to_a_file_that_runs():
    namespace, printed = _run_main(to_pytorch_code(ModelSpec.from_dict({"input": [1, 4, 4], "layers": []})))
    x = torch.randn(2, 1, 4, 4)
    assert torch.equal(namespace["Net"]()(x), x)
    assert printed.strip() == "torch.Size([2, 1, 4, 4]) 0"


@pytest.mark.parametrize("name", ['a""";print(1);"""', 'a""";INJECTED=1;"""', "x\\", 'x"', "'''; INJECTED=1; '''",
                                  'a\n"""\nINJECTED = 1\n"""', "\\N{", "a\\\"\"\";INJECTED=1;#"])
def test_a_hostile_name_cannot_inject_code(name):
    spec = ModelSpec(input=[3], layers=[{"type": "Linear", "out_features": 2}], name=name)
    namespace, printed = _run_main(to_pytorch_code(spec))  # executed, as a student would run the download
    assert "INJECTED" not in namespace
    assert printed.strip() == "torch.Size([2, 2]) 8"  # only the file's own smoke run printed anything
    assert sum(p.numel() for p in namespace["Net"]().parameters()) == summarize(spec).total_params


def test_one_dimensional_layers_show_one_number_in_details():
    spec = ModelSpec.from_dict({"input": [4, 20], "layers": [
        {"type": "Conv1d", "out_channels": 3, "kernel_size": 5, "dilation": 2, "stride": 1, "padding": 4},
        {"type": "MaxPool1d", "kernel_size": 2, "padding": 1}, {"type": "AvgPool1d", "kernel_size": 3, "stride": 2}]})
    assert [r.detail for r in summarize(spec).rows] == ["3, 5, pad 4, dil 2", "2, pad 1", "3, stride 2"]
    spec2 = ModelSpec.from_dict({"input": [3, 16, 16], "layers": [
        {"type": "Conv2d", "out_channels": 3, "kernel_size": [3, 5], "stride": 2},
        {"type": "AdaptiveAvgPool2d", "output_size": [2, 3]}]})
    assert [r.detail for r in summarize(spec2).rows] == ["3, 3×5, stride 2×2", "2×3"]


def test_memoised_summaries_equal_fresh_ones_and_are_independent_copies():
    for name in presets.names():
        assert summarize(presets.get(name)) == _resolve_uncached(presets.get(name))[1]
    first = summarize(presets.get("lenet5"))
    first.rows[0].params = -1
    first.rows.clear()
    again = summarize(presets.get("lenet5"))
    assert again.rows[0].params == 156 and again.total_params == 61_706
    too_big = {"type": "Conv2d", "out_channels": 2, "kernel_size": 7}
    bad = ModelSpec.from_dict({"input": [1, 5, 5], "layers": [{"type": "ReLU"}, too_big]})
    errors = []
    for _ in range(2):
        with pytest.raises(SpecError) as info:
            summarize(bad)
        errors.append(info.value)
    assert errors[0] is not errors[1] and errors[0].rows is not errors[1].rows
    assert [r.type for r in errors[1].rows] == ["ReLU"] and errors[1].path == "1"


def test_recurrent_stack_is_capped_so_a_short_link_cannot_stall_the_server():
    # 300 deep bidirectional LSTMs: a 293-character link that took 27 s to summarise on every rerun.
    big = {"type": "LSTM", "hidden_size": 4096, "num_layers": 8, "bidirectional": True}
    token = share.encode(ModelSpec(input=[1000, 64], layers=[big] * 300))
    assert len(token) < 400
    with pytest.raises(SpecError, match=f"at most {MAX_RECURRENT_STACK}"):
        share.decode(token)
    with pytest.raises(SpecError, match="recurrent"):
        summarize(ModelSpec(input=[1000, 64], layers=[big] * 300))
    at_cap = [dict(big, hidden_size=8)] * (MAX_RECURRENT_STACK // 16)
    assert summarize(ModelSpec.from_dict({"input": [10, 4], "layers": at_cap})).output_shape == (10, 16)
    nested = {"type": "Residual", "layers": [{"type": "GRU", "hidden_size": 4, "num_layers": 8}] * 9}
    with pytest.raises(SpecError, match="72 recurrent layers"):
        ModelSpec.from_dict({"input": [5, 4], "layers": [nested]})


def test_graph_keeps_every_name_and_thins_edge_labels_on_wide_networks():
    fig = network_figure(summarize(presets.get("resnet-mini")))
    names = fig.layout.xaxis.ticktext
    assert all(len(t) <= 10 for t in names) and "AdaptPool" in names
    assert fig.layout.xaxis.automargin is False and fig.layout.margin.b >= 60  # room for the rotated names
    small = network_figure(summarize(presets.get("lenet5")))
    assert len(small.layout.annotations) == len(small.layout.xaxis.tickvals)  # every edge, and the output
    vgg = network_figure(summarize(presets.get("vgg16")))
    assert len(vgg.layout.annotations) < len(vgg.layout.xaxis.tickvals) / 2


def test_graph_of_a_300_layer_network_has_a_block_per_layer():
    spec = ModelSpec.from_dict({"input": [4], "layers": [{"type": "ReLU"}] * 300})
    fig = network_figure(summarize(spec))  # shapes are set in one go: this took 17 s with add_shape
    assert len(fig.layout.shapes) == 301 and len(fig.layout.xaxis.tickvals) == 301
