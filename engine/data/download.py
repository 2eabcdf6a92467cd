"""Full MNIST, Fashion-MNIST and CIFAR-10: downloaded once into a cache every session shares, then used offline.

Where from and the checksums are torchvision's (``MNIST.mirrors``/``resources`` and the like, read at call time).
A download holds a per-dataset lock (other callers wait, then find it done), writes each file under a temporary
name, checks its length and MD5, and only then renames it into place: a file under its final name is always
whole. Archives are extracted the same way (to a temporary name, then renamed), with torchvision's extractor.
"""
from __future__ import annotations

import contextlib
import errno
import http.client
import importlib
import os
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from engine.errors import InputError

try:
    import fcntl
except ImportError:  # not POSIX: threads of one server are still kept apart (see _lock)
    fcntl = None

CACHE_ENV = "PLAYGROUND_DATA_DIR"
DEFAULT_CACHE = Path("data") / "cache"
TIMEOUT = 30.0  # seconds without an answer before a mirror counts as unreachable
CHUNK = 1 << 16
# CIFAR-10's binary version (torchvision downloads the pickle version, which this app never unpickles): the same
# server as ``torchvision.datasets.CIFAR10.url``; the MD5 is the one the dataset's page publishes.
CIFAR_BINARY = ("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530")
CIFAR_FOLDER = "cifar-10-batches-bin"
FALLBACK = ('Use the bundled 5,000-image subset (dataset "mnist", no download), or copy the files into a folder in '
            "the server's data folder and give its name as the folder option")

Progress = Callable[[int, int], None]


class DownloadError(InputError):
    """A dataset could not be downloaded or cached: no network, every mirror failing, a full or read-only disk."""


@dataclass(frozen=True)
class Source:
    """Where a dataset's files come from and where they go in torchvision's folder layout."""

    title: str
    subfolder: str  # under the cache root: "MNIST/raw", "FashionMNIST/raw", "" for CIFAR-10
    files: tuple[tuple[str, str], ...]  # (file name, MD5)
    mirrors: tuple[str, ...]  # base URLs, tried in order


def source(name: str) -> Source:
    """The files of "mnist-full", "fashion-mnist" or "cifar10", as torchvision lists them now."""
    datasets = torchvision().datasets
    if name == "cifar10":
        base = datasets.CIFAR10.url.rsplit("/", 1)[0] + "/"
        return Source("CIFAR-10", "", (CIFAR_BINARY,), (base,))
    cls = {"mnist-full": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST}[name]
    return Source({"mnist-full": "MNIST", "fashion-mnist": "Fashion-MNIST"}[name], f"{cls.__name__}/raw",
                  tuple(tuple(r) for r in cls.resources), tuple(cls.mirrors))


def cache_root() -> Path:
    """The shared cache folder: ``$PLAYGROUND_DATA_DIR``, else ./data/cache."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def cached(name: str, root: Path | None = None) -> bool:
    """Whether a dataset's files are all in the cache (only whole, verified files ever get their final name)."""
    src, root = source(name), Path(root or cache_root())
    return all((root / src.subfolder / f).is_file() for f, _ in src.files)


def download(name: str, progress: Progress | None = None, root: Path | None = None) -> Path:
    """Download what is missing of a dataset into the cache, verify every file, extract the archives.

    Already cached files are checked against their MD5 (a corrupt one is removed and fetched again), so the
    call is cheap when everything is there and works offline then.

    Args:
        name: "mnist-full", "fashion-mnist" or "cifar10".
        progress: called as ``progress(done_bytes, total_bytes)`` while downloading (total 0 while unknown).
        root: the cache folder (default ``cache_root()``).

    Returns:
        The cache root, holding the dataset in torchvision's layout.

    Raises:
        DownloadError: no network or every mirror failing (with what to do instead), or the cache folder
            full or not writable.
    """
    src, root = source(name), Path(root or cache_root())
    folder = root / src.subfolder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _disk_error(exc, root, src) from None
    with _lock(root, name):
        _remove_partial(folder)
        missing = [(f, md5) for f, md5 in src.files if not _verified(folder / f, md5)]
        if missing:
            _fetch_all(src, folder, missing, progress)
        _extract(src, folder)
    return root


def torchvision():
    """torchvision, imported on first use (it takes seconds) and importable next to a CPU-only torch.

    PyPI's torchvision wheel is built against CUDA torch; next to a CPU build its C++ operators cannot load,
    and its import then stops where it registers shapes for ``torchvision::nms`` and ``qnms``. Declaring those
    two schemas lets the pure-Python parts (datasets, checksums, extraction) import; the operators stay absent.
    """
    with _IMPORT_LOCK:  # another thread may be half-way through the import: wait for it, then it is instant
        try:
            import torchvision as tv  # lazy: it takes seconds, and only a download needs it
        except ImportError:
            raise DownloadError(f"downloads need the torchvision package, which is not installed: run pip install "
                                f"-r requirements.txt. {FALLBACK}") from None
        except RuntimeError as exc:
            if "torchvision::" not in str(exc):
                raise
            global _SCHEMAS
            _SCHEMAS = torch.library.Library("torchvision", "DEF")  # kept: dropping it would undefine the ops
            for op in ("nms", "qnms"):
                _SCHEMAS.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            import torchvision as tv  # again, now that its operators' schemas exist
        importlib.import_module("torchvision.datasets")  # the submodule this module uses, as ``tv.datasets``
    return tv


_IMPORT_LOCK = threading.Lock()
_SCHEMAS = None
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def _lock(root: Path, name: str):
    """One download per dataset: a lock for this process's threads and a file lock for other processes."""
    with _THREAD_LOCKS_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(f"{root.resolve()}:{name}", threading.Lock())
    with thread_lock:
        if fcntl is None:
            yield
            return
        with open(root / f".{name}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_partial(folder: Path) -> None:
    """Temporary files of a download that was cut off (the lock is held, so none is in progress)."""
    for leftover in folder.glob("*.part-*"):
        with contextlib.suppress(OSError):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()


def _verified(path: Path, md5: str) -> bool:
    """The file exists with the right MD5; a file that fails is removed (and its extracted copy with it)."""
    if not path.is_file():
        return False
    if torchvision().datasets.utils.check_integrity(str(path), md5):
        return True
    path.unlink(missing_ok=True)
    if path.name.endswith(".tar.gz"):
        shutil.rmtree(path.parent / CIFAR_FOLDER, ignore_errors=True)
    else:
        _extracted(path).unlink(missing_ok=True)
    return False


def _extracted(archive: Path) -> Path:
    """Where a .gz file's contents go: its name without .gz (as torchvision's MNIST expects)."""
    return archive.with_name(archive.name.removesuffix(".gz"))


def _fetch_all(src: Source, folder: Path, files: list[tuple[str, str]], progress: Progress | None) -> None:
    sizes = [_remote_size(src.mirrors, f) for f, _ in files]
    total, done = sum(s or 0 for s in sizes), 0
    started = time.monotonic()
    for (filename, md5), size in zip(files, sizes):
        problems = []
        for mirror in src.mirrors:
            try:
                got = _fetch(mirror + filename, folder / filename, md5,
                             lambda n: progress(done + n, max(total, done + n)) if progress else None)
            except _Unreachable as exc:
                problems.append(f"{_host(mirror)}: {exc}")
                continue
            except OSError as exc:  # writing into the cache, not the network
                raise _disk_error(exc, folder, src, size) from None
            done += got
            break
        else:
            raise DownloadError(f"{src.title} could not be downloaded ({'; '.join(problems)}) after "
                                f"{time.monotonic() - started:.0f} s. The server may have no internet access. "
                                f"{FALLBACK} (layout: <folder>/{src.subfolder or CIFAR_FOLDER}/…)")


class _Unreachable(Exception):
    """This mirror did not deliver the file (no connection, an HTTP error, a cut-off or altered file)."""


def _fetch(url: str, target: Path, md5: str, on_bytes: Callable[[int], None]) -> int:
    """One file to a temporary name, its length and MD5 checked, then renamed into place; returns its size."""
    tmp = target.with_name(f"{target.name}.part-{os.getpid()}-{threading.get_ident()}")
    request = urllib.request.Request(url, headers={"User-Agent": "nn-playground"})
    try:
        with open(tmp, "wb") as out:
            try:
                response = urllib.request.urlopen(request, timeout=TIMEOUT)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                raise _Unreachable(_reason(exc)) from None
            with response:
                expected, got = response.headers.get("Content-Length"), 0
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except (http.client.HTTPException, OSError) as exc:
                        raise _Unreachable(f"the connection broke after {got:,} bytes ({_reason(exc)})") from None
                    if not chunk:
                        break
                    out.write(chunk)  # an OSError here is the disk's: the caller reports it as such
                    got += len(chunk)
                    on_bytes(got)
        if expected is not None and got != int(expected):
            raise _Unreachable(f"the download stopped after {got:,} of {int(expected):,} bytes")
        if not torchvision().datasets.utils.check_md5(str(tmp), md5):
            raise _Unreachable(f"{target.name} failed its MD5 checksum (an incomplete or altered file)")
        os.replace(tmp, target)
        return got
    finally:
        tmp.unlink(missing_ok=True)


def _remote_size(mirrors: tuple[str, ...], filename: str) -> int | None:
    """The file's size from a HEAD request to the first mirror that answers, for the progress total."""
    for mirror in mirrors:
        request = urllib.request.Request(mirror + filename, method="HEAD", headers={"User-Agent": "nn-playground"})
        try:
            with urllib.request.urlopen(request, timeout=min(TIMEOUT, 5.0)) as response:
                length = response.headers.get("Content-Length")
                return int(length) if length else None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError):
            continue
    return None


def _extract(src: Source, folder: Path) -> None:
    """Unpack each archive into a temporary folder, then rename: an interrupted unpack leaves nothing behind."""
    for filename, _ in src.files:
        archive = folder / filename
        target = folder / CIFAR_FOLDER if filename.endswith(".tar.gz") else _extracted(archive)
        if target.exists():
            continue
        tmp = folder / f"{filename}.unpacked.part-{os.getpid()}-{threading.get_ident()}"
        try:
            tmp.mkdir()
            torchvision().datasets.utils.extract_archive(str(archive), str(tmp))
            os.replace(tmp / target.name, target)
        except OSError as exc:
            raise _disk_error(exc, folder, src) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def remove_extracted(name: str, root: Path | None = None) -> None:
    """Remove a dataset's unpacked files (not its verified archives): the next ``download`` unpacks them anew."""
    src, root = source(name), Path(root or cache_root())
    folder = root / src.subfolder
    with _lock(root, name):
        for filename, _ in src.files:
            if filename.endswith(".tar.gz"):
                shutil.rmtree(folder / CIFAR_FOLDER, ignore_errors=True)
            else:
                _extracted(folder / filename).unlink(missing_ok=True)


def _disk_error(exc: OSError, where: Path, src: Source, size: int | None = None) -> DownloadError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        need = f" ({size / 1e6:,.0f} MB for this file)" if size else ""
        return DownloadError(f"the disk holding the dataset cache {where} is full{need}, so {src.title} cannot be "
                             f"saved: free some space, or set {CACHE_ENV} to a folder on a larger disk. {FALLBACK}")
    return DownloadError(f"{src.title} cannot be saved in the dataset cache {where} ({exc.strerror or exc}): make "
                         f"the folder writable, or set {CACHE_ENV} to one that is. {FALLBACK}")


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(getattr(reason, "strerror", None) or reason)[:120]


def progress_text(done: int, total: int, seconds: float) -> str:
    """What a progress bar says, e.g. "3.1 of 11.6 MB, about 4 s left" (no time until a rate is known)."""
    text = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
    if total and done and seconds > 0.5:
        text += f", about {(total - done) * seconds / done:.0f} s left"
    return text
