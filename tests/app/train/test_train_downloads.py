"""Train page downloads in AppTest, never from the internet (``data.download_dataset`` is replaced): a progress bar
with bytes and the time left, Start downloading first and then training, and an offline DownloadError shown as
its message with the bundled subset offered."""
import time

import pytest

from engine import data
from engine.data.download import FALLBACK
from tests.app.train.test_train import runs
from tests.app.train.test_train_autoencoder import open_train, stop_all
from ui.train import controls, dataset_picker

TOTAL = 3_000_000  # bytes the pretend download delivers


@pytest.fixture
def page():
    at = open_train("autoencoder")
    at.selectbox(key="tr-dataset").set_value("mnist-full").run()
    assert not at.exception
    yield at
    stop_all(at)


@pytest.fixture
def texts(monkeypatch):
    """What the page wrote on its progress bar, through ``data.progress_text``."""
    seen = []
    original = data.progress_text

    def spy(done, total, seconds):
        seen.append(original(done, total, seconds))
        return seen[-1]
    monkeypatch.setattr(data, "progress_text", spy)
    return seen


def _offline(name, progress=None):
    raise data.DownloadError(f"MNIST could not be downloaded (ossci-datasets.s3.amazonaws.com: no route to host) "
                             f"after 0 s. The server may have no internet access. {FALLBACK}")


def _downloads(calls: list):
    """A download that delivers TOTAL bytes in four chunks over about a second."""
    def download(name, progress=None):
        calls.append(name)
        for done in range(0, TOTAL + 1, TOTAL // 3):
            progress(done, TOTAL)
            time.sleep(0.3)
        return data.cache_root()
    return download


def test_a_dataset_not_yet_cached_offers_a_download_with_progress(page, texts, monkeypatch):
    calls = []
    monkeypatch.setattr(data, "download_dataset", _downloads(calls))
    assert data.needs_download("mnist-full")  # the tests' cache folder is empty
    assert any("Not downloaded yet" in c.value for c in page.caption)
    page.button(key="tr-download").click().run()
    assert calls == ["mnist-full"] and not page.exception and not page.error
    assert texts[0] == "1.0 of 3.0 MB" and texts[-1].startswith("3.0 of 3.0 MB")
    assert any("s left" in t for t in texts)  # the time left, once a rate is known
    bar = page.get("progress")[-1].proto
    assert bar.value == 100 and "Downloaded mnist-full: 3.0 MB" in bar.text
    assert not runs(page)  # downloading alone starts nothing


def test_start_downloads_the_data_first_then_trains(page, monkeypatch):
    calls = []
    monkeypatch.setattr(data, "download_dataset", _downloads(calls))
    bundled = data.load("mnist")  # stands in for the downloaded files, read once the download is done
    monkeypatch.setattr(controls, "load_dataset", lambda name, seed, options: bundled)
    page.number_input(key="tr-epochs").set_value(1).run()
    page.button(key="tr-start").click().run()
    assert calls == ["mnist-full"] and not page.exception
    assert len(runs(page)) == 1 and runs(page)[0].config.dataset == "mnist-full"
    assert runs(page)[0].trainer.dataset.task == "reconstruction"


def test_offline_the_error_offers_the_bundled_subset_and_a_folder(page, monkeypatch):
    monkeypatch.setattr(data, "download_dataset", _offline)
    page.button(key="tr-start").click().run()
    assert not page.exception and not runs(page)
    message = " ".join(e.value for e in page.error)
    assert message.startswith("Cannot download mnist-full") and '"mnist"' in message and "folder" in message
    page.button(key="tr-use-bundled").click().run()
    assert page.selectbox(key="tr-dataset").value == "mnist" and not page.exception
    assert not page.error


def test_a_folder_of_files_is_never_downloaded(page, monkeypatch):
    monkeypatch.setattr(data, "download_dataset", _offline)
    assert dataset_picker.must_download("mnist-full", {"folder": ""})
    page.text_input(key="tr-ds-mnist-full-folder").input("/nowhere/mnist").run()
    assert any("Read from the folder" in c.value for c in page.caption)
    page.button(key="tr-start").click().run()
    message = " ".join(e.value for e in page.error)
    assert "Cannot start" in message and "/nowhere/mnist" in message and not page.exception
