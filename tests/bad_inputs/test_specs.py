"""Bad network specs: random ones, oversized, deeply nested, not JSON, JSON bombs, wrong types, NaN and infinity.

The engine (ModelSpec.from_json / from_dict, summarize, build) answers each with a SpecError naming the problem;
the Build page's JSON import (key "import-json") shows it with st.error and keeps the student's network.
"""
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from streamlit.testing.v1 import AppTest

import engine
from engine import limits
from tests.engine.network.test_spec_fuzz import _check, spec_dict

ROOT = Path(__file__).resolve().parents[2]
BUILD = str(ROOT / "views" / "1_Build.py")
INSPECT = str(ROOT / "views" / "4_Inspect.py")

# ------------------------------------------------------------------ random specs (hypothesis)
_FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False)


@pytest.mark.slow
@settings(max_examples=1_000, **_FUZZ)
@given(spec_dict())
def test_1000_random_specs_raise_nothing_but_spec_error(data):
    _check(data)


@settings(max_examples=100, **_FUZZ)
@given(spec_dict())
def test_random_specs_raise_nothing_but_spec_error(data):
    _check(data)


# ------------------------------------------------------------------ the catalogue
def _linear(n_in: int, n_out: int) -> dict:
    return {"name": "huge", "input": [n_in], "layers": [{"type": "Linear", "out_features": n_out}]}


def _nested(depth: int) -> dict:
    block = {"type": "Residual", "layers": [{"type": "ReLU"}]}
    for _ in range(depth - 1):
        block = {"type": "Residual", "layers": [block]}
    return {"name": "deep", "input": [4], "layers": [block]}


BAD_JSON = {  # name -> (text, words the message must contain)
    "not JSON": ("this is not json {", "not valid JSON"),
    "truncated JSON": ('{"input": [1, 8, 8], "layers": [{"type": "Conv2d"', "not valid JSON"),
    "binary noise": (bytes(range(256)) * 4, "not valid JSON"),
    "empty file": (b"", "not valid JSON"),
    "a list, not an object": ("[1, 2, 3]", "must be a JSON object"),
    "a bare number": ("42", "must be a JSON object"),
    "deeply nested arrays": ("[" * 100_000 + "]" * 100_000, ""),
    "JSON bomb: 5M-element array": ('{"input": [' + "1," * 3_000_000 + '1], "layers": []}', "limit"),
    "JSON bomb: 100k layers under the byte cap": (json.dumps({"input": [2], "layers": [{"type": "ReLU"}] * 12_000}),
                                                  "layers"),
    "NaN": ('{"input": [2], "layers": [{"type": "Dropout", "p": NaN}]}', "NaN"),
    "Infinity": ('{"input": [2], "layers": [{"type": "Dropout", "p": Infinity}]}', "Infinity"),
    "-Infinity": ('{"input": [2], "layers": [{"type": "LeakyReLU", "negative_slope": -Infinity}]}', "Infinity"),
    "1e400 (parses to inf)": ('{"input": [2], "layers": [{"type": "Dropout", "p": 1e400}]}', "p"),
    "unknown top key": ('{"input": [2], "layers": [], "optimizer": "adam"}', "unknown spec key"),
    "no input": ('{"layers": []}', "no 'input'"),
    "input as a string": ('{"input": "28x28", "layers": []}', "'input' must be"),
    "input with zero": ('{"input": [1, 0, 28], "layers": []}', "'input' must be"),
    "input with a float": ('{"input": [1, 2.5], "layers": []}', "'input' must be"),
    "input with a bool": ('{"input": [true, 2], "layers": []}', "'input' must be"),
    "input of 4 dims": ('{"input": [1, 1, 2, 2], "layers": []}', "'input' must be"),
    "input too big": ('{"input": [1000000, 1000000], "layers": []}', "limit"),
    "negative input": ('{"input": [-3], "layers": []}', "'input' must be"),
    "layers as an object": ('{"input": [2], "layers": {"type": "ReLU"}}', "must be a list"),
    "layer as a string": ('{"input": [2], "layers": ["ReLU"]}', "must be an object"),
    "type as a number": ('{"input": [2], "layers": [{"type": 7}]}', "must be an object"),
    "unknown type": ('{"input": [2], "layers": [{"type": "Linaer", "out_features": 2}]}', "did you mean 'Linear'"),
    "kernel as text": ('{"input": [1, 8, 8], "layers": [{"type": "Conv2d", "out_channels": 2, '
                       '"kernel_size": "three"}]}', "kernel_size"),
    "negative channels": ('{"input": [1, 8, 8], "layers": [{"type": "Conv2d", "out_channels": -4, '
                          '"kernel_size": 3}]}', "out_channels"),
    "bool as a size": ('{"input": [4], "layers": [{"type": "Linear", "out_features": true}]}', "out_features"),
    "unknown argument": ('{"input": [4], "layers": [{"type": "Linear", "out_features": 2, "bias_": false}]}',
                         "bias_"),
    "kernel larger than input": ('{"input": [1, 4, 4], "layers": [{"type": "Conv2d", "out_channels": 2, '
                                 '"kernel_size": 9}]}', "kernel"),
    "vocab_size as text": ('{"input": [8], "vocab_size": "many", "layers": []}', "vocab_size"),
    "vocab_size with an image input": ('{"input": [1, 8, 8], "vocab_size": 10, "layers": []}', "token input"),
    "name too long": (json.dumps({"name": "x" * 500, "input": [2], "layers": []}), "'name'"),
    "residual nested 50 deep": (json.dumps(_nested(50)), "nested"),
    "residual without layers list": ('{"input": [4], "layers": [{"type": "Residual", "layers": 3}]}',
                                     "must be a list"),
}


def _spec_error(text) -> engine.SpecError:
    """from_json then summarize; whichever refuses, the error is a SpecError with a non-empty message."""
    with pytest.raises(engine.SpecError) as info:
        engine.summarize(engine.ModelSpec.from_json(text))
    assert str(info.value).strip()
    return info.value


@pytest.mark.parametrize("name", list(BAD_JSON))
def test_bad_json_is_refused_with_a_clear_message(name):
    text, words = BAD_JSON[name]
    error = _spec_error(text)
    assert words.lower() in str(error).lower(), str(error)
    assert "Traceback" not in str(error)


def test_oversized_spec_is_summarised_but_never_built():
    spec = engine.ModelSpec.from_dict(_linear(100_000, 10_000))  # 1e9 parameters: 4 GB of float32
    summary = engine.summarize(spec)  # meta tensors: nothing allocated
    assert summary.total_params > 10**9 - 1
    with pytest.raises(engine.SpecError, match=f"{limits.MAX_PARAMS:,}"):
        engine.build(spec)


def test_huge_activations_are_refused_before_building():
    spec = engine.ModelSpec.from_dict({"input": [3, 2048, 2048], "layers": [
        {"type": "Conv2d", "out_channels": 512, "kernel_size": 3, "padding": 1}]})
    with pytest.raises(engine.SpecError, match="activation|memory"):
        engine.build(spec)


def test_nesting_at_the_cap_works_and_one_more_is_refused():
    engine.summarize(engine.ModelSpec.from_dict(_nested(limits.MAX_NESTING)))
    with pytest.raises(engine.SpecError, match="nested"):
        engine.ModelSpec.from_dict(_nested(limits.MAX_NESTING + 2))


@pytest.mark.parametrize("value", [None, 3, "spec", [], 2.5, True])
def test_from_dict_of_wrong_types(value):
    with pytest.raises(engine.SpecError):
        engine.ModelSpec.from_dict(value)


# ------------------------------------------------------------------ the Build page's JSON import
def _build(net: str = "p.xo-cnn") -> AppTest:
    at = AppTest.from_file(BUILD, default_timeout=60)
    at.query_params["net"] = net
    at.run()
    assert not at.exception
    return at


PAGE_CASES = ["not JSON", "binary noise", "empty file", "a list, not an object", "deeply nested arrays",
              "JSON bomb: 5M-element array", "JSON bomb: 100k layers under the byte cap", "NaN", "Infinity",
              "input as a string", "layers as an object", "unknown type", "residual nested 50 deep",
              "name too long"]


@pytest.mark.parametrize("name", PAGE_CASES)
def test_build_page_import_refuses_and_keeps_the_network(name):
    at = _build()
    before = at.session_state["playground"].spec
    text, _ = BAD_JSON[name]
    data = text.encode() if isinstance(text, str) else text
    at.file_uploader(key="import-json").upload(f"{name}.json", data, "application/json").run()
    assert not at.exception
    assert any("Could not import" in e.value and "unchanged" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert at.session_state["playground"].spec == before


def test_build_page_imports_an_oversized_network_and_shows_its_count_without_building():
    at = _build()
    data = json.dumps(_linear(100_000, 10_000)).encode()
    at.file_uploader(key="import-json").upload("huge.json", data, "application/json").run()
    assert not at.exception
    assert at.session_state["playground"].spec.input == [100_000]
    assert at.session_state["playground"].model is None  # never built
    assert int(at.metric[0].value.replace(",", "")) == 1_000_010_000


def test_inspect_page_says_an_oversized_network_is_too_big():
    from ui.core.session import KEY, SessionState

    at = AppTest.from_file(INSPECT, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=engine.ModelSpec.from_dict(_linear(100_000, 10_000)))
    at.run()
    assert not at.exception
    assert any(f"{limits.MAX_PARAMS:,}" in e.value for e in at.error), [e.value for e in at.error]
