"""What the store hands out and takes in: a workspace, its runs, a class's pushed network."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from engine.training import STATES

RUN_STATES = STATES  # "interrupted" among them: live when its server stopped flushing it
LIVE = ("queued", "running", "paused")  # states a run leaves only while a server is training it


@dataclass
class RunRecord:
    """One training run as stored: its settings, metric records, results and (optionally) its blobs.

    ``weights`` and ``optimizer`` are safetensors bytes and an opaque checkpoint blob. ``open()`` does not load
    them (``has_weights``/``has_optimizer`` say whether they exist; ``Store.run_blobs`` fetches them). When saved,
    a blob left None with its ``has_`` flag True keeps the stored one, so a run read by ``open()`` can be saved
    back as it is; None with the flag False clears it.

    Args:
        number: the run's number within its workspace (the key ``save_run`` upserts on).
        group: which page's runs it belongs to ("train", "depth", "time"...), opaque to the store.
        label: the name the page shows.
        spec: the network it trained (a ``ModelSpec`` dict).
        config: its settings (a ``TrainConfig`` dict, or the page's own).
        state: one of ``RUN_STATES``.
        records: the training loop's metric record dicts, in order.
        results: e.g. {"test_acc": 0.95}, or None.
        context: the page's own JSON about the run, opaque to the store (a Gradients experiment's settings,
            snapshots and baseline), or None.
        updated_at: Unix time of its last write (set by the store).
        server: the id of the server that last wrote it (``Store.server_id``, set by the store), or None.
        adopt: when given (with ``weights``), the run becomes the workspace's model in the same write: its spec,
            these weights, and ``adopt`` as the model's description (``Store.save(model=...)``). Not stored with
            the run itself.
    """

    number: int
    group: str = "train"
    label: str = ""
    spec: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    state: str = "finished"
    records: list = field(default_factory=list)
    results: dict | None = None
    context: dict | None = None
    weights: bytes | None = None
    optimizer: bytes | None = None
    updated_at: float = 0.0
    server: str | None = None
    has_weights: bool = False
    has_optimizer: bool = False
    adopt: dict | None = None

    def __post_init__(self):
        self.has_weights = self.has_weights or self.weights is not None
        self.has_optimizer = self.has_optimizer or self.optimizer is not None

    def elsewhere(self, server_id: str | None) -> bool:
        """Whether another server is training it: live as ``Store.open`` read it (which marks runs unflushed for
        ``interrupt_after`` interrupted) and last written by a server other than ``server_id``. A run written
        without an id (before the column existed, or by a store without one) counts as this server's."""
        return self.state in LIVE and self.server is not None and self.server != server_id


@dataclass(frozen=True)
class Push:
    """The network a teacher last pushed to their class: ``version`` counts pushes from 1."""

    version: int
    spec: dict
    settings: dict | None


@dataclass
class Workspace:
    """A workspace as ``Store.open`` reads it (no blobs: ``has_model_weights`` and each run's ``has_`` flags).

    Args:
        token: the capability link's token it was opened with.
        kind: "workspace" (writable) or "snapshot" (read-only).
        spec, settings, model: the network, the pages' settings, which network is the session's model.
        has_model_weights: whether ``Store.model_weights(token)`` has bytes.
        runs: its runs by number, records included.
        class_name, display_name: the class it joined and the name its teacher sees (None outside a class).
        push: the class's latest pushed network (None before any push, or outside a class).
        pushed_version: the push this workspace last took (``save(token, pushed_version=...)``).
        created_at, updated_at: Unix times.
    """

    token: str
    kind: str
    spec: dict
    settings: dict | None
    model: dict | None
    has_model_weights: bool
    runs: list[RunRecord]
    class_name: str | None = None
    display_name: str | None = None
    push: Push | None = None
    pushed_version: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def read_only(self) -> bool:
        """Snapshots are frozen: ``Store.copy`` makes a writable one."""
        return self.kind == "snapshot"

    @property
    def new_push(self) -> Push | None:
        """The class's pushed network if this workspace has not taken it yet."""
        return self.push if self.push is not None and self.push.version > self.pushed_version else None


# Two versions of one run: which one the flusher writes (newer) and whether writing is needed (unchanged).
def newer(old: RunRecord | None, new: RunRecord) -> RunRecord:
    """``new`` replacing an unwritten ``old``: a blob ``new`` leaves stored (None, its flag set) is ``old``'s, which
    is newer than the stored one (a checkpoint whose write failed is not lost to the next version's write)."""
    if old is None:
        return new
    keep = {}
    if new.weights is None and new.has_weights and old.weights is not None:
        keep["weights"] = old.weights
    if new.optimizer is None and new.has_optimizer and old.optimizer is not None:
        keep["optimizer"] = old.optimizer
    return replace(new, **keep) if keep else new


def unchanged(old: RunRecord, new: RunRecord) -> bool:
    """Nothing to rewrite: same fields and the same records (list equality short-cuts on identical dicts)."""
    return (old.state == new.state and old.group == new.group and old.label == new.label
            and old.has_weights == new.has_weights and old.has_optimizer == new.has_optimizer
            and len(old.records) == len(new.records) and old.weights == new.weights
            and old.optimizer == new.optimizer and old.results == new.results and old.config == new.config
            and old.spec == new.spec and old.context == new.context and old.records == new.records)
