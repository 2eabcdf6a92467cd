"""Workspace files from outside: every broken or hostile file is refused with a clear message, storing nothing."""
import io
import json
import os
import pickle
import struct
import zipfile

import pytest
import torch
from sqlalchemy import func, select
from ws_helpers import run, zip_of

import engine
from engine import limits
from engine.training import save_weights
from engine.workspace import BadWorkspaceFile, CapReached
from engine.workspace.schema import WorkspaceRow

MARKER = "/tmp/workspace-test-unpickled"


class Payload:
    """Writes a marker file if it is ever unpickled."""

    def __reduce__(self):
        return (open, (MARKER, "w"))


@pytest.fixture
def valid(store, trained):
    """The members of a good workspace file: a session model and one run with weights."""
    token = store.create(spec=trained.spec, settings={"a": 1})
    store.save(token, model={"run": 1}, model_weights=trained.weights)
    store.save_run(token, run(1, trained))
    archive = zipfile.ZipFile(io.BytesIO(store.export_zip(token)))
    return {name: archive.read(name) for name in archive.namelist()}


def workspaces(store) -> int:
    with store.db.reading() as session:
        return session.scalar(select(func.count()).select_from(WorkspaceRow))


def refused(store, data, match, error=BadWorkspaceFile):
    before = workspaces(store)
    with pytest.raises(error, match=match):
        store.import_zip(data)
    assert workspaces(store) == before  # nothing stored


def manifest(members, **changes):
    doc = json.loads(members["workspace.json"])
    doc.update(changes)
    return {**members, "workspace.json": json.dumps(doc)}


def other_weights(width=16):
    spec = engine.ModelSpec.from_dict({"input": [2], "layers": [
        {"type": "Linear", "out_features": width}, {"type": "Tanh"}, {"type": "Linear", "out_features": 2}]})
    return save_weights(engine.build(spec))


def test_a_good_file_imports(store, valid):
    assert store.open(store.import_zip(zip_of(valid))).runs[0].has_weights


@pytest.mark.parametrize("data", [b"", b"hello", os.urandom(4096), b"\x89PNG\r\n\x1a\n" + bytes(100)])
def test_not_a_zip(store, data):
    refused(store, data, "not a zip archive")


def test_a_cut_off_zip(store, valid):
    data = zip_of(valid)
    refused(store, data[: len(data) // 2], "not a zip archive|damaged")


@pytest.mark.parametrize("name", ["runs/1.pkl", "model.pt", "weights.pth", "workspace.json.exe", "runs/1.npy"])
def test_members_other_than_json_and_safetensors(store, valid, name):
    refused(store, zip_of({**valid, name: pickle.dumps(Payload())}), "not JSON or safetensors")


def test_pickles_and_torch_files_named_safetensors_are_never_opened(store, valid, trained):
    if os.path.exists(MARKER):
        os.remove(MARKER)
    refused(store, zip_of({**valid, "runs/1.safetensors": pickle.dumps(Payload())}), "not a valid safetensors")
    buffer = io.BytesIO()
    torch.save(trained.model.state_dict(), buffer)  # a zip holding a pickle: refused, not torch.load'ed
    refused(store, zip_of({**valid, "model.safetensors": buffer.getvalue()}), "not a valid safetensors")
    assert not os.path.exists(MARKER)


@pytest.mark.parametrize("name", ["../workspace.json", "/etc/evil.json", "runs/../../evil.safetensors",
                                  "C:\\evil.json", "..\\evil.json"])
def test_paths_that_leave_the_archive(store, valid, name):
    refused(store, zip_of({**valid, name: b"{}"}), "leaves the archive")


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_unexpected_names_and_duplicates(store, valid):
    refused(store, zip_of({**valid, "notes.json": b"{}"}), "unexpected member")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in valid.items():
            archive.writestr(name, data)
        archive.writestr("workspace.json", valid["workspace.json"])
    refused(store, out.getvalue(), "appears twice")


def test_too_many_members(store, valid):
    extra = {f"runs/{n}.safetensors": b"x" for n in range(2, 2 * limits.MAX_RUNS_PER_WORKSPACE + 4)}
    refused(store, zip_of({**valid, **extra}), "members")


def test_a_zip_bomb_is_refused_from_its_headers(store, valid, monkeypatch):
    refused(store, zip_of({**valid, "runs/1.safetensors": bytes(8 << 20)}), "inflates")  # 8 MiB of zeros
    monkeypatch.setattr(limits, "MAX_WORKSPACE_BYTES", 20_000)
    refused(store, zip_of({**valid, "runs/1.safetensors": os.urandom(30_000)}), "would unpack to")


def test_weights_that_compress_too_well_together_are_refused_from_their_headers(store, valid):
    sparse = bytearray(6 << 20)  # 6 MiB, 64 random bytes in every 4 KiB: about 40:1, under the per-member check
    for i in range(0, len(sparse), 4096):
        sparse[i:i + 64] = os.urandom(64)
    refused(store, zip_of({**valid, "runs/1.safetensors": bytes(sparse)}), r"its weights inflate \d\d times")


def understate(data: bytes, name: bytes, size: int) -> bytes:
    """The archive with ``name``'s uncompressed size rewritten to ``size`` in its local and central headers."""
    data = bytearray(data)
    # (signature, offset of the uncompressed size, offset of the name length, header length before the name)
    for signature, size_at, length_at, header in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        at = data.find(signature)
        while at != -1:
            length = struct.unpack_from("<H", data, at + length_at)[0]
            if data[at + header:at + header + length] == name:
                struct.pack_into("<I", data, at + size_at, size)
            at = data.find(signature, at + 4)
    return bytes(data)


def test_a_member_whose_header_understates_its_size_is_refused(store, valid):
    data = understate(zip_of({**valid, "runs/1.safetensors": os.urandom(300_000)}), b"runs/1.safetensors", 100)
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("runs/1.safetensors").file_size == 100
    refused(store, data, "runs/1.safetensors' is damaged")  # reading stopped at 100 bytes: the CRC fails


def test_a_manifest_over_its_cap_is_refused_from_its_header(store, valid, monkeypatch):
    big = manifest(valid, settings={"notes": os.urandom(6_000).hex()})  # ~18 KB, barely compressible
    monkeypatch.setattr(limits, "MAX_MANIFEST_BYTES", 8_000)
    refused(store, zip_of(big), r"workspace.json is \d\d KiB, over the 8 KiB .*PLAYGROUND_MAX_MANIFEST_BYTES")
    # a header that says less: reading stops at the size it gives
    data = understate(zip_of(big), b"workspace.json", 4_000)
    refused(store, data, "workspace.json")


def test_a_manifest_of_empty_objects_is_refused_before_parsing(store, valid, monkeypatch):
    monkeypatch.setattr(limits, "MAX_MANIFEST_BYTES", 64_000)  # at most 1,000 objects and lists
    refused(store, zip_of(manifest(valid, settings={"x": [{}] * 1_200})),
            r"1,\d\d\d JSON objects and lists; a workspace file has at most 1,000")  # 1,200 and the valid ones
    store.import_zip(zip_of(manifest(valid, settings={"x": [{}] * 800})))  # under it with the valid ones: opens


def test_weights_that_do_not_fit_their_network(store, valid):
    refused(store, zip_of({**valid, "runs/1.safetensors": other_weights()}), "run 1's weights do not fit")
    refused(store, zip_of({**valid, "model.safetensors": other_weights()}), "model's weights do not fit")
    refused(store, zip_of({**valid, "runs/1.safetensors": b"\x10\x00\x00\x00\x00\x00\x00\x00{broken"}),
            "not a valid safetensors")


@pytest.mark.parametrize("text, match", [
    (b"{not json", "not valid JSON"), (b"\xff\xfe\x00", "not valid JSON"), (b"[1, 2]", "format"),
    (b'{"format": "something else", "version": 1}', "format"),
    (b'{"format": "nn-playground-workspace", "version": 99}', "version 99"),
    (b'{"format": "nn-playground-workspace", "version": true}', "version True"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON")])
def test_bad_json(store, valid, text, match):
    refused(store, zip_of({**valid, "workspace.json": text}), match)


def test_no_manifest(store, valid):
    refused(store, zip_of({k: v for k, v in valid.items() if k != "workspace.json"}), "no workspace.json")


def test_bad_content_in_the_manifest(store, valid, trained, monkeypatch):
    doc = json.loads(valid["workspace.json"])
    good_run = doc["runs"][0]
    cases = [
        ({"spec": {"input": "two", "layers": []}}, "workspace's network is invalid"),
        ({"settings": [1, 2]}, "settings should be a JSON object"),
        ({"runs": {"1": good_run}}, "should be a list"),
        ({"runs": [{**good_run, "spec": {"layers": 3}}]}, "run 1's network is invalid"),
        ({"runs": [{**good_run, "state": "exploded"}]}, "not one of"),
        ({"runs": [{**good_run, "label": "run\x00 1"}]}, "without NUL"),  # PostgreSQL said "database down"
        ({"runs": [{**good_run, "number": "1"}]}, "whole number"),
        ({"runs": [good_run, good_run]}, "two runs are numbered 1"),
        ({"runs": [{**good_run, "records": [{"x": {"__ndarray__": [1], "dtype": "O", "shape": None}}]}]},
         "records are malformed"),
        ({"runs": [{**good_run, "records": [{"x": {"__ndarray__": [1, 2], "dtype": "<f4", "shape": [3]}}]}]},
         "records are malformed"),
        ({"runs": [{**good_run, "records": [1, 2]}]}, "list of JSON objects"),
        ({"runs": [{**good_run, "number": 2}]}, "run 1, which workspace.json does not list"),
    ]
    for changes, match in cases:
        refused(store, zip_of(manifest(valid, **changes)), match)
    monkeypatch.setattr(limits, "MAX_RUNS_PER_WORKSPACE", 1)
    refused(store, zip_of(manifest(valid, runs=[good_run, {**good_run, "number": 2}])),
            "PLAYGROUND_MAX_RUNS_PER_WORKSPACE", CapReached)
