"""A network's preset origin: the preset of the same name, and whether the network still equals it."""
from engine.network import ModelSpec, presets


def test_a_preset_unchanged_is_not_edited():
    for name in presets.names():
        assert presets.origin(presets.get(name)) == (name, False)
        assert presets.origin(presets.get(name).to_dict()) == (name, False)  # as stored in a workspace


def test_a_preset_with_a_layer_changed_is_edited():
    spec = presets.get("toy-mlp").to_dict()
    spec["layers"][0]["out_features"] = 16
    assert presets.origin(spec) == ("toy-mlp", True)
    spec = presets.get("xo-cnn").to_dict()
    spec["input"] = [1, 10, 10]
    assert presets.origin(ModelSpec.from_dict(spec)) == ("xo-cnn", True)


def test_a_network_of_no_preset_has_no_origin():
    assert presets.origin(ModelSpec(input=[2], layers=[{"type": "Linear", "out_features": 2}])) is None
    assert presets.origin(presets.get("toy-mlp").copy(name="my net")) is None
    assert presets.origin({"name": "toy-mlp", "layers": "not a spec"}) == ("toy-mlp", True)  # stored, unreadable
    assert presets.origin({"layers": []}) is None and presets.origin(None) is None
