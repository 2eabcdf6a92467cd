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
    spec["input"] = [1, 10, 10]  # what the data sets (adapt_spec): not an edit
    assert presets.origin(ModelSpec.from_dict(spec)) == ("xo-cnn", False)
    spec["layers"][0]["kernel_size"] = 5
    assert presets.origin(ModelSpec.from_dict(spec)) == ("xo-cnn", True)


def test_a_network_of_no_preset_has_no_origin():
    assert presets.origin(ModelSpec(input=[2], layers=[{"type": "Linear", "out_features": 2}])) is None
    assert presets.origin(presets.get("toy-mlp").copy(name="my net")) is None
    assert presets.origin({"name": "toy-mlp", "layers": "not a spec"}) == ("toy-mlp", True)  # stored, unreadable
    assert presets.origin({"layers": []}) is None and presets.origin(None) is None


def _adapted():
    """Every preset adapted (``data.adapt_spec``, as Start does) to every dataset here that it fits."""
    from engine import SpecError, data
    out = []
    for ds_name in data.names():
        if data.category(ds_name) == "Downloads" and data.needs_download(ds_name):
            continue  # not cached here: its shape is that of the images below
        dataset = data.load(ds_name, seed=0)
        for name in presets.names():
            try:
                out.append((name, ds_name, data.adapt_spec(presets.get(name), dataset)[0]))
            except SpecError:
                pass
    return out


def test_a_preset_adapted_to_a_dataset_it_fits_is_not_edited():
    """Training stores the network adapted to its data (input, vocab_size, last Linear, a Flatten, an Embedding
    removed, a recurrent layer's output): that is the preset still, not an edit."""
    adapted = _adapted()
    assert {("char-rnn", "zen"), ("deep-mlp", "circle"), ("autoencoder", "mnist"), ("char-lstm", "sine")} <= \
        {(n, d) for n, d, _ in adapted}
    for name, ds_name, spec in adapted:
        assert presets.origin(spec) == (name, False), (name, ds_name)
        assert presets.origin(spec.to_dict()) == (name, False), (name, ds_name)


def test_an_adapted_preset_edited_by_the_student_is_edited():
    for name, ds_name, spec in _adapted():
        layers = spec.to_dict()["layers"]
        wide = next((i for i, l in enumerate(layers) if "hidden_size" in l or "out_channels" in l), None)
        if wide is None:  # an MLP: its first Linear layer (never the last one, which the data sets)
            wide = next(i for i, l in enumerate(layers) if l["type"] == "Linear")
        key = next(k for k in ("hidden_size", "out_channels", "out_features") if k in layers[wide])
        wider = spec.to_dict()
        wider["layers"][wide][key] += 1
        assert presets.origin(wider) == (name, True), (name, ds_name, "width")
        longer = spec.to_dict()
        longer["layers"].insert(len(longer["layers"]) - 1, {"type": "Dropout", "p": 0.1})
        assert presets.origin(longer) == (name, True), (name, ds_name, "layer added")
