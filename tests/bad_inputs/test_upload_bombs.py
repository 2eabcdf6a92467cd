"""Memory bombs by upload: a few MB that would inflate to hundreds of MB inside a parser are refused first.

Each hostile file is written to disk by streaming (the test itself never holds the inflated bytes) and imported in
a fresh Python process, which reports how far its peak RSS rose during the import (``/proc/self/status``'s VmHWM,
reset through ``/proc/self/clear_refs``; psutil is not a dependency) and the CPU time the import held. Bounds, from
issue 17: the RSS may grow by at most 300 MB, and the refusal may hold the CPU for at most one second (generous:
refused from the zip's headers, it takes milliseconds; before the caps these files took 1.2-4.8 s of CPU and
540-565 MB, and the issue's 240 MiB manifest 30 s and 6.5 GB).
"""
import json
import math
import os
import random
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parents[2]
MAX_GROWTH = 300 * 10 ** 6
MAX_CPU_SECONDS = 1.0
pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")

# Runs in the child: for each (kind, path) read the file, reset the peak, import it, report.
_CHILD = r"""
import json, sys, time
import engine
from engine.workspace import files
from engine.training import load_weights

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

model = engine.build(engine.network.presets.get("toy-mlp"), seed=0)
reports = {}
for kind, path in zip(sys.argv[1::2], sys.argv[2::2]):
    data = open(path, "rb").read()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak RSS starts again from here
    base, cpu = status("VmRSS"), time.process_time()
    try:
        files.read(data) if kind.startswith("workspace") else load_weights(model, data)
        error = None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    reports[kind] = {"error": error, "grew": status("VmHWM") - base, "cpu": time.process_time() - cpu}
    del data
print(json.dumps(reports))
"""


def _import_in_child(paths: dict[str, Path]) -> dict:
    """Import each file (kind -> path) in one fresh process (starting it takes most of the time); its reports."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [str(part) for kind, path in paths.items() for part in (kind, path)]
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True,
                          timeout=180, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _records_chunk(rng: random.Random, size: int) -> bytes:
    """About ``size`` bytes of step records as the engine writes them, with a few random digits each."""
    parts, total, step = [], 0, 0
    while total < size:
        loss, norm = f"0.{rng.randrange(10 ** 5):05d}", f"{rng.randrange(10 ** 3)}.5"
        part = (f'{{"train_loss":{loss},"train_acc":1.0,"grad_norm":{{"0 Linear":{norm},"2 Linear":0.25,'
                f'"4 Linear":0.125}},"kind":"step","step":{step},"epoch":0.5,"val_loss":null,"val_acc":null,'
                f'"lr":0.001,"elapsed":2.5,"eta":0.5}},')
        parts.append(part)
        total, step = total + len(part), step + 1
    return "".join(parts).encode()


def _manifest_bomb(path: Path, size: int) -> None:
    """A workspace file whose workspace.json is ``size`` bytes of valid records, compressing about 17:1."""
    spec = engine.network.presets.get("toy-mlp").to_dict()
    head = json.dumps({"format": "nn-playground-workspace", "version": 1, "spec": spec, "settings": None,
                       "model": None})[:-1]
    run = json.dumps({"number": 1, "group": "train", "label": "x", "spec": spec, "config": {}, "state": "finished",
                      "results": None, "context": None})[:-1]
    chunk = _records_chunk(random.Random(0), 1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("workspace.json", "w", force_zip64=True) as member:
            member.write(f'{head},"runs":[{run},"records":['.encode())
            for _ in range(-(-size // len(chunk))):
                member.write(chunk)
            member.write(b'{"kind":"step","step":0}]}]}')


def _weights_bomb(path: Path, side: int) -> None:
    """A workspace file whose model.safetensors fits its two side×side Linear layers and compresses about 80:1."""
    spec = {"input": [side], "layers": [{"type": "Linear", "out_features": side}] * 2}
    header, offset = {}, 0
    for name, shape in (("0.weight", [side, side]), ("0.bias", [side]), ("1.weight", [side, side]),
                        ("1.bias", [side])):
        size = 4 * math.prod(shape)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    rng = random.Random(0)
    page = bytearray(1 << 16)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("workspace.json", json.dumps({"format": "nn-playground-workspace", "version": 1,
                                                       "spec": spec, "settings": None, "model": None, "runs": []}))
        with archive.open("model.safetensors", "w", force_zip64=True) as member:
            member.write(struct.pack("<Q", len(head)) + head)
            for start in range(0, offset, len(page)):
                for i in range(0, len(page), 4096):  # 40 random bytes in 4 KiB: under the per-member check
                    page[i:i + 40] = rng.randbytes(40)
                member.write(page[:offset - start])


def _storage_bomb(path: Path, numel: int) -> None:
    """A torch.save'd state_dict whose one tensor's storage is ``numel`` zero floats, deflated inside the zip."""
    import io

    import torch

    saved = io.BytesIO()
    torch.save({"0.weight": torch.zeros(12345)}, saved)
    source = zipfile.ZipFile(saved)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for info in source.infolist():
            if info.filename.endswith("/data.pkl"):  # the tensor's size and storage length: 12345 -> numel
                archive.writestr(info.filename, source.read(info).replace(b"M90", b"J" + struct.pack("<i", numel)))
            elif info.filename.endswith("/data/0"):
                with archive.open(info.filename, "w", force_zip64=True) as member:
                    zeros = bytes(1 << 20)
                    for _ in range(numel * 4 >> 20):
                        member.write(zeros)
            else:
                archive.writestr(info.filename, source.read(info))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Both bombs, written to disk and imported in one child process."""
    folder = tmp_path_factory.mktemp("bombs")
    _manifest_bomb(folder / "bomb.zip", 64 << 20)
    _storage_bomb(folder / "bomb.pt", 128 << 20)  # 512 MiB of storage in a ~2 MB file
    _weights_bomb(folder / "weights.zip", 4096)  # 128 MiB of weights in a 1.7 MB file
    paths = {"workspace": folder / "bomb.zip", "weights": folder / "bomb.pt", "workspace weights": folder /
             "weights.zip"}
    return {"paths": paths, **_import_in_child(paths)}


def test_a_workspace_file_with_a_huge_manifest_is_refused_before_parsing(reports):
    info = zipfile.ZipFile(reports["paths"]["workspace"]).getinfo("workspace.json")
    assert info.file_size >= 64 << 20 and 10 < info.file_size / info.compress_size < 100  # under the ratio check
    report = reports["workspace"]
    assert report["error"] and "BadWorkspaceFile" in report["error"], report
    assert "workspace.json" in report["error"] and "PLAYGROUND_MAX_MANIFEST_BYTES" in report["error"], report
    assert report["grew"] < MAX_GROWTH, report
    assert report["cpu"] < MAX_CPU_SECONDS, report


def test_a_pt_file_whose_storage_inflates_is_refused_before_loading(reports):
    assert reports["paths"]["weights"].stat().st_size < 4 << 20
    report = reports["weights"]
    assert report["error"] and "InputError" in report["error"], report
    assert "MiB" in report["error"] and "network" in report["error"], report
    assert report["grew"] < MAX_GROWTH, report
    assert report["cpu"] < MAX_CPU_SECONDS, report


def test_a_workspace_file_whose_weights_compress_80_times_is_refused_before_loading(reports):
    info = zipfile.ZipFile(reports["paths"]["workspace weights"]).getinfo("model.safetensors")
    assert info.file_size >= 128 << 20 and 10 < info.file_size / info.compress_size < 100  # under the ratio check
    report = reports["workspace weights"]
    assert report["error"] and "BadWorkspaceFile" in report["error"] and "weights inflate" in report["error"], report
    assert report["grew"] < MAX_GROWTH, report
    assert report["cpu"] < MAX_CPU_SECONDS, report
