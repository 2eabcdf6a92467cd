"""The dataset "folder" option reads only below the server's data folders; anywhere else gets one message that
tells nothing about what is there (whether it exists, is a file, or holds a dataset)."""
import os
from pathlib import Path

import pytest

from engine import InputError, data
from tests.engine.data.test_data import write_mnist


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A data folder (the cache root) with mnist/ in it, and next to it folders a student must not probe."""
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    for folder in (root / "mnist", outside / "mnist"):
        folder.mkdir(parents=True)
        write_mnist(folder)
    (outside / "secret.txt").write_text("x")
    (outside / "empty").mkdir()
    (root / "link-out").symlink_to(outside / "mnist")
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(root))
    monkeypatch.delenv("PLAYGROUND_DATA_FOLDERS", raising=False)
    monkeypatch.setenv("HOME", str(outside))
    return root, outside


def _refusal(folder) -> str:
    with pytest.raises(InputError) as refused:
        data.load("mnist-full", folder=folder)
    return str(refused.value).replace(repr(str(folder).strip()[:80]), "<given>")


def test_a_folder_in_the_data_folder_is_read_by_name_or_path(server):
    root, _ = server
    assert data.load("mnist-full", folder="mnist").sizes()["test"] == 12
    assert data.load("mnist-full", folder=str(root / "mnist")).sizes()["test"] == 12


def test_folders_outside_get_one_message_whatever_is_there(server):
    root, outside = server
    probes = [outside / "mnist", outside / "secret.txt", outside / "empty", outside / "nothing-here",
              "../elsewhere/mnist", "link-out", "/etc", "/", "mnist/../../elsewhere/mnist", "a\0b"]
    messages = {_refusal(p) for p in probes}
    assert len(messages) == 1, messages
    message = messages.pop()
    assert "data folder" in message and str(root) in message
    for leak in ("exist", "is a file", "train-images", "elsewhere", str(outside)):
        assert leak not in message, message
    home = _refusal("~/mnist")  # ~ is a folder name like any other: never the server user's home (here: outside)
    assert str(root / "~" / "mnist") in home and str(outside) not in home


def test_inside_the_data_folder_the_message_says_what_is_wrong(server):
    root, _ = server
    (root / "notes.txt").write_text("x")
    (root / "empty").mkdir()
    assert "does not exist" in _refusal("nothing-here")
    assert "is a file" in _refusal("notes.txt")
    assert "train-images" in _refusal("empty")


def test_more_data_folders_can_be_configured(server, tmp_path, monkeypatch):
    _, outside = server
    monkeypatch.setenv("PLAYGROUND_DATA_FOLDERS", os.pathsep.join([str(tmp_path / "none"), str(outside)]))
    assert data.load("mnist-full", folder=str(outside / "mnist")).sizes()["test"] == 12
    assert Path(outside).resolve() in data.files.data_roots()
