"""The data tests write dataset folders under pytest's temporary folder: the server lets the "folder" option
read there."""
import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def temporary_folders_are_data_folders(tmp_path_factory):
    before = os.environ.get("PLAYGROUND_DATA_FOLDERS")
    os.environ["PLAYGROUND_DATA_FOLDERS"] = str(tmp_path_factory.getbasetemp())
    yield
    if before is None:
        os.environ.pop("PLAYGROUND_DATA_FOLDERS", None)
    else:
        os.environ["PLAYGROUND_DATA_FOLDERS"] = before
