"""Build page in AppTest: an Unflatten layer's size is edited as 1 to 3 numbers; a bad one is explained in place."""
import torch

import engine
from tests.app.build.test_build import open_page, params_shown, spec_of

UNFLATTEN = "9"  # the autoencoder preset's last layer: Unflatten(1, 28, 28) after the 784-unit Linear


def _edit(at, text: str):
    at.text_input(key=f"arg-{UNFLATTEN}-unflattened_size-shape").input(text).run()
    assert not at.exception
    return at


def _output_shape(at) -> tuple:
    return tuple(engine.summarize(spec_of(at)).output_shape)


def test_unflatten_takes_one_to_three_sizes():
    at = open_page({"net": "p.autoencoder"})
    at.selectbox(key="layer-select").set_value(UNFLATTEN).run()
    box = at.text_input(key=f"arg-{UNFLATTEN}-unflattened_size-shape")
    assert box.value == "1, 28, 28" and "1 to 3 sizes" in box.label
    params = params_shown(at)
    _edit(at, "4, 14, 14")
    assert spec_of(at).layers[9]["unflattened_size"] == [4, 14, 14] and not at.error
    assert _output_shape(at) == (4, 14, 14) and params_shown(at) == params
    with torch.no_grad():  # what torch's own Unflatten gives for the 784 outputs
        assert tuple(engine.build(spec_of(at))(torch.zeros(2, 1, 28, 28)).shape) == (2, 4, 14, 14)
    _edit(at, "28×28")
    assert spec_of(at).layers[9]["unflattened_size"] == [28, 28] and _output_shape(at) == (28, 28)
    _edit(at, "784")
    assert spec_of(at).layers[9]["unflattened_size"] == [784] and _output_shape(at) == (784,)


def test_a_bad_size_is_refused_with_what_to_type():
    at = open_page({"net": "p.autoencoder"})
    at.selectbox(key="layer-select").set_value(UNFLATTEN).run()
    _edit(at, "1, 2, 14, 14")
    assert any("1 to 3 sizes" in e.value for e in at.error)
    assert spec_of(at).layers[9]["unflattened_size"] == [1, 28, 28]  # unchanged
    _edit(at, "one, 28")
    assert any("such as 1, 28, 28" in e.value for e in at.error)
    _edit(at, "2, 28, 28")  # sound as a size, but 1,568 values from 784: the table names the layer
    assert spec_of(at).layers[9]["unflattened_size"] == [2, 28, 28]
    assert any("784" in e.value for e in at.error)
    _edit(at, "1, 28, 28")
    assert not at.error and _output_shape(at) == (1, 28, 28)
