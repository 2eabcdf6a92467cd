"""engine.data: every dataset's shapes and metadata, seeding, splits, file readers, bad inputs and adapt_spec."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import InputError, ModelSpec, SpecError, data, limits, summarize
from engine.data.base import split_indices
from engine.network import presets

GENERATED = [n for n in data.names() if data.category(n) != "Downloads"]
CONTINUOUS = ["circle", "xor", "gaussians", "spiral", "sine", "adding"]  # no two samples are equal


@pytest.fixture(scope="module")
def loaded():
    """Each generated dataset with its default options, loaded once (digits imports scikit-learn)."""
    return {n: data.load(n) for n in GENERATED}


def rows(x: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in x.reshape(len(x), -1)}


# ---------------------------------------------------------------------------------------------
# Every dataset: metadata agrees with the tensors.

@pytest.mark.parametrize("name", GENERATED)
def test_defaults_give_tensors_that_match_the_metadata(loaded, name):
    ds = loaded[name]
    assert ds.name == name and ds.task in data.TASKS
    assert describe_is_one_line(name) and ds.description
    assert ds.num_classes == len(ds.classes)
    for split in data.SPLITS:
        x, y = ds.split(split)
        assert len(x) == len(y) > 0
        assert tuple(x.shape[1:]) == ds.input_shape
        if ds.task == "char":
            assert x.dtype == y.dtype == torch.long and y.shape == x.shape
            assert ds.vocab == ds.classes and 0 <= int(x.min()) and int(x.max()) < len(ds.vocab)
        elif ds.task == "classification":
            assert x.dtype == torch.float32 and y.dtype == torch.long and y.shape == (len(x),)
            assert 0 <= int(y.min()) and int(y.max()) < ds.num_classes
        else:
            assert x.dtype == y.dtype == torch.float32 and y.shape == (len(x), ds.output_size)
            assert ds.classes == []
        assert torch.isfinite(x.float()).all()


def describe_is_one_line(name: str) -> bool:
    text = data.describe(name)
    return bool(text) and "\n" not in text


def test_every_class_appears_in_every_split_of_a_classification_set(loaded):
    for ds in loaded.values():
        if ds.task == "classification":
            for split in data.SPLITS:
                assert set(ds.split(split)[1].tolist()) == set(range(ds.num_classes)), ds.name


@pytest.mark.parametrize("name", GENERATED)
def test_options_describe_their_defaults(name):
    for key, arg in data.options(name).items():
        assert arg.kind in ("int", "float") and arg.min <= arg.default <= arg.max, key
    assert data.defaults(name) == {k: a.default for k, a in data.options(name).items()}


def test_downloadable_datasets_take_an_optional_folder():
    for name in ("mnist-full", "fashion-mnist", "cifar10"):
        folder = data.options(name)["folder"]
        assert folder.kind == "path" and not folder.required and "torchvision's layout" in folder.help
        assert data.defaults(name)["folder"] is None  # no folder: the download cache


# ---------------------------------------------------------------------------------------------
# Seeds and splits.

@pytest.mark.parametrize("name", [n for n in GENERATED if n not in ("digits", "hello")])
def test_same_seed_same_tensors_other_seed_other_tensors(loaded, name):
    a, b, c = loaded[name], data.load(name, seed=0), data.load(name, seed=1)
    for split in data.SPLITS:
        assert all(torch.equal(u, v) for u, v in zip(a.split(split), b.split(split)))
    assert not torch.equal(a.x_train, c.x_train)


def test_digits_seed_changes_only_the_split():
    a, b = data.load("digits", seed=3), data.load("digits", seed=4)
    assert torch.equal(a.x_val, data.load("digits", seed=3).x_val)
    assert not torch.equal(a.x_val, b.x_val)
    assert rows(torch.cat([a.x_train, a.x_val, a.x_test])) == rows(torch.cat([b.x_train, b.x_val, b.x_test]))
    assert 0 <= float(a.x_train.min()) and float(a.x_train.max()) <= 1


@pytest.mark.parametrize("name", CONTINUOUS)
def test_splits_are_disjoint_and_about_70_15_15(loaded, name):
    ds = loaded[name]
    sizes = ds.sizes()
    total = sum(sizes.values())
    assert abs(sizes["val"] - 0.15 * total) <= 5 and abs(sizes["test"] - 0.15 * total) <= 5
    train, val, test = (rows(ds.split(s)[0]) for s in data.SPLITS)
    assert len(train) == sizes["train"] and not (train & val or train & test or val & test)


@settings(max_examples=40, deadline=None)
@given(labels=st.lists(st.integers(0, 3), min_size=1, max_size=200), seed=st.integers(0, 2 ** 32))
def test_split_indices_partition_and_stratify(labels, seed):
    labels = np.array(labels)
    parts = split_indices(len(labels), np.random.default_rng(seed), labels)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))
    for c in np.unique(labels):
        n_c = int((labels == c).sum())
        assert int((labels[parts[1]] == c).sum()) == round(0.15 * n_c)


# ---------------------------------------------------------------------------------------------
# What each generated task means.

def test_toy_sets_take_noise_and_classes():
    for name in ("gaussians", "spiral"):
        ds = data.load(name, classes=5, noise=0.3, n=500)
        assert ds.num_classes == 5 and ds.output_size == 5 and sum(ds.sizes().values()) == 500
    assert data.load("circle", classes=3).num_classes == 3
    clean = data.load("xor", noise=0.0)
    x, y = clean.x_train, clean.y_train
    assert torch.equal(y, (x[:, 0] * x[:, 1] < 0).long())  # without noise the label is the sign of x₁·x₂


def test_xo_images_are_plus_minus_one_and_the_plain_ones_are_an_x_and_an_o():
    ds = data.load("xo", shift=0, rotation=0, thick=0, noise=0, n=50)
    assert set(ds.x_train.unique().tolist()) == {-1.0, 1.0} and ds.classes == ["X", "O"]
    x_img = ds.x_train[ds.y_train == 0][0, 0]
    o_img = ds.x_train[ds.y_train == 1][0, 0]
    diag = torch.arange(1, 8)
    assert (x_img[diag, diag] == 1).all() and (x_img[diag, 8 - diag] == 1).all() and x_img[0].eq(-1).all()
    assert o_img[4, 4] == -1 and o_img[4, 1] == 1 and o_img[1, 4] == 1 and o_img[7, 4] == 1


def test_adding_target_is_the_sum_of_the_two_marked_values():
    ds = data.load("adding", T=30, n=300, seed=5)
    for x, y in (ds.split(s) for s in data.SPLITS):
        marks = x[:, :, 1]
        assert (marks.sum(dim=1) == 2).all() and set(marks.unique().tolist()) == {0.0, 1.0}
        assert torch.allclose(y[:, 0], (x[:, :, 0] * marks).sum(dim=1), atol=1e-6)
        first, second = marks[:, :15].argmax(dim=1), marks[:, 15:].argmax(dim=1)  # one mark in each half
        assert (marks[:, :15].sum(dim=1) == 1).all() and (first < 15).all() and (second >= 0).all()


def test_copy_label_is_the_first_symbol_and_the_last_step_is_the_cue():
    ds = data.load("copy", T=12, symbols=3)
    x, y = ds.x_train, ds.y_train
    assert ds.input_shape == (12, 4) and ds.classes == ["A", "B", "C"]
    assert torch.equal(x[:, 0].argmax(dim=1), y) and (x[:, -1, 3] == 1).all() and (x[:, :-1, 3] == 0).all()
    assert (x.sum(dim=2) == 1).all()  # one-hot


def test_collatz_windows_follow_the_rule_and_label_the_next_parity():
    ds = data.load("collatz", T=6, bits=12)
    x, y = ds.x_train, ds.y_train
    values = (x.long() * (2 ** torch.arange(12))).sum(dim=2)  # (N, T) back from least-significant-first bits
    prev, nxt = values[:, :-1], values[:, 1:]
    assert torch.equal(nxt, torch.where(prev % 2 == 0, prev // 2, 3 * prev + 1))
    last = values[:, -1]
    assert torch.equal(y, torch.where(last % 2 == 0, (last // 2) % 2, (3 * last + 1) % 2))
    assert abs(float(y.float().mean()) - 0.5) < 0.05


def test_sine_targets_continue_the_clean_wave():
    ds = data.load("sine", T=8, noise=0.0)
    x, y = ds.x_train[:, :, 0], ds.y_train[:, 0]
    assert ds.input_shape == (8, 1) and (y.abs() <= 1).all()
    # Without noise sin((t+1)ω + φ) = 2cos(ω)·sin(tω + φ) − sin((t−1)ω + φ): the window fixes the next value.
    two_cos = (x[:, 2] + x[:, 0]) / x[:, 1]
    ok = x[:, 1].abs() > 0.3
    assert torch.allclose((two_cos * x[:, 7] - x[:, 6])[ok], y[ok], atol=1e-3)


# ---------------------------------------------------------------------------------------------
# Characters.

def test_hello_is_hell_to_ello():
    ds = data.load("hello")
    text = lambda ids: "".join(ds.vocab[i] for i in ids.tolist())  # noqa: E731
    assert ds.vocab == ["h", "e", "l", "o"] and text(ds.x_train[0]) == "hell" and text(ds.y_train[0]) == "ello"
    assert ds.output_size == 4 and ds.input_shape == (4,)


def test_zen_is_decoded_without_printing(capsys, loaded):
    ds = data.load("zen", seq_len=16)
    assert capsys.readouterr().out == ""
    from engine.data.text import zen_text
    text = zen_text()
    assert text.startswith("The Zen of Python, by Tim Peters") and "Beautiful is better than ugly." in text
    assert torch.equal(ds.x_train[:, 1:], ds.y_train[:, :-1])
    assert ds.input_shape == (16,) and "".join(ds.vocab) == "".join(sorted(set(text)))


@pytest.mark.parametrize("name", ["hello", "zen"])
def test_char_targets_are_inputs_shifted_by_one(loaded, name):
    ds = loaded[name]
    for x, y in (ds.split(s) for s in data.SPLITS):
        assert torch.equal(x[:, 1:], y[:, :-1])


def test_from_text_splits_by_position_so_windows_never_leak():
    text = "".join(chr(0x4E00 + i) for i in range(900))  # every character unique: an id is a position
    ds = data.from_text(text, seq_len=10, seed=2)
    first = {s: ds.split(s)[0][:, 0] for s in data.SPLITS}
    last = {s: ds.split(s)[1][:, -1] for s in data.SPLITS}
    assert int(last["train"].max()) < int(first["val"].min()) and int(last["val"].max()) < int(first["test"].min())
    assert ds.sizes() == {"train": 630 - 10, "val": 135 - 10, "test": 135 - 10}


def test_from_text_accepts_bytes_with_bom_and_crlf():
    ds = data.from_text("\ufeff".encode("utf-8") + "ab\r\ncd\r\n".encode("utf-8") * 40, seq_len=8)
    assert "\r" not in ds.vocab and "\ufeff" not in ds.vocab and ds.vocab == ["\n", "a", "b", "c", "d"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300),
                     st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=20, max_size=400),
                     st.text("ab \n\té", min_size=20, max_size=400)),
       seq_len=st.integers(4, 24), seed=st.integers(0, 1000))
def test_from_text_on_any_text_gives_a_dataset_or_a_clear_error(text, seq_len, seed):
    try:
        ds = data.from_text(text, seq_len=seq_len, seed=seed)
    except InputError as err:
        assert str(err) and "Traceback" not in str(err)
        return
    assert ds.task == "char" and ds.input_shape == (seq_len,)
    for x, y in (ds.split(s) for s in data.SPLITS):
        assert x.shape[1] == seq_len and torch.equal(x[:, 1:], y[:, :-1]) and int(x.max()) < len(ds.vocab)


@pytest.mark.parametrize("upload, message", [
    (b"", "empty"),
    (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "binary"),
    (b"caf\xe9 au lait, " * 20, "not UTF-8"),
    ("abc\x1b[0m\x07 " * 30, "binary"),
    ("   \n\t  \n", "whitespace"),
    ("too short", "at least"),
    ("".join(chr(0x4E00 + i) for i in range(1500)) * 2, "distinct characters"),
    (12345, "expected the text"),
])
def test_bad_uploads_raise_input_error(upload, message):
    with pytest.raises(InputError, match=message):
        data.from_text(upload, seq_len=16)


def test_uploads_over_the_cap_are_refused(monkeypatch):
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(InputError, match="limit is 1,000 bytes"):
        data.from_text(b"a" * 1001)
    data.from_text(b"ab" * 500, seq_len=8)  # exactly at the cap is fine


# ---------------------------------------------------------------------------------------------
# Files: tiny IDX and CIFAR-10 binaries written here.

def idx_bytes(array: np.ndarray) -> bytes:
    """An array in the IDX format: magic 0x0000 08 ndim, big-endian sizes, then the raw bytes."""
    return struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def unique_images(n: int, offset: int, side: int = 28) -> np.ndarray:
    """Images whose first two pixels spell their index, so a sample can be traced back to its file row."""
    images = np.random.default_rng(offset).integers(0, 256, (n, side, side), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = (np.arange(n) + offset) // 256, (np.arange(n) + offset) % 256
    return images


def write_mnist(folder, n_train=40, n_test=12, gz=False, side=28):
    tr, te = unique_images(n_train, 0, side), unique_images(n_test, 1000, side)
    tr_labels, te_labels = np.arange(n_train, dtype=np.uint8) % 10, (np.arange(n_test, dtype=np.uint8) * 3) % 10
    for base, array in [("train-images-idx3-ubyte", tr), ("train-labels-idx1-ubyte", tr_labels),
                        ("t10k-images-idx3-ubyte", te), ("t10k-labels-idx1-ubyte", te_labels)]:
        raw = idx_bytes(array)
        (folder / (base + ".gz" if gz else base)).write_bytes(gzip.compress(raw) if gz else raw)
    return tr, tr_labels, te, te_labels


def trace(x: torch.Tensor) -> np.ndarray:
    """Back from [0, 1] pixels to the row index written into the first two pixels."""
    px = (x.reshape(len(x), -1)[:, :2] * 255).round().long()
    return (px[:, 0] * 256 + px[:, 1]).numpy()


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    tr, tr_labels, te, te_labels = write_mnist(tmp_path, gz=gz)
    ds = data.load_idx_folder(tmp_path, kind="fashion-mnist", seed=1, n_train=30, n_val=6, n_test=100)
    assert ds.input_shape == (1, 28, 28) and ds.classes[0] == "T-shirt/top" and ds.sizes() == {
        "train": 30, "val": 6, "test": 12}
    train_rows, val_rows, test_rows = trace(ds.x_train), trace(ds.x_val), trace(ds.x_test) - 1000
    assert not set(train_rows) & set(val_rows)
    assert np.array_equal(ds.y_train.numpy(), tr_labels[train_rows])
    assert np.array_equal(ds.y_test.numpy(), te_labels[test_rows])
    assert torch.allclose(ds.x_val[:, 0], torch.tensor(tr[val_rows] / 255.0, dtype=torch.float32))
    again = data.load("fashion-mnist", seed=1, folder=str(tmp_path), n_train=30, n_val=6, n_test=100)
    assert torch.equal(again.x_train, ds.x_train)


def test_idx_files_shrink_the_request_in_proportion(tmp_path):
    write_mnist(tmp_path, n_train=40)
    assert data.load("mnist-full", folder=tmp_path).sizes() == {"train": 33, "val": 7, "test": 12}  # 10,000 : 2,000


def corrupt(tmp_path, name, raw):
    write_mnist(tmp_path, side=6)
    (tmp_path / name).write_bytes(raw)


GOOD_LABELS = idx_bytes(np.zeros(40, dtype=np.uint8))


@pytest.mark.parametrize("name, raw, message", [
    ("train-images-idx3-ubyte", b"", "empty"),
    ("train-images-idx3-ubyte", GOOD_LABELS, "magic number is 0x00000801, expected 0x00000803"),
    ("train-labels-idx1-ubyte", b"PK\x03\x04" + bytes(60), "magic number"),
    ("train-images-idx3-ubyte", idx_bytes(np.zeros((40, 6, 6), np.uint8))[:-5], "truncated"),
    ("train-images-idx3-ubyte", idx_bytes(np.zeros((40, 6, 6), np.uint8))[:10], "ends inside the header"),
    ("train-images-idx3-ubyte", b"\x00\x00", "ends inside the 4-byte"),
    ("train-images-idx3-ubyte", idx_bytes(np.zeros((40, 6, 6), np.uint8)) + b"\x00", "more bytes"),
    ("train-labels-idx1-ubyte", idx_bytes(np.zeros(39, dtype=np.uint8)), "40 images but .* 39 labels"),
    ("train-labels-idx1-ubyte", idx_bytes(np.full(40, 12, dtype=np.uint8)), "label 12"),
    ("train-images-idx3-ubyte", struct.pack(">HBBIII", 0, 8, 3, 60000, 60000, 60000), "corrupt"),
    ("train-images-idx3-ubyte", gzip.compress(idx_bytes(np.zeros((40, 6, 6), np.uint8)))[:30], "gzip"),
])
def test_corrupt_idx_files_raise_input_error(tmp_path, name, raw, message):
    corrupt(tmp_path, name, raw)
    with pytest.raises(InputError, match=message):
        data.load_idx_folder(tmp_path)


def test_missing_idx_folder_or_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        data.load_idx_folder(tmp_path / "nowhere")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        data.load_idx_folder(tmp_path / "afile")
    write_mnist(tmp_path, side=6)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(InputError, match="has no t10k-labels-idx1-ubyte"):
        data.load("mnist-full", folder=tmp_path)
    with pytest.raises(InputError, match="kind"):
        data.load_idx_folder(tmp_path, kind="emnist")


def cifar_batch(n: int, offset: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    """n records: a label byte, then red, green and blue planes; row index written into the red plane."""
    images = np.random.default_rng(offset).integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    images[:, 0, 0, 0], images[:, 0, 0, 1] = (np.arange(n) + offset) // 256, (np.arange(n) + offset) % 256
    labels = (np.arange(n) + offset) % 10
    records = np.concatenate([labels[:, None].astype(np.uint8), images.reshape(n, -1)], axis=1)
    return records.tobytes(), images, labels


def write_cifar(folder, sizes=(20, 10), n_test=8):
    folder.mkdir(parents=True, exist_ok=True)
    images, labels, start = [], [], 0
    for i, n in enumerate(sizes, 1):
        raw, im, lab = cifar_batch(n, start)
        (folder / f"data_batch_{i}.bin").write_bytes(raw)
        images.append(im), labels.append(lab)
        start += n
    raw, test_images, test_labels = cifar_batch(n_test, 1000)
    (folder / "test_batch.bin").write_bytes(raw)
    return np.concatenate(images), np.concatenate(labels), test_images, test_labels


def test_cifar_round_trip_across_batches(tmp_path):
    images, labels, test_images, test_labels = write_cifar(tmp_path / "cifar-10-batches-bin")
    ds = data.load_cifar10_folder(tmp_path, seed=3, n_train=22, n_val=5, n_test=8)  # the parent folder works too
    assert ds.input_shape == (3, 32, 32) and ds.classes[3] == "cat" and ds.sizes() == {"train": 22, "val": 5, "test": 8}
    for x, y, src, src_labels, offset in [(ds.x_train, ds.y_train, images, labels, 0),
                                          (ds.x_val, ds.y_val, images, labels, 0),
                                          (ds.x_test, ds.y_test, test_images, test_labels, 1000)]:
        idx = trace(x) - offset
        assert np.array_equal(y.numpy(), src_labels[idx])
        assert torch.allclose(x, torch.tensor(src[idx] / 255.0, dtype=torch.float32))  # planes stay R, G, B
    assert not set(trace(ds.x_train)) & set(trace(ds.x_val))
    assert len(set(trace(ds.x_train)) | set(trace(ds.x_val))) == 27  # drawn from both batches without repeats


@pytest.mark.parametrize("name, raw, message", [
    ("data_batch_1.bin", b"", "empty"),
    ("data_batch_1.bin", bytes(3073 * 2 + 100), "not a whole number of 3,073-byte records"),
    ("test_batch.bin", bytes([11]) + bytes(3072), "label 11"),
])
def test_corrupt_cifar_files_raise_input_error(tmp_path, name, raw, message):
    write_cifar(tmp_path)
    (tmp_path / name).write_bytes(raw)
    with pytest.raises(InputError, match=message):
        data.load("cifar10", folder=tmp_path)


def test_cifar_missing_files_and_the_pickle_version(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        data.load_cifar10_folder(tmp_path / "nowhere")
    with pytest.raises(InputError, match="has no data_batch_1.bin or test_batch.bin"):
        data.load_cifar10_folder(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(b"\x80\x04pickle")
    with pytest.raises(InputError, match="pickle"):
        data.load_cifar10_folder(tmp_path)


# ---------------------------------------------------------------------------------------------
# Options and names.

@pytest.mark.parametrize("call, message", [
    (lambda: data.load("spirals"), "did you mean 'spiral'"),
    (lambda: data.load("spiral", arms=3), "no option 'arms'"),
    (lambda: data.load("spiral", classes=9), "from 2 to 5"),
    (lambda: data.load("adding", T=2.5), "whole number"),
    (lambda: data.load("sine", noise=float("nan")), "finite"),
    (lambda: data.load("xor", n=True), "whole number"),
    (lambda: data.load("xor", seed=-1), "seed"),
    (lambda: data.load("mnist-full", folder=3), "folder path"),
    (lambda: data.load_idx_folder(""), "folder path"),
    (lambda: data.load("mnist", folder="data"), "no option 'folder'"),
    (lambda: data.from_text("hello world " * 20, seq_len=1000), "from 4 to 256"),
])
def test_bad_options_raise_input_error(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_numpy_and_float_whole_numbers_are_accepted():
    assert data.load("adding", T=np.int64(10), n=200.0).input_shape == (10, 2)


# ---------------------------------------------------------------------------------------------
# adapt_spec: any preset onto any dataset, or a clear SpecError.

def expected_output(ds) -> tuple:
    if ds.task == "reconstruction":
        return ds.input_shape
    return (ds.input_shape[0], ds.num_classes) if ds.task == "char" else (ds.output_size,)


@pytest.fixture(scope="module")
def targets(loaded, tmp_path_factory):
    """One dataset of each shape; short sequences, because summarize unrolls recurrent layers step by step."""
    mnist, cifar = tmp_path_factory.mktemp("mnist"), tmp_path_factory.mktemp("cifar")
    write_mnist(mnist)
    write_cifar(cifar)
    short = {"sine": {"T": 5}, "adding": {"T": 6}, "copy": {"T": 4}, "collatz": {"T": 3}, "zen": {"seq_len": 6}}
    picks = {n: loaded[n] for n in ("digits", "xo", "circle", "spiral", "hello")}
    return {**picks, **{n: data.load(n, n=200, **o) if n != "zen" else data.load(n, **o) for n, o in short.items()},
            "mnist-full": data.load("mnist-full", folder=mnist), "cifar10": data.load("cifar10", folder=cifar),
            "mnist-reconstruction": data.reconstruction(loaded["mnist"])}


@pytest.mark.parametrize("preset", presets.names())
def test_adapt_spec_fits_each_preset_to_each_dataset_or_explains_why_not(targets, preset):
    fitted = []
    for ds in targets.values():
        original = presets.get(preset)
        try:
            spec, notes = data.adapt_spec(original, ds)
        except SpecError as err:
            assert preset in err.message and "Traceback" not in err.message
            continue
        fitted.append(ds.name)
        assert original.to_dict() == presets.get(preset).to_dict()  # the preset itself is untouched
        assert tuple(spec.input) == ds.input_shape and all(isinstance(n, str) for n in notes)
        images = ds.task == "classification" and ds.input_kind == "image"
        target = data.reconstruction(ds) if images and data.autoencodes(original) else ds  # an autoencoder's target
        assert summarize(spec).output_shape == expected_output(target)
        assert spec.vocab_size == (len(ds.vocab) if ds.task == "char" else None)
    assert fitted, f"{preset} fits none of the datasets"


# The presets a built-in dataset fits as they are (vgg16 reads 224×224 images).
FITS_AS_IS = {"tiny-vgg", "resnet-mini", "deep-mlp", "toy-mlp", "xo-cnn", "char-rnn", "char-lstm", "char-gru",
              "mnist-cnn", "lenet5", "autoencoder", "conv-autoencoder"}


@pytest.mark.parametrize("preset", presets.names())
def test_fit_names_a_dataset_each_preset_reads_as_it_is(loaded, preset):
    spec = presets.get(preset)
    ds = loaded[data.fit(spec)] if data.fit(spec) in loaded else data.load(data.fit(spec))
    assert (tuple(ds.input_shape) == tuple(spec.input)) == (preset in FITS_AS_IS)
    if preset not in FITS_AS_IS:  # no built-in dataset has this input: the nearest kind, images
        assert data.fit(spec) == "digits" and len(spec.input) == 3
        return
    adapted, notes = data.adapt_spec(spec, ds)
    assert adapted.input == spec.input and adapted.layers[0] == spec.layers[0]  # no Flatten added, no Embedding gone
    assert not any(n.startswith("input set to") for n in notes)
    target = data.reconstruction(ds) if data.autoencodes(spec) else ds  # an autoencoder's target is its input
    assert summarize(adapted).output_shape == expected_output(target)


@pytest.mark.parametrize("spec, name", [
    ({"input": [1, 9, 9]}, "xo"), ({"input": [3, 9, 9]}, "xo"), ({"input": [1, 8, 8]}, "digits"),
    ({"input": [3, 32, 32]}, "digits"), ({"input": [20, 1]}, "adding"), ({"input": [2]}, "circle"),
    ({"input": [64]}, "digits"), ({"input": [4], "vocab_size": 4}, "zen"), ({"input": [1, 28, 28]}, "mnist"),
    ({"input": [1, 32, 32]}, "mnist32")])
def test_fit_is_the_train_pages_rule(spec, name):
    layers = [{"type": "Embedding", "embedding_dim": 4}] if "vocab_size" in spec else [{"type": "Flatten"}]
    spec = ModelSpec.from_dict({"name": "n", **spec, "layers": layers + [{"type": "Linear", "out_features": 2}]})
    assert data.fit(spec) == name and name in data.names()


def test_adapt_spec_notes_and_refusals():
    digits, circle, hello = (data.load(n) for n in ("digits", "circle", "hello"))
    adding = data.load("adding", T=5, n=200)
    spec, notes = data.adapt_spec(presets.get("toy-mlp"), digits)
    assert spec.layers[0] == {"type": "Flatten"} and spec.layers[-1]["out_features"] == 10
    assert notes[0] == "input set to 1×8×8 for digits" and any("10 outputs" in n for n in notes)
    assert data.adapt_spec(presets.get("toy-mlp"), circle)[1] == []
    with pytest.raises(SpecError, match="lenet5 needs images C×H×W; the circle dataset gives 2 features"):
        data.adapt_spec(presets.get("lenet5"), circle)
    with pytest.raises(SpecError, match="lenet5 does not fit the 1×8×8 images of digits: layer 3 Conv2d") as err:
        data.adapt_spec(presets.get("lenet5"), digits)
    assert err.value.layer_index == 3
    with pytest.raises(SpecError, match="must start with an Embedding"):
        data.adapt_spec(presets.get("deep-mlp"), hello)
    spec, notes = data.adapt_spec(presets.get("char-lstm"), adding)
    assert spec.vocab_size is None and spec.layers[0] == {"type": "LSTM", "hidden_size": 64, "output": "last"}
    assert any("removed the Embedding" in n for n in notes) and any("last state" in n for n in notes)
    spec, notes = data.adapt_spec(presets.get("char-rnn"), hello)
    assert spec.vocab_size == 4 and spec.input == [4] and summarize(spec).output_shape == (4, 4)
    no_linear = presets.get("toy-mlp").copy(layers=[{"type": "Tanh"}])
    with pytest.raises(SpecError, match="no Linear layer"):
        data.adapt_spec(no_linear, circle)
