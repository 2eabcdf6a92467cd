"""Fuzzing: from_dict + summarize on random specs let nothing but SpecError escape, and agree with real forwards."""
import json

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import ModelSpec, SpecError, summarize
from engine.network import build
from engine.network.layers import TYPES

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

small_values = st.one_of(
    st.integers(1, 6), st.integers(1, 6), st.integers(-3, 40), st.sampled_from(["same", "valid", "full"]),
    st.booleans(), st.floats(0, 1), st.lists(st.integers(0, 5), min_size=1, max_size=3),
    st.sampled_from(["tanh", "relu", "last", "mean", "sequence"]))
wild_values = st.one_of(
    small_values, st.none(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def layer(draw, depth=0):
    name = draw(st.sampled_from([*TYPES, *TYPES, *TYPES, "Bogus"]))
    arg_names = list(TYPES[name].args) if name in TYPES else []
    out = {"type": name}
    for key in draw(st.lists(st.sampled_from([*arg_names, *arg_names, *arg_names, "in_channels", "junk"]),
                             max_size=4, unique=True)):
        if key == "layers":
            out[key] = draw(st.lists(layer(depth + 1), max_size=3)) if depth < 3 else []
        else:
            out[key] = draw(wild_values if draw(st.integers(0, 5)) == 3 else small_values)
    for key, arg in TYPES.get(name, TYPES["ReLU"]).args.items():  # usually fill required args sensibly
        if arg.required and key not in out and draw(st.integers(0, 4)):
            out[key] = draw(st.lists(layer(depth + 1), max_size=3)) if key == "layers" and depth < 3 else \
                [] if key == "layers" else draw(st.integers(1, 5))
    return out


@st.composite
def spec_dict(draw):
    shape = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3) if draw(st.integers(0, 7)) != 3
                 else st.one_of(st.lists(st.integers(-2, 20), max_size=4), wild_values))
    data = {"input": shape, "layers": draw(st.lists(layer(), min_size=1, max_size=6))}
    if draw(st.integers(0, 5)) == 3:
        data["vocab_size"] = draw(st.one_of(st.integers(-1, 30), wild_values))
        data["input"] = [draw(st.integers(1, 8))]
        data["layers"] = [{"type": "Embedding", "embedding_dim": draw(st.integers(1, 4))}, *data["layers"]]
    if draw(st.integers(0, 9)) == 3:
        data[draw(st.text(max_size=4))] = 1
    return data


def _check(data):
    try:
        spec = ModelSpec.from_dict(data)
        summary = summarize(spec)
    except SpecError as err:
        assert str(err)
        return
    if summary.total_params < 200_000 and summary.total_activation_bytes < 4_000_000:
        model = build(spec, seed=0).eval()
        x = (torch.randint(0, spec.vocab_size, (2, *spec.input)) if spec.vocab_size
             else torch.randn(2, *spec.input))
        assert tuple(model(x).shape[1:]) == summary.output_shape
        assert sum(p.numel() for p in model.parameters()) == summary.total_params


@FUZZ
@given(spec_dict())
def test_random_layer_stacks_raise_only_spec_error(data):
    _check(data)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                         max_size=4), max_leaves=20)


@FUZZ
@given(st.one_of(json_values, st.fixed_dictionaries({"input": json_values, "layers": json_values})))
def test_random_json_raises_only_spec_error(data):
    _check(data)
    try:
        ModelSpec.from_json(json.dumps(data))
    except SpecError:
        pass
    except ValueError:  # json.dumps itself refuses some floats; not our code
        pass


@st.composite
def plausible_spec(draw):
    """Stacks a student might build: image layers, then Flatten, then dense layers (or a recurrent stack)."""
    ints = st.integers(1, 4)
    act = st.sampled_from([{"type": t} for t in ("ReLU", "Tanh", "Sigmoid", "ELU", "LeakyReLU")])
    if draw(st.booleans()):
        shape = [draw(ints), draw(st.integers(4, 14)), draw(st.integers(4, 14))]
        image = st.one_of(
            st.builds(lambda c, k, s, p, d: {"type": "Conv2d", "out_channels": c, "kernel_size": k, "stride": s,
                                             "padding": p, "dilation": d},
                      ints, ints, st.integers(1, 2), st.sampled_from([0, 1, "valid", "same", "full"]), st.integers(1, 2)),
            st.builds(lambda k, m, c: {"type": m, "kernel_size": k, "ceil_mode": c}, st.integers(1, 3),
                      st.sampled_from(["MaxPool2d", "AvgPool2d"]), st.booleans()),
            st.just({"type": "BatchNorm2d"}), act,
            st.builds(lambda c, s: {"type": "Residual", "layers": [
                {"type": "Conv2d", "out_channels": c, "kernel_size": 3, "stride": s, "padding": 1},
                {"type": "ReLU"}]}, ints, st.integers(1, 2)))
        layers = draw(st.lists(image, max_size=5)) + [{"type": "Flatten"}]
    else:
        shape = [draw(st.integers(2, 8)), draw(ints)]
        cell = st.builds(lambda t, h, n, b, o: {"type": t, "hidden_size": h, "num_layers": n, "bidirectional": b,
                                                "output": o},
                         st.sampled_from(["RNN", "LSTM", "GRU"]), ints, st.integers(1, 2), st.booleans(),
                         st.sampled_from(["sequence", "last", "mean"]))
        layers = draw(st.lists(cell, min_size=1, max_size=2))
    dense = st.one_of(st.builds(lambda n: {"type": "Linear", "out_features": n}, st.integers(1, 8)), act,
                      st.just({"type": "Dropout"}), st.just({"type": "Maxout", "pieces": 2}))
    layers += draw(st.lists(dense, max_size=4))
    return {"input": shape, "layers": layers}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plausible_spec())
def test_plausible_stacks_summarize_like_a_real_forward(data):
    _check(data)
