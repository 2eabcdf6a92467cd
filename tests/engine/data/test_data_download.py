"""The download cache, against a local HTTP server standing in for torchvision's mirrors (never the internet):
progress, the lock, checksums, offline use, and every way a download or the cache can go wrong."""
from __future__ import annotations

import errno
import gzip
import hashlib
import http.server
import io
import socket
import tarfile
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import InputError, data
from engine.data import download
from tests.engine.data.test_data import cifar_batch, idx_bytes, trace, unique_images

FILES = {"train-images-idx3-ubyte": unique_images(30, 0), "train-labels-idx1-ubyte": np.arange(30, dtype=np.uint8) % 10,
         "t10k-images-idx3-ubyte": unique_images(10, 1000), "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8) % 10}


class Mirror(http.server.ThreadingHTTPServer):
    """Serves ``files`` (name -> bytes) from memory, counts GETs, and can cut a file short."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files: dict[str, bytes] = {}
        self.gets: Counter = Counter()
        self.cut: set[str] = set()  # files sent with a Content-Length larger than what follows

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class Handler(http.server.BaseHTTPRequestHandler):
    def _send(self, body: bool):
        name = self.path.lstrip("/")
        raw = self.server.files.get(name)
        if raw is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw) + (100 if name in self.server.cut else 0)))
        self.end_headers()
        if body:
            self.server.gets[name] += 1
            self.wfile.write(raw)
            self.close_connection = True

    def do_GET(self):  # noqa: N802 - http.server's name
        self._send(True)

    def do_HEAD(self):  # noqa: N802
        self._send(False)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(monkeypatch, tmp_path):
    """Tiny gzipped MNIST files on 127.0.0.1, torchvision's mirror list and MD5s pointed at them, an empty cache."""
    server = Mirror()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    resources = []
    for name, array in FILES.items():
        raw = gzip.compress(idx_bytes(array))
        server.files[name + ".gz"] = raw
        resources.append((name + ".gz", hashlib.md5(raw).hexdigest()))
    mnist = download.torchvision().datasets.MNIST
    monkeypatch.setattr(mnist, "mirrors", [server.url])
    monkeypatch.setattr(mnist, "resources", resources)
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / "cache"))
    yield server
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"  # nothing listens once the socket is closed


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".part-" in p.name]


def test_first_use_downloads_with_progress_then_loads_offline(mirror, monkeypatch, tmp_path):
    assert data.needs_download("mnist-full") and not data.needs_download("mnist")
    calls = []
    root = data.download_dataset("mnist-full", progress=lambda done, total: calls.append((done, total)))
    size = sum(len(raw) for raw in mirror.files.values())
    assert calls[-1] == (size, size) and all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    assert root == tmp_path / "cache" and (root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()  # torchvision's
    assert not data.needs_download("mnist-full") and not leftovers(root)
    monkeypatch.setattr(download.torchvision().datasets.MNIST, "mirrors", [closed_port_url()])  # offline from now on
    ds = data.load("mnist-full", seed=2, n_train=20, n_val=5, n_test=10, pad=2)
    assert ds.sizes() == {"train": 20, "val": 5, "test": 10} and ds.input_shape == (1, 32, 32)
    inner = ds.x_test[:, :, 2:-2, 2:-2]  # the padding is blank, the image inside it the served one
    assert float(ds.x_test.abs().sum()) == pytest.approx(float(inner.abs().sum()))
    rows = trace(inner) - 1000
    assert torch.allclose(inner[:, 0], torch.tensor(FILES["t10k-images-idx3-ubyte"][rows] / 255.0, dtype=torch.float32))
    assert np.array_equal(ds.y_test.numpy(), FILES["t10k-labels-idx1-ubyte"][rows])
    assert "downloaded into the cache" in ds.description and sum(mirror.gets.values()) == 4


def test_one_download_at_a_time_the_others_wait_and_find_it_done(mirror):
    errors = []

    def fetch():
        try:
            data.download_dataset("mnist-full")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and set(mirror.gets.values()) == {1}  # each file fetched once


def test_no_network_is_a_clear_error_offering_the_subset_and_a_folder(mirror, monkeypatch, tmp_path):
    monkeypatch.setattr(download.torchvision().datasets.MNIST, "mirrors", [closed_port_url()])
    with pytest.raises(download.DownloadError, match="could not be downloaded") as err:
        data.load("mnist-full")
    assert isinstance(err.value, InputError)
    assert 'bundled 5,000-image subset (dataset "mnist"' in str(err.value) and "folder" in str(err.value)
    assert "MNIST/raw" in str(err.value) and not leftovers(tmp_path)


def test_a_cut_off_download_tries_the_next_mirror_and_leaves_nothing(mirror, monkeypatch, tmp_path):
    cut = Mirror()
    threading.Thread(target=cut.serve_forever, daemon=True).start()
    try:
        cut.files, cut.cut = dict(mirror.files), set(mirror.files)
        mnist = download.torchvision().datasets.MNIST
        monkeypatch.setattr(mnist, "mirrors", [cut.url])
        with pytest.raises(download.DownloadError, match="stopped after"):
            data.download_dataset("mnist-full")
        assert not leftovers(tmp_path) and not (tmp_path / "cache" / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").exists()
        monkeypatch.setattr(mnist, "mirrors", [cut.url, mirror.url])  # the second mirror delivers
        assert data.load("mnist-full").sizes()["test"] == 10
    finally:
        cut.shutdown()
        cut.server_close()


def test_an_altered_file_fails_its_checksum_and_is_not_kept(mirror, tmp_path):
    mirror.files["t10k-labels-idx1-ubyte.gz"] = gzip.compress(b"altered")
    with pytest.raises(download.DownloadError, match="MD5 checksum"):
        data.download_dataset("mnist-full")
    raw = tmp_path / "cache" / "MNIST" / "raw"
    assert not (raw / "t10k-labels-idx1-ubyte.gz").exists() and not leftovers(tmp_path)
    assert (raw / "train-images-idx3-ubyte.gz").is_file()  # the good files are kept: the next try fetches one


def test_a_half_finished_download_left_by_a_killed_process_is_cleaned_up(mirror, tmp_path):
    raw = tmp_path / "cache" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz.part-999-1").write_bytes(b"half")
    data.download_dataset("mnist-full")
    assert not leftovers(tmp_path)


def test_a_corrupt_cached_archive_is_replaced_or_removed(mirror, monkeypatch, tmp_path):
    data.download_dataset("mnist-full")
    archive = tmp_path / "cache" / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    archive.write_bytes(b"garbage")
    assert data.load("mnist-full").sizes()["train"] > 0 and mirror.gets["train-labels-idx1-ubyte.gz"] == 2
    archive.write_bytes(b"garbage")
    monkeypatch.setattr(download.torchvision().datasets.MNIST, "mirrors", [closed_port_url()])
    with pytest.raises(download.DownloadError, match="could not be downloaded"):
        data.load("mnist-full")
    assert not archive.exists()  # removed: the next start downloads it instead of tripping over it


def test_a_damaged_unpacked_file_is_unpacked_again_without_the_network(mirror, monkeypatch, tmp_path):
    data.download_dataset("mnist-full")
    unpacked = tmp_path / "cache" / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    unpacked.write_bytes(unpacked.read_bytes()[:100])
    monkeypatch.setattr(download.torchvision().datasets.MNIST, "mirrors", [closed_port_url()])
    assert data.load("mnist-full").sizes()["test"] == 10 and sum(mirror.gets.values()) == 4


def test_a_full_disk_is_named_with_what_to_do(mirror, monkeypatch, tmp_path):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(download.torchvision().datasets.utils, "extract_archive", no_space)
    with pytest.raises(download.DownloadError, match="is full") as err:
        data.download_dataset("mnist-full")
    assert download.CACHE_ENV in str(err.value) and not leftovers(tmp_path)
    monkeypatch.undo()
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(download.torchvision().datasets.MNIST, "mirrors", [closed_port_url()])
    monkeypatch.setattr(download.torchvision().datasets.MNIST, "resources",
                        [(n, hashlib.md5(r).hexdigest()) for n, r in mirror.files.items()])
    assert data.load("mnist-full").sizes()["test"] == 10  # the verified archives were kept: no new download


def test_cifar10_downloads_its_binary_version(mirror, monkeypatch):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, (n, offset) in {"data_batch_1.bin": (14, 0), "test_batch.bin": (6, 1000)}.items():
            raw = cifar_batch(n, offset)[0]
            info = tarfile.TarInfo(f"{download.CIFAR_FOLDER}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    archive = buffer.getvalue()
    mirror.files[download.CIFAR_BINARY[0]] = archive
    monkeypatch.setattr(download.torchvision().datasets.CIFAR10, "url", mirror.url + "cifar-10-python.tar.gz")
    monkeypatch.setattr(download, "CIFAR_BINARY", (download.CIFAR_BINARY[0], hashlib.md5(archive).hexdigest()))
    ds = data.load("cifar10", n_train=10, n_val=4, n_test=6)
    assert ds.input_shape == (3, 32, 32) and ds.sizes() == {"train": 10, "val": 4, "test": 6}
    assert sorted(trace(ds.x_test) - 1000) == list(range(6))


def test_a_folder_in_torchvisions_layout(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, array in FILES.items():
        (raw / (name + ".gz")).write_bytes(gzip.compress(idx_bytes(array)))
    ds = data.load("fashion-mnist", folder=str(tmp_path), n_train=20, n_val=5, n_test=10)
    assert ds.classes[9] == "Ankle boot" and ds.sizes() == {"train": 20, "val": 5, "test": 10}
    assert "read from the IDX files" in ds.description
    with pytest.raises(InputError, match="nor has .*MNIST/raw .torchvision's layout"):
        data.load("mnist-full", folder=str(tmp_path / "FashionMNIST"))


def test_progress_text():
    assert download.progress_text(3_100_000, 11_600_000, 2.0) == "3.1 of 11.6 MB, about 5 s left"
    assert download.progress_text(1_000_000, 0, 2.0) == "1.0 MB"
