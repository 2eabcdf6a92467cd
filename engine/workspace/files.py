"""Workspace files: a zip of ``workspace.json`` and ``.safetensors`` weights, written and strictly checked on read.

Members: ``workspace.json`` (format, version, spec, settings, model, runs with their records but no blobs, lesson
progress under "lessons", optional: older files have none),
``model.safetensors`` (the session model's weights), ``runs/<n>.safetensors`` (run n's weights) and
``runs/<n>.optimizer.safetensors`` (its optimiser state, only when that is safetensors). Nothing else is accepted,
nothing is ever unpickled, and a refused file stores nothing.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field

from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load

from engine import limits
from engine.errors import InputError, SpecError
from engine.network import ModelSpec, build
from engine.training import load_weights
from engine.workspace import checks, columns, progress
from engine.workspace.errors import BadWorkspaceFile, CapReached, WorkspaceError
from engine.workspace.records import LIVE, RUN_STATES, RunRecord

FORMAT = "nn-playground-workspace"
VERSION = 1
MANIFEST = "workspace.json"
MODEL = "model.safetensors"
_RUN_WEIGHTS = re.compile(r"runs/(\d{1,9})\.safetensors")
_RUN_OPTIMIZER = re.compile(r"runs/(\d{1,9})\.optimizer\.safetensors")
# Zip bombs: a member over RATIO_FLOOR bytes may not inflate more than MAX_RATIO times (weights barely compress).
MAX_RATIO = 100
RATIO_FLOOR = 1 << 20
# Weights together: trained float32 compresses about 1.1 times, and an import holds 3-4 copies of them while it
# checks them, so past WEIGHTS_FLOOR they may inflate at most WEIGHTS_RATIO times: a 10 MiB upload, 40 MiB.
WEIGHTS_RATIO = 4
WEIGHTS_FLOOR = 4 << 20
# workspace.json may hold one JSON object or list per this many bytes of limits.MAX_MANIFEST_BYTES (see _manifest).
MANIFEST_BYTES_PER_CONTAINER = 64
_CHUNK = 1 << 16
_REFUSED = "Workspace file refused"


@dataclass
class WorkspaceFile:
    """A workspace's whole content, blobs included: what a file holds and what an import stores."""

    spec: dict
    settings: dict | None = None
    model: dict | None = None
    model_weights: bytes | None = None
    runs: list[RunRecord] = field(default_factory=list)
    progress: list[dict] = field(default_factory=list)  # lesson progress entries (``progress.to_file``)


def write(content: WorkspaceFile) -> bytes:
    """The workspace as zip bytes (see the module docstring)."""
    doc = {"format": FORMAT, "version": VERSION, "spec": content.spec, "settings": content.settings,
           "model": content.model,
           "runs": [{"number": r.number, "group": r.group, "label": r.label, "spec": r.spec, "config": r.config,
                     "state": r.state, "results": r.results, "context": r.context,
                     "updated_at": r.updated_at,
                     "records": columns.to_jsonable(r.records)} for r in content.runs],
           "lessons": content.progress}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(doc, separators=(",", ":")))  # NaN/Infinity as Python writes them
        if content.model_weights is not None:
            archive.writestr(MODEL, content.model_weights)
        for run in content.runs:
            if run.weights is not None:
                archive.writestr(f"runs/{run.number}.safetensors", run.weights)
            if run.optimizer is not None and _is_safetensors(run.optimizer):  # other formats stay on the server
                archive.writestr(f"runs/{run.number}.optimizer.safetensors", run.optimizer)
    return out.getvalue()


def read(data: bytes) -> WorkspaceFile:
    """Check a workspace file from end to end and return its content.

    Args:
        data: the uploaded bytes.

    Raises:
        BadWorkspaceFile: not a zip; a member that is not .json/.safetensors or whose path leaves the archive;
            too many members; too large once inflated (headers or actual bytes) or compressed too well; bad JSON;
            an invalid network; weights that do not load into their network. CapReached: more runs than a
            workspace may hold.
    """
    members = _members(checks.blob(data, "workspace file") or b"")
    doc = _manifest(members.pop(MANIFEST, None))
    spec = _spec(doc.get("spec"), "the workspace's network")
    content = WorkspaceFile(spec=spec, settings=_json(doc.get("settings"), "settings"),
                            model=_json(doc.get("model"), "model"))
    try:
        checks.model(content.model)
    except WorkspaceError as exc:
        raise BadWorkspaceFile(f"{_REFUSED}: {exc}") from None
    try:
        content.progress = progress.from_file(doc.get("lessons"))
    except WorkspaceError as exc:
        raise BadWorkspaceFile(f"{_REFUSED}: {exc}") from None
    runs = doc.get("runs", [])
    if not isinstance(runs, list):
        raise BadWorkspaceFile(f"{_REFUSED}: 'runs' in {MANIFEST} should be a list.")
    if len(runs) > limits.MAX_RUNS_PER_WORKSPACE:
        raise CapReached(f"This workspace file holds {len(runs)} runs, more than a workspace may keep",
                         "PLAYGROUND_MAX_RUNS_PER_WORKSPACE", limits.MAX_RUNS_PER_WORKSPACE)
    by_number = {}
    for i, entry in enumerate(runs):
        run = _run(entry, i)
        if run.number in by_number:
            raise BadWorkspaceFile(f"{_REFUSED}: two runs are numbered {run.number}.")
        by_number[run.number] = run
    content.runs = list(by_number.values())
    for name, blob in members.items():
        if name == MODEL:
            content.model_weights = _weights(blob, content.spec, "the model's weights")
            continue
        weights, optimizer = _RUN_WEIGHTS.fullmatch(name), _RUN_OPTIMIZER.fullmatch(name)
        number = int((weights or optimizer).group(1))
        if number not in by_number:
            raise BadWorkspaceFile(f"{_REFUSED}: {name} belongs to run {number}, which {MANIFEST} does not list.")
        run = by_number[number]
        if weights:
            run.weights = _weights(blob, run.spec, f"run {number}'s weights")
        else:
            _parse_safetensors(blob, f"run {number}'s optimizer state")
            run.optimizer = blob
        run.has_weights, run.has_optimizer = run.weights is not None, run.optimizer is not None
    return content


# ------------------------------------------------------------------------------------------- the archive
def _members(data: bytes) -> dict[str, bytes]:
    """The archive's members by name, after every check on names and sizes; reading stops at the caps."""
    cap = limits.MAX_WORKSPACE_BYTES
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise BadWorkspaceFile(f"{_REFUSED}: it is not a zip archive. Download a workspace file from the "
                               f"playground and upload it unchanged.") from None
    most = 2 + 2 * limits.MAX_RUNS_PER_WORKSPACE + 1
    if len(infos) > most:
        raise BadWorkspaceFile(f"{_REFUSED}: it has {len(infos):,} members; a workspace file has at most {most}.")
    names = set()
    for info in infos:
        _check_name(info.filename)
        if info.filename in names:
            raise BadWorkspaceFile(f"{_REFUSED}: {info.filename!r} appears twice.")
        names.add(info.filename)
        if info.filename == MANIFEST and info.file_size > limits.MAX_MANIFEST_BYTES:
            raise BadWorkspaceFile(_manifest_too_large(info.file_size))
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise BadWorkspaceFile(f"{_REFUSED}: {info.filename!r} inflates {ratio:,.0f} times (a zip bomb?); "
                                   f"weights and records barely compress.")
    weights = [info for info in infos if info.filename.endswith(".safetensors")]
    inflated, packed = sum(i.file_size for i in weights), max(sum(i.compress_size for i in weights), 1)
    if inflated > WEIGHTS_FLOOR and inflated > WEIGHTS_RATIO * packed:
        raise BadWorkspaceFile(f"{_REFUSED}: its weights inflate {inflated / packed:,.0f} times, to "
                               f"{checks.size_text(inflated)}; trained weights barely compress (about 1.1 times), "
                               f"so it was not written by the playground.")
    declared = sum(info.file_size for info in infos)
    if declared > cap:
        raise BadWorkspaceFile(f"{_REFUSED}: it would unpack to {checks.size_text(declared)}, over the "
                               f"{checks.size_text(cap)} a workspace may hold (PLAYGROUND_MAX_WORKSPACE_BYTES).")
    members, budget = {}, cap
    for info in infos:
        if info.is_dir():
            continue
        members[info.filename] = _inflate(archive, info, budget)
        budget -= len(members[info.filename])
    return members


def _check_name(name: str) -> None:
    """Only the names a workspace file uses; never a path that could leave the folder it is unpacked in."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
        raise BadWorkspaceFile(f"{_REFUSED}: the member {name[:80]!r} has a path that leaves the archive.")
    if name == "runs/":
        return
    if not name.endswith((".json", ".safetensors")):
        raise BadWorkspaceFile(f"{_REFUSED}: the member {name[:80]!r} is not JSON or safetensors; workspace "
                               f"files never carry pickles (.pt, .pkl, .pth...), which could run code.")
    if name not in (MANIFEST, MODEL) and not _RUN_WEIGHTS.fullmatch(name) and not _RUN_OPTIMIZER.fullmatch(name):
        raise BadWorkspaceFile(f"{_REFUSED}: unexpected member {name[:80]!r}; a workspace file holds {MANIFEST}, "
                               f"{MODEL} and runs/<number>.safetensors.")


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """A member's bytes, read in chunks and abandoned as soon as they pass its declared size or the budget."""
    limit = min(info.file_size, budget)
    parts, size = [], 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise BadWorkspaceFile(f"{_REFUSED}: {info.filename!r} unpacks to more than its header says "
                                           f"or than a workspace may hold (PLAYGROUND_MAX_WORKSPACE_BYTES).")
                parts.append(chunk)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError, OSError, ValueError) as exc:
        raise BadWorkspaceFile(f"{_REFUSED}: {info.filename!r} is damaged or encrypted ({exc}).") from None
    return b"".join(parts)


# ------------------------------------------------------------------------------------------- the content
def _manifest_too_large(size: int) -> str:
    return (f"{_REFUSED}: its {MANIFEST} is {checks.size_text(size)}, over the "
            f"{checks.size_text(limits.MAX_MANIFEST_BYTES)} this server reads (PLAYGROUND_MAX_MANIFEST_BYTES): its "
            f"runs hold too many records. Delete some runs, download the workspace again and upload that file.")


def _manifest(raw: bytes | None) -> dict:
    if raw is None:
        raise BadWorkspaceFile(f"{_REFUSED}: it has no {MANIFEST}, so it is not a playground workspace file.")
    if len(raw) > limits.MAX_MANIFEST_BYTES:  # the header said less (read() stops at the header's size anyway)
        raise BadWorkspaceFile(_manifest_too_large(len(raw)))
    # Objects and lists cost 56-200 bytes each once parsed, from 2 bytes of text: "[{},{},...]" would take 20
    # times its size. Records written by the engine have one per 150 bytes or more; braces in strings count too.
    containers, most = raw.count(b"{") + raw.count(b"["), limits.MAX_MANIFEST_BYTES // MANIFEST_BYTES_PER_CONTAINER
    if containers > most:
        raise BadWorkspaceFile(f"{_REFUSED}: its {MANIFEST} holds {containers:,} JSON objects and lists; a "
                               f"workspace file has at most {most:,} (one per {MANIFEST_BYTES_PER_CONTAINER} bytes of "
                               f"PLAYGROUND_MAX_MANIFEST_BYTES). It was not written by the playground.")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadWorkspaceFile(f"{_REFUSED}: {MANIFEST} is not valid JSON ({str(exc)[:120]}).") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BadWorkspaceFile(f"{_REFUSED}: {MANIFEST} is not a playground workspace (its 'format' should be "
                               f"{FORMAT!r}).")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise BadWorkspaceFile(f"{_REFUSED}: it is format version {version!r}; this server reads versions 1 to "
                               f"{VERSION} (a newer playground made it?).")
    return doc


def _spec(value, what: str) -> dict:
    try:
        ModelSpec.from_dict(value)
    except (SpecError, InputError, TypeError, ValueError, KeyError) as exc:
        raise BadWorkspaceFile(f"{_REFUSED}: {what} is invalid: {exc}") from None
    return value


def _json(value, what: str) -> dict | None:
    try:
        return checks.json_value(value, what)[0]
    except WorkspaceError as exc:
        raise BadWorkspaceFile(f"{_REFUSED}: {exc}") from None


def _run(entry, index: int) -> RunRecord:
    """One run of the manifest, checked; a run that was live when saved comes back "interrupted"."""
    if not isinstance(entry, dict):
        raise BadWorkspaceFile(f"{_REFUSED}: run entry {index} should be a JSON object.")
    number = entry.get("number")
    try:
        records = columns.from_jsonable(entry.get("records", []))
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadWorkspaceFile(f"{_REFUSED}: run {number!r}'s records are malformed ({exc}).") from None
    state = entry.get("state", "finished")
    run = RunRecord(number=number, group=entry.get("group", "train"), label=entry.get("label", ""),
                    spec=entry.get("spec"), config=entry.get("config", {}),
                    state="interrupted" if state in LIVE else state, records=records, results=entry.get("results"),
                    context=entry.get("context"))
    if state not in RUN_STATES:
        raise BadWorkspaceFile(f"{_REFUSED}: run {number!r}'s state {state!r} is not one of {', '.join(RUN_STATES)}.")
    try:
        checks.run(run)
        checks.results(run.results, number)
        checks.context(run.context, number)
        checks.records(records, number)
    except WorkspaceError as exc:
        raise BadWorkspaceFile(f"{_REFUSED}: {exc}") from None
    _spec(run.spec, f"run {number}'s network")
    # Provenance: whatever the file says, its results were not measured here (the class ranking skips them).
    run.context = {**(run.context or {}), "imported": True}
    return run


def _parse_safetensors(blob: bytes, what: str) -> None:
    try:
        safetensors_load(blob)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as exc:
        raise BadWorkspaceFile(f"{_REFUSED}: {what} is not a valid safetensors file ({str(exc)[:120]}).") from None


def _weights(blob: bytes, spec: dict, what: str) -> bytes:
    """Weights that are safetensors and load with ``strict=True`` into the network they belong to."""
    _parse_safetensors(blob, what)
    try:
        load_weights(build(ModelSpec.from_dict(spec), seed=0), blob)
    except (InputError, SpecError) as exc:
        raise BadWorkspaceFile(f"{_REFUSED}: {what} do not fit the network: {exc}") from None
    return blob


def _is_safetensors(blob: bytes) -> bool:
    try:
        safetensors_load(blob)
    except (SafetensorError, ValueError, RuntimeError, OverflowError):
        return False
    return True
