"""Full MNIST, Fashion-MNIST (IDX files) and CIFAR-10 (binary batches): from the download cache or a folder.

Downloaded files are verified against torchvision's checksums before they are kept, and the two IDX datasets
are then read by torchvision's own ``MNIST``/``FashionMNIST``. A folder someone filled by hand is read here
instead, because its files may be anything: torchvision's readers stop on an assertion where a student needs to
know which file is wrong and how, and its CIFAR-10 reader unpickles. These readers are raw bytes behind a tiny
header, read with numpy and checked against the sizes the header (or the record layout) promises.
"""
from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from engine.data import download
from engine.data.base import Dataset, to_x, to_y
from engine.data.bundled import pad_images
from engine.errors import InputError

IDX_IMAGES, IDX_LABELS = 0x00000803, 0x00000801  # 0x08 = unsigned bytes; the last byte is the number of dims
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MAX_IDX_BYTES = 256 * 1024 * 1024  # far above MNIST's 47 MB; stops a forged header from asking for gigabytes
CIFAR_RECORD = 1 + 3 * 32 * 32  # a label byte, then 1024 red, 1024 green, 1024 blue pixels
CIFAR_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR_TEST = "test_batch.bin"
CLASSES = {
    "mnist-full": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}
TITLES = {"mnist-full": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
TORCHVISION_CLASS = {"mnist-full": "MNIST", "fashion-mnist": "FashionMNIST"}  # also their folder: <root>/MNIST/raw


def read_idx(path: Path, magic: int) -> np.ndarray:
    """One IDX file (optionally gzipped) as a uint8 array shaped by its header.

    Raises:
        InputError: empty, broken gzip, wrong magic number, truncated, or extra bytes after the data.
    """
    name = path.name
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{name} is empty (0 bytes); copy the file again")
        with open(path, "rb") as f:
            zipped = f.read(2) == b"\x1f\x8b"  # gzip's own magic, whatever the file is called
        with (gzip.open if zipped else open)(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4:
                raise InputError(f"{name} is truncated: it ends inside the 4-byte IDX header")
            found = int.from_bytes(head, "big")
            if found != magic:
                what = "images" if magic == IDX_IMAGES else "labels"
                raise InputError(f"{name} is not an IDX {what} file: its magic number is 0x{found:08X}, "
                                 f"expected 0x{magic:08X}. Check that the file is the right one and not renamed")
            ndim = magic & 0xFF
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise InputError(f"{name} is truncated: it ends inside the header's list of {ndim} sizes")
            dims = tuple(int.from_bytes(raw_dims[i:i + 4], "big") for i in range(0, 4 * ndim, 4))
            expected = math.prod(dims)
            if expected == 0 or expected > MAX_IDX_BYTES:
                raise InputError(f"{name}: its header gives sizes {dims}, i.e. {expected:,} bytes of data; "
                                 f"expected between 1 and {MAX_IDX_BYTES:,}. The file is corrupt")
            data = f.read(expected + 1)  # one byte more than promised reveals trailing garbage
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"{name} is not a valid gzip file ({exc}); unpack it or copy it again") from None
    except OSError as exc:
        raise InputError(f"{name} cannot be read ({exc.strerror or exc})") from None
    if len(data) < expected:
        raise InputError(f"{name} is truncated: its header promises {expected:,} bytes of data for sizes {dims}, "
                         f"but only {len(data):,} follow. Copy the file again")
    if len(data) > expected:
        raise InputError(f"{name} has more bytes than its header's sizes {dims} allow ({expected:,}); "
                         f"the file is corrupt or not an IDX file")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def idx_arrays(kind: str, folder: str | Path | None) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    """{"train": (images, labels), "test": (...)} as uint8 ``(N, 28, 28)`` and labels, and where they came from.

    Without a folder the dataset comes from the cache (downloaded first if it is not there yet).
    """
    if folder is None:
        return _from_cache(kind, _torchvision_arrays), f"downloaded into the cache {download.cache_root()}"
    root = _folder(folder)
    arrays = {}
    for split, names in IDX_FILES.items():
        images = read_idx(_find(root, names[0], kind), IDX_IMAGES)
        labels = read_idx(_find(root, names[1], kind), IDX_LABELS)
        if len(images) != len(labels):
            raise InputError(f"{kind}: {names[0]} holds {len(images):,} images but {names[1]} holds "
                             f"{len(labels):,} labels; they must match")
        _check_labels(labels, names[1])
        arrays[split] = (images, labels)
    return arrays, f"read from the IDX files in {root}"


def load_idx(kind: str, rng: np.random.Generator, folder: str | Path | None, n_train: int, n_val: int,
             n_test: int, pad: int = 0) -> Dataset:
    """MNIST or Fashion-MNIST from the cache or a folder; pixels scaled to [0, 1], optionally padded."""
    arrays, origin = idx_arrays(kind, folder)
    (tr_images, tr_labels), (te_images, te_labels) = arrays["train"], arrays["test"]
    train_idx, val_idx = _take_two(len(tr_images), n_train, n_val, rng)
    test_idx = rng.permutation(len(te_images))[:n_test]
    parts = [(tr_images, tr_labels, train_idx), (tr_images, tr_labels, val_idx), (te_images, te_labels, test_idx)]
    tensors = []
    for images, labels, idx in parts:
        tensors += [to_x(pad_images(images[idx], pad)[:, None] / 255.0), to_y(labels[idx], "classification")]
    title = TITLES[kind]
    side = tr_images.shape[1] + 2 * pad
    padded = f" padded with {pad} blank pixels on each side to {side}×{side};" if pad else ""
    return Dataset(kind, "classification", (1, side, side), *tensors, classes=list(CLASSES[kind]),
                   description=f"{title} {origin}: {len(train_idx):,} training and "
                   f"{len(val_idx):,} validation images drawn from the {len(tr_images):,} training images, "
                   f"{len(test_idx):,} test images from the {len(te_images):,} test images;{padded} grey pixels "
                   f"scaled from 0..255 to [0, 1].")


def _torchvision_arrays(kind: str, root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The cached, verified files read by torchvision's own dataset class."""
    cls = getattr(download.torchvision().datasets, TORCHVISION_CLASS[kind])
    arrays = {}
    for split, train in (("train", True), ("test", False)):
        try:
            ds = cls(str(root), train=train)
        except Exception as exc:  # torchvision reports a bad file with a bare assertion or RuntimeError
            raise InputError(f"the cached {TITLES[kind]} files cannot be read ({type(exc).__name__}: {exc})") from None
        arrays[split] = (ds.data.numpy(), ds.targets.numpy())
    return arrays


def _from_cache(kind: str, read: Callable[[str, Path], object]):
    """``read(kind, root)`` on the cached dataset; a damaged unpacked file is unpacked again from its archive once."""
    root = download.download(kind)
    try:
        return read(kind, root)
    except InputError:
        download.remove_extracted(kind, root)
        try:
            return read(kind, download.download(kind, root=root))
        except InputError as err:
            raise InputError(f"{err}. Delete the folder {root} to download {TITLES[kind]} again") from None


def read_cifar(path: Path) -> np.memmap:
    """One CIFAR-10 binary batch as an (N, 3073) uint8 memory map (labels in column 0), after size checks."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path.name} cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(f"{path.name} is empty (0 bytes); copy the file again")
    if size % CIFAR_RECORD:
        raise InputError(f"{path.name} is {size:,} bytes, not a whole number of {CIFAR_RECORD:,}-byte records "
                         f"(1 label byte + 3,072 pixel bytes): the file is truncated or not a CIFAR-10 binary batch")
    try:
        records = np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, CIFAR_RECORD)
    except OSError as exc:
        raise InputError(f"{path.name} cannot be read ({exc.strerror or exc})") from None
    _check_labels(records[:, 0], path.name)
    return records


def load_cifar(folder: str | Path | None, rng: np.random.Generator, n_train: int, n_val: int,
               n_test: int) -> Dataset:
    """CIFAR-10's binary version (data_batch_1.bin … data_batch_5.bin, test_batch.bin), from the cache or a folder."""
    if folder is None:
        return _from_cache("cifar10", lambda kind, root: load_cifar(root, rng, n_train, n_val, n_test))
    root = _folder(folder)
    if not (root / CIFAR_TEST).exists() and (root / "cifar-10-batches-bin").is_dir():
        root = root / "cifar-10-batches-bin"  # the folder the official archive unpacks to
    if (root / "data_batch_1").exists() and not (root / "data_batch_1.bin").exists():
        raise InputError(f"{root} holds the Python (pickle) version of CIFAR-10; this app reads only the binary "
                         f"version (cifar-10-binary.tar.gz: data_batch_1.bin … test_batch.bin), because loading "
                         f"pickle files can run code")
    train_files = [root / f for f in CIFAR_TRAIN if (root / f).exists()]
    missing = ([] if train_files else ["data_batch_1.bin"]) + ([] if (root / CIFAR_TEST).exists() else [CIFAR_TEST])
    if missing:
        raise InputError(f"{root} has no {' or '.join(missing)}; a CIFAR-10 folder holds data_batch_1.bin … "
                         f"data_batch_5.bin and test_batch.bin (the binary version, unpacked)")
    train = [read_cifar(p) for p in train_files]
    test = read_cifar(root / CIFAR_TEST)
    offsets = np.cumsum([0] + [len(b) for b in train])
    train_idx, val_idx = _take_two(int(offsets[-1]), n_train, n_val, rng)
    test_idx = rng.permutation(len(test))[:n_test]

    def gather(batches, starts, idx):
        # Sorted reads from the memory maps, then back to the shuffled order.
        order = np.argsort(idx)
        rows = np.empty((len(idx), CIFAR_RECORD), dtype=np.uint8)
        which = np.searchsorted(starts, idx[order], side="right") - 1
        for b, batch in enumerate(batches):
            sel = which == b
            rows[order[sel]] = batch[idx[order][sel] - starts[b]]
        return rows

    tensors = []
    for batches, starts, idx in [(train, offsets, train_idx), (train, offsets, val_idx), ([test], [0], test_idx)]:
        rows = gather(batches, np.asarray(starts), idx)
        tensors += [to_x(rows[:, 1:].reshape(-1, 3, 32, 32) / 255.0), to_y(rows[:, 0], "classification")]
    return Dataset("cifar10", "classification", (3, 32, 32), *tensors, classes=list(CLASSES["cifar10"]),
                   description=f"CIFAR-10 read from the binary batches in {root}: {len(train_idx):,} training and "
                   f"{len(val_idx):,} validation images drawn from {int(offsets[-1]):,} in {len(train)} training "
                   f"batch(es), {len(test_idx):,} test images from test_batch.bin; 32×32 RGB, pixels scaled from "
                   f"0..255 to [0, 1].")


FOLDERS_ENV = "PLAYGROUND_DATA_FOLDERS"


def data_roots() -> list[Path]:
    """The folders the "folder" option may read below: the download cache (``$PLAYGROUND_DATA_DIR``) and those in
    ``$PLAYGROUND_DATA_FOLDERS`` (separated by ``os.pathsep``), resolved."""
    extra = [p for p in os.environ.get(FOLDERS_ENV, "").split(os.pathsep) if p.strip()]
    return [Path(p.strip()).expanduser().resolve() for p in [str(download.cache_root()), *extra]]


def _resolved(base: Path, given: str) -> Path | None:
    try:
        return (base / given).resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a name too long, a loop of links
        return None


def _folder(folder: str | Path) -> Path:
    """The dataset folder a student named, inside one of the data roots; anywhere else is refused with one
    message that says nothing about what is there (the server's other folders are none of a student's business).

    A relative name is read below the roots, an absolute one must lie inside one; ``~`` is not expanded and links
    count where they lead.
    """
    if not isinstance(folder, (str, Path)) or not str(folder).strip():
        raise InputError("name the folder that holds the dataset's files")
    given = str(folder).strip()
    roots = data_roots()
    inside = [path for base in roots if (path := _resolved(base, given)) is not None and path.is_relative_to(base)]
    if not inside:
        where = " or ".join(str(r) for r in roots)
        raise InputError(f"the folder {given[:80]!r} is not in this server's data folder; name a folder inside "
                         f"{where} (a name such as mnist is read from there), or ask whoever runs the server to add "
                         f"its data folder to {FOLDERS_ENV}")
    root = next((path for path in inside if path.exists()), inside[0])
    if not root.exists():
        raise InputError(f"the folder {root} does not exist on the server; check the path")
    if not root.is_dir():
        raise InputError(f"{root} is a file, not a folder; name the folder that holds the dataset's files")
    return root


def _find(root: Path, base: str, kind: str) -> Path:
    """The file in the folder or in torchvision's layout below it (<folder>/MNIST/raw/), plain or gzipped, also
    with a dot before idx (as some mirrors spell it)."""
    dotted = base.replace("-idx", ".idx")
    for where in (root, root / TORCHVISION_CLASS[kind] / "raw"):
        for name in (base, base + ".gz", dotted, dotted + ".gz"):
            if (where / name).is_file():
                return where / name
    expected = ", ".join(n for pair in IDX_FILES.values() for n in pair)
    raise InputError(f"{root} has no {base} (or {base}.gz), nor has {root / TORCHVISION_CLASS[kind] / 'raw'} "
                     f"(torchvision's layout); a {TITLES[kind]} folder holds {expected}")


def _check_labels(labels: np.ndarray, name: str) -> None:
    if len(labels) and labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise InputError(f"{name}: label {int(labels[bad])} at position {bad:,} is not a class 0–9; the file is "
                         f"corrupt or not a {('CIFAR-10' if name.endswith('.bin') else 'label')} file")


def _take_two(available: int, n_first: int, n_second: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random index sets of the wanted sizes, shrunk in proportion when the files hold fewer."""
    if n_first + n_second > available:
        n_second = min(n_second, max(1, int(round(available * n_second / (n_first + n_second)))))
        n_first = available - n_second
    if n_first < 1:
        raise InputError(f"the training files hold only {available} samples; at least 2 are needed")
    perm = rng.permutation(available)
    return perm[:n_first], perm[n_first:n_first + n_second]
