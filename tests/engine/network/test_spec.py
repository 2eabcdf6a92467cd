"""ModelSpec, summarize and build, checked against hand-made torch modules and PyTorch's own counters."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import engine
from engine import ModelSpec, SpecError, summarize
from engine.network import build, presets
from engine.network.export import to_pytorch_code
from engine.network.modules import Maxout, Recurrent, Residual


def spec_of(input_shape, *layers, vocab_size=None):
    data = {"input": list(input_shape), "layers": list(layers)}
    if vocab_size:
        data["vocab_size"] = vocab_size
    return ModelSpec.from_dict(data)


# Each case: input shape, spec layer, the torch module a PyTorch user would write by hand.
LAYER_CASES = [
    ((20,), {"type": "Linear", "out_features": 7}, nn.Linear(20, 7)),
    ((20,), {"type": "Linear", "out_features": 7, "bias": False}, nn.Linear(20, 7, bias=False)),
    ((5, 20), {"type": "Linear", "out_features": 3}, nn.Linear(20, 3)),
    ((3, 30), {"type": "Conv1d", "out_channels": 4, "kernel_size": 5, "stride": 2, "dilation": 2},
     nn.Conv1d(3, 4, 5, stride=2, dilation=2)),
    ((3, 30), {"type": "Conv1d", "out_channels": 4, "kernel_size": 3, "padding": "full"}, nn.Conv1d(3, 4, 3, padding=2)),
    ((3, 9, 11), {"type": "Conv2d", "out_channels": 6, "kernel_size": [3, 5], "padding": "same"},
     nn.Conv2d(3, 6, (3, 5), padding="same")),
    ((4, 9, 9), {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1, "groups": 2},
     nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2)),
    ((2, 7, 7), {"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": "full", "dilation": 2},
     nn.Conv2d(2, 3, 3, padding=4, dilation=2)),
    ((2, 3, 4), {"type": "Conv2d", "out_channels": 3, "kernel_size": 5, "padding": "same"},
     nn.Conv2d(2, 3, 5, padding="same")),  # 'same' lets a kernel larger than the input fit
    ((2, 3), {"type": "Conv1d", "out_channels": 3, "kernel_size": 6, "padding": "same", "dilation": 2},
     nn.Conv1d(2, 3, 6, padding="same", dilation=2)),
    ((2, 7, 7), {"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": "valid"},
     nn.Conv2d(2, 3, 3, padding="valid")),
    ((3, 5, 5), {"type": "ConvTranspose2d", "out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 1},
     nn.ConvTranspose2d(3, 2, 3, stride=2, output_padding=1)),
    ((3, 17), {"type": "MaxPool1d", "kernel_size": 3, "stride": 2, "ceil_mode": True},
     nn.MaxPool1d(3, stride=2, ceil_mode=True)),
    ((3, 9, 9), {"type": "MaxPool2d", "kernel_size": 2}, nn.MaxPool2d(2)),
    ((3, 9, 9), {"type": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
     nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
    ((3, 17), {"type": "AvgPool1d", "kernel_size": 4}, nn.AvgPool1d(4)),
    ((3, 9, 9), {"type": "AvgPool2d", "kernel_size": 2, "ceil_mode": True}, nn.AvgPool2d(2, ceil_mode=True)),
    ((3, 9, 9), {"type": "AdaptiveAvgPool2d", "output_size": [2, 3]}, nn.AdaptiveAvgPool2d((2, 3))),
    ((12,), {"type": "BatchNorm1d"}, nn.BatchNorm1d(12)),
    ((4, 10), {"type": "BatchNorm1d", "affine": False}, nn.BatchNorm1d(4, affine=False)),
    ((3, 6, 6), {"type": "BatchNorm2d", "eps": 1e-3}, nn.BatchNorm2d(3, eps=1e-3)),
    ((12,), {"type": "Dropout", "p": 0.3}, nn.Dropout(0.3)),
    ((3, 4, 5), {"type": "Flatten"}, nn.Flatten()),
    ((12,), {"type": "Sigmoid"}, nn.Sigmoid()),
    ((12,), {"type": "Tanh"}, nn.Tanh()),
    ((3, 4, 4), {"type": "ReLU"}, nn.ReLU()),
    ((12,), {"type": "LeakyReLU", "negative_slope": 0.1}, nn.LeakyReLU(0.1)),
    ((12,), {"type": "ELU", "alpha": 0.5}, nn.ELU(0.5)),
    ((12,), {"type": "Softmax"}, nn.Softmax(dim=-1)),
    ((6, 5), {"type": "RNN", "hidden_size": 8, "nonlinearity": "relu"},
     Recurrent("RNN", 5, 8, nonlinearity="relu")),
    ((6, 5), {"type": "LSTM", "hidden_size": 8, "num_layers": 2, "output": "last"},
     Recurrent("LSTM", 5, 8, num_layers=2, output="last")),
    ((6, 5), {"type": "GRU", "hidden_size": 8, "bidirectional": True, "output": "mean"},
     Recurrent("GRU", 5, 8, bidirectional=True, output="mean")),
    ((6, 5), {"type": "LSTM", "hidden_size": 4, "bidirectional": True, "output": "last"},
     Recurrent("LSTM", 5, 4, bidirectional=True, output="last")),
]


@pytest.mark.parametrize("shape,layer,reference", LAYER_CASES, ids=lambda c: c["type"] if isinstance(c, dict) else "")
def test_each_layer_matches_its_torch_equivalent(shape, layer, reference):
    torch.manual_seed(0)
    spec = spec_of(shape, layer)
    model = build(spec).eval()
    reference.eval()
    reference.load_state_dict(model[0].state_dict())  # same parameter names and shapes, or this raises
    x = torch.randn(3, *shape)
    expected = reference(x)
    assert torch.allclose(model(x), expected)
    summary = summarize(spec)
    assert summary.rows[0].output_shape == tuple(expected.shape[1:])
    assert summary.total_params == sum(p.numel() for p in reference.parameters())
    assert summary.rows[0].activation_bytes == 4 * math.prod(expected.shape[1:])


def test_bidirectional_last_state_equals_h_n():
    torch.manual_seed(0)
    model = build(spec_of((6, 5), {"type": "LSTM", "hidden_size": 4, "bidirectional": True, "output": "last"}))
    x = torch.randn(2, 6, 5)
    _, (h_n, _) = model[0].rnn(x)
    assert torch.allclose(model(x), torch.cat([h_n[0], h_n[1]], dim=1))


def test_maxout_is_max_of_linear_pieces():
    torch.manual_seed(0)
    model = build(spec_of((4,), {"type": "Linear", "out_features": 6}, {"type": "Maxout", "pieces": 3}))
    x = torch.randn(5, 4)
    pieces = model[0](x).view(5, 2, 3)
    assert torch.equal(model(x), pieces.max(dim=2).values)
    assert isinstance(model[1], Maxout)


def test_embedding_takes_token_ids():
    spec = spec_of((7,), {"type": "Embedding", "embedding_dim": 5}, {"type": "GRU", "hidden_size": 6},
                   {"type": "Linear", "out_features": 11}, vocab_size=11)
    model = build(spec, seed=0)
    reference = nn.Embedding(11, 5)
    reference.load_state_dict(model[0].state_dict())
    ids = torch.randint(0, 11, (2, 7))
    assert torch.equal(model[0](ids), reference(ids))
    assert model(ids).shape == (2, 7, 11)
    assert summarize(spec).output_shape == (7, 11)


def test_residual_identity_and_projection():
    torch.manual_seed(0)
    conv = {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}
    same = build(spec_of((4, 6, 6), {"type": "Residual", "layers": [conv]}))
    x = torch.randn(2, 4, 6, 6)
    assert torch.allclose(same(x), same[0].body(x) + x)
    down = spec_of((2, 6, 6), {"type": "Residual", "layers": [dict(conv, stride=2)]})
    model = build(down)
    block = model[0]
    assert isinstance(block, Residual) and isinstance(block.shortcut, nn.Conv2d)
    assert block.shortcut.kernel_size == (1, 1) and block.shortcut.stride == (2, 2)
    x = torch.randn(2, 2, 6, 6)
    assert torch.allclose(model(x), block.body(x) + block.shortcut(x))
    summary = summarize(down)
    assert [r.index for r in summary.rows] == ["0", "0.0", "0.shortcut"]
    assert summary.total_params == sum(p.numel() for p in model.parameters())


PINNED = {"lenet5": 61_706, "vgg16": 138_357_544, "mnist-cnn": 3_274_634}


@pytest.mark.parametrize("name", PINNED)
def test_pinned_parameter_counts(name):
    assert summarize(presets.get(name)).total_params == PINNED[name]


def test_mnist_cnn_matches_hand_written_torch():
    hand = nn.Sequential(nn.Conv2d(1, 32, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(0.4), nn.Linear(1024, 10))
    model = build(presets.get("mnist-cnn"))
    model.load_state_dict(hand.state_dict())
    x = torch.randn(2, 1, 28, 28)
    assert torch.allclose(model.eval()(x), hand.eval()(x))


@pytest.mark.parametrize("name", [n for n in presets.names() if n != "vgg16"])
def test_presets_summary_equals_real_forward(name):
    spec = presets.get(name)
    summary = summarize(spec)
    model = build(spec, seed=0).eval()
    x = torch.randint(0, spec.vocab_size, (2, *spec.input)) if spec.vocab_size else torch.randn(2, *spec.input)
    counter = FlopCounterMode(display=False)
    with counter:
        y = model(x)
    assert tuple(y.shape[1:]) == summary.output_shape
    assert sum(p.numel() for p in model.parameters()) == summary.total_params
    if not spec.vocab_size:  # CPU runs RNNs as one fused kernel the counter cannot see; see the next test
        assert counter.get_total_flops() // 2 == 2 * summary.total_macs  # batch of two
    # Row shapes agree with forward hooks on the real model.
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[1:]))) for m in model]
    model(x)
    for h in hooks:
        h.remove()
    assert seen == [r.output_shape for r in summary.rows if r.depth == 0]


@pytest.mark.parametrize("cell,torch_cell", [("RNN", nn.RNNCell), ("LSTM", nn.LSTMCell), ("GRU", nn.GRUCell)])
def test_recurrent_macs_equal_unrolled_cells(cell, torch_cell):
    steps, features, hidden = 9, 5, 7
    summary = summarize(spec_of((steps, features), {"type": cell, "hidden_size": hidden}))
    counter = FlopCounterMode(display=False)
    one = torch_cell(features, hidden)
    with counter:
        h = torch.zeros(1, hidden)
        for _ in range(steps):
            out = one(torch.randn(1, features), h if cell != "LSTM" else (h, h))
            h = out[0] if cell == "LSTM" else out
    assert summary.total_macs == counter.get_total_flops() // 2


def test_vgg16_summary_allocates_nothing_and_build_refuses():
    summary = summarize(presets.get("vgg16"))
    assert summary.output_shape == (1000,)
    assert summary.rows[0].output_shape == (64, 224, 224)
    with pytest.raises(SpecError, match="parameters"):
        build(presets.get("vgg16"))
    # In a fresh process (this one's peak memory is the other tests'): VGG16's weights alone are 553 MB.
    probe = ("import resource, engine; from engine.network import presets; "
             "engine.summarize(presets.get('lenet5')); "  # lazy imports of the counting code first
             "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
             "engine.summarize(presets.get('vgg16')); "
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)")
    grown_kib = int(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                   cwd=Path(__file__).resolve().parents[3]).stdout)
    assert grown_kib < 50 * 1024  # measured: under 1 MiB; a single fc6 layer of real weights is 392 MiB


@pytest.mark.parametrize("name", presets.names())
def test_preset_round_trips_through_json(name):
    spec = presets.get(name)
    again = ModelSpec.from_json(spec.to_json())
    assert again == spec and again.to_dict() == spec.to_dict()
    assert json.loads(spec.to_json()) == spec.to_dict()
    assert presets.describe(name)


@pytest.mark.parametrize("name", presets.names())
def test_exported_code_defines_the_same_network(name):
    spec = presets.get(name)
    summary = summarize(spec)
    namespace = {"__name__": "exported"}
    exec(compile(to_pytorch_code(spec), f"{name}.py", "exec"), namespace)
    with torch.device("meta" if name == "vgg16" else "cpu"):
        net = namespace["Net"]()
        x = (torch.zeros(2, *spec.input, dtype=torch.long) if spec.vocab_size else torch.zeros(2, *spec.input))
        y = net.eval()(x)
    assert isinstance(net, nn.Module)
    assert sum(p.numel() for p in net.parameters()) == summary.total_params
    assert tuple(y.shape[1:]) == summary.output_shape
    if name != "vgg16":
        net.load_state_dict(build(spec).state_dict())  # weights move between the app and the file


ERRORS = [
    ({"input": [1, 5, 5], "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 7}]},
     0, "kernel 7×7 is larger than its 5×5 input"),
    ({"input": [1, 5, 5], "layers": [{"type": "ReLU"}, {"type": "Linear", "out_features": 3}]},
     1, "add a Flatten layer before it"),
    ({"input": [1, 5, 5], "layers": [{"type": "Conv2d", "out_channels": 4, "kernal_size": 3}]},
     0, "did you mean 'kernel_size'"),
    ({"input": [1, 5, 5], "layers": [{"type": "Conv2d", "out_channels": 0, "kernel_size": 3}]},
     0, "out_channels must be at least 1"),
    ({"input": [1, 5, 5], "layers": [{"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "stride": 2,
                                      "padding": "same"}]}, 0, "needs stride 1"),
    ({"input": [3, 8, 8], "layers": [{"type": "Flatten"}, {"type": "Conv2d", "out_channels": 2, "kernel_size": 3}]},
     1, "needs an image"),
    ({"input": [3, 8, 8], "layers": [{"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "in_channels": 1}]},
     0, "in_channels is inferred as 3"),
    ({"input": [3, 8, 8], "layers": [{"type": "Convv2d"}]}, 0, "did you mean 'Conv2d'"),
    ({"input": [3, 8, 8], "layers": [{"type": "Dropout", "p": 1.5}]}, 0, "at most"),
    ({"input": [3, 8, 8], "layers": [{"type": "Dropout", "p": "half"}]}, 0, "finite number"),
    ({"input": [3, 8, 8], "layers": [{"type": "ReLU"}, {"type": "Residual", "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3}]}]}, 1, "1×1 shortcut"),
    ({"input": [8], "vocab_size": 5, "layers": [{"type": "Linear", "out_features": 3}]}, 0, "Embedding"),
    ({"input": [8, 3], "layers": [{"type": "Embedding", "embedding_dim": 3}]}, 0, "token ids"),
    ({"input": [8], "layers": [{"type": "LSTM", "hidden_size": 3}]}, 0, "sequence T×F"),
    ({"input": [6, 6], "layers": [{"type": "Linear", "out_features": 6}, {"type": "Maxout", "pieces": 4}]},
     1, "groups of 4"),
    ({"input": [2, 9, 9], "layers": [{"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "groups": 2}]},
     0, "groups=2 must divide"),
    ({"input": [2, 9, 9], "layers": [{"type": "MaxPool2d", "kernel_size": 2, "padding": 2}]}, 0, "half the kernel"),
    ({"input": [2, 9, 9], "layers": [{"type": "Residual", "layers": [
        {"type": "ReLU"}, {"type": "Conv2d", "out_channels": 3, "kernel_size": 13}]}]}, 0, "layer 0.1 Conv2d"),
]


@pytest.mark.parametrize("data,index,text", ERRORS)
def test_invalid_specs_name_the_layer_and_the_fix(data, index, text):
    with pytest.raises(SpecError) as info:
        summarize(ModelSpec.from_dict(data))
    assert text in str(info.value)
    assert info.value.layer_index == index
    assert all(r.output_shape for r in info.value.rows)  # only completed rows above the error


def test_rows_above_the_error_are_kept():
    spec = ModelSpec.from_dict({"input": [1, 5, 5], "layers": [
        {"type": "Conv2d", "out_channels": 2, "kernel_size": 3}, {"type": "ReLU"},
        {"type": "Conv2d", "out_channels": 2, "kernel_size": 7}, {"type": "Flatten"}]})
    with pytest.raises(SpecError) as info:
        summarize(spec)
    assert [r.output_shape for r in info.value.rows] == [(2, 3, 3), (2, 3, 3)]
    assert info.value.layer_index == 2


@pytest.mark.parametrize("bad", [
    "not json", "[1, 2", "null", "[]", '{"input": [1, 2, 3, 4], "layers": []}', '{"layers": []}',
    '{"input": [NaN], "layers": []}', '{"input": [Infinity], "layers": []}', '{"input": [0], "layers": []}',
    '{"input": [3], "layers": {}}', '{"input": [3], "layers": [1]}', '{"input": [3], "layers": [], "x": 1}',
    '{"input": [true], "layers": []}', '{"input": [3], "vocab_size": 1, "layers": []}',
    "[" * 100_000, '{"input": [3], "layers": [' + ",".join(['{"type": "ReLU"}'] * 5000) + "]}",
])
def test_malformed_json_raises_spec_error(bad):
    with pytest.raises(SpecError):
        ModelSpec.from_json(bad)


def test_deep_nesting_is_refused():
    layer = {"type": "ReLU"}
    for _ in range(50):
        layer = {"type": "Residual", "layers": [layer]}
    with pytest.raises(SpecError, match="nested"):
        ModelSpec.from_dict({"input": [4], "layers": [layer]})


def test_oversized_network_is_summarized_but_not_built():
    spec = spec_of((1000,), {"type": "Linear", "out_features": 1_000_000})
    assert summarize(spec).total_params == 1_001_000_000
    with pytest.raises(SpecError, match="at most"):
        build(spec)


def test_public_api_is_listed():
    for name in ("ModelSpec", "summarize", "build", "SpecError", "network", "data", "training", "conv", "gradients",
                 "inspect", "device", "limits"):
        assert hasattr(engine, name) and name in engine.__doc__


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("output", ["sequence", "last", "mean"])
def test_recurrent_layer_equals_plain_torch(cell, output):
    """A spec's recurrent layer against a bare batch-first torch layer with the same weights."""
    torch.manual_seed(0)
    reference = getattr(nn, cell)(5, 8, num_layers=2, batch_first=True)
    spec = ModelSpec.from_dict({"input": [7, 5], "layers": [
        {"type": cell, "hidden_size": 8, "num_layers": 2, "output": output}]})
    model = build(spec).eval()
    model[0].rnn.load_state_dict(reference.state_dict())
    x = torch.randn(3, 7, 5)
    out, h_n = reference(x)
    expected = {"sequence": out, "last": out[:, -1], "mean": out.mean(dim=1)}[output]
    if output == "last":  # the top layer's final hidden state, as torch reports it
        top = (h_n[0] if cell == "LSTM" else h_n)[-1]
        assert torch.allclose(expected, top, atol=1e-6)
    assert torch.allclose(model(x), expected, atol=1e-6)
    assert summarize(spec).output_shape == tuple(expected.shape[1:])
