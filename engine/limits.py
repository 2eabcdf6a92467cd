"""Server-side safety limits in one place; each can be overridden by an environment variable."""
from __future__ import annotations

import logging
import os

_log = logging.getLogger(__name__)


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    """A whole number of at least ``minimum`` from the environment; a bad value gives the default, with a warning."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value >= minimum:
        return value
    wanted = "a positive whole number" if minimum == 1 else f"a whole number of {minimum} or more"
    _log.warning("%s=%r is not %s; using the default %s", name, raw, wanted, default)
    return default


# Models: a classroom server must not be taken down by one student's 1e9-parameter spec.
MAX_PARAMS = _env_int("PLAYGROUND_MAX_PARAMS", 50_000_000)
# Activation memory of one sample through the whole network (float32 bytes).
MAX_ACTIVATION_BYTES = _env_int("PLAYGROUND_MAX_ACTIVATION_BYTES", 512 * 1024 * 1024)
# Spec structure: keeps recursion and summary tables bounded.
MAX_LAYERS = _env_int("PLAYGROUND_MAX_LAYERS", 300)
MAX_NESTING = _env_int("PLAYGROUND_MAX_NESTING", 6)
MAX_SPEC_BYTES = _env_int("PLAYGROUND_MAX_SPEC_BYTES", 256 * 1024)
# Any single size argument (channels, features, kernel, input side).
MAX_DIM = _env_int("PLAYGROUND_MAX_DIM", 1_000_000)
# Stacked recurrent layers (num_layers × directions, summed over RNN/LSTM/GRU). Meta RNNs unroll in Python:
# each costs ~5 ms to summarise, so 300 deep bidirectional LSTMs in a link held the server's GIL for ~27 s.
MAX_RECURRENT_STACK = _env_int("PLAYGROUND_MAX_RECURRENT_STACK", 64)
# Uploads (bytes and decoded pixels). Streamlit refuses larger files first by its own cap, server.maxUploadSize in
# .streamlit/config.toml (in MB): raise both together.
MAX_UPLOAD_BYTES = _env_int("PLAYGROUND_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
MAX_IMAGE_PIXELS = _env_int("PLAYGROUND_MAX_IMAGE_PIXELS", 25_000_000)
# Training.
MAX_CONCURRENT_RUNS = _env_int("PLAYGROUND_MAX_CONCURRENT_RUNS", max(1, os.cpu_count() or 1))
MAX_RUN_SECONDS = _env_int("PLAYGROUND_MAX_RUN_SECONDS", 600)
# A training thread's CPU priority (Linux nice, 0 to 19): page scripts and the web server go first, training takes
# the rest, so a classroom's clicks stay quick while every core trains. 0 trains at the server's own priority.
TRAIN_NICE = _env_int("PLAYGROUND_TRAIN_NICE", 10, minimum=0)
MAX_RUNS_KEPT = _env_int("PLAYGROUND_MAX_RUNS_KEPT", 12)
# Loss landscapes (engine.diagnostics): points of one line or plane, each a forward pass over the evaluation batch
# (a 21×21 plane of mnist-cnn on 512 samples takes about a minute on 2 CPU cores; 41×41 four times that).
MAX_LANDSCAPE_POINTS = _env_int("PLAYGROUND_MAX_LANDSCAPE_POINTS", 41 * 41)
# CPU cores one line or plane computes on (its chunks side by side on threads niced like training's): a 21×21 plane
# of mnist-cnn needs both of a 2-core server to finish within a minute. Set it to the CPU limit in a container.
LANDSCAPE_THREADS = _env_int("PLAYGROUND_LANDSCAPE_THREADS", min(os.cpu_count() or 1, 8))
# A run's weight snapshots (CPU, float32) for the landscape's principal directions: at most 20, and this many bytes
# together while it trains; a network too large for 3 of them keeps no trajectory. 16 MiB: networks up to ~1.4M
# parameters keep one; mnist-cnn (3.3M, 12.5 MiB a copy) would add 25 MiB to every finished run in the server's
# memory and database (its two directions), too much for a class by default: raise it (>= 38 MiB) to have it.
MAX_TRAJECTORY_BYTES = _env_int("PLAYGROUND_MAX_TRAJECTORY_BYTES", 16 * 1024 * 1024)
# A paused run gives its training slot back; after this long paused it ends, freeing its thread and optimiser state.
MAX_PAUSED_SECONDS = _env_int("PLAYGROUND_MAX_PAUSED_SECONDS", 600)
# Memory of one training batch: activations × batch × 3 (forward, their gradients, the autograd's saved copies)
# plus weights, gradients and optimiser state. One student's batch must not take the shared server down.
MAX_BATCH_BYTES = _env_int("PLAYGROUND_MAX_BATCH_BYTES", 2 * 1024 ** 3)
# Saved workspaces (engine.workspace). A classroom behind one NAT starts all its workspaces from one address: 40
# students with a few tabs, copies and imports each made 60 an hour, so one student's reloads turned saving off
# for the room. The cap is there against floods, not against a class.
# A live run no server has flushed for this many seconds was cut off (its server stopped): another server then shows
# it interrupted, with Resume. Until then a run another server flushes shows as training there (a replica's page).
INTERRUPT_AFTER = _env_int("PLAYGROUND_INTERRUPT_AFTER", 60)
MAX_WORKSPACES_PER_IP_HOUR = _env_int("PLAYGROUND_MAX_WORKSPACES_PER_IP_HOUR", 500)
# Join codes (31⁶ of them) cannot be guessed: wrong codes a minute, per workspace and per address (a classroom
# behind one NAT shares the second), then a wait before the next try.
JOIN_WRONG_PER_MINUTE = _env_int("PLAYGROUND_JOIN_WRONG_PER_MINUTE", 5)
JOIN_WRONG_PER_IP_MINUTE = _env_int("PLAYGROUND_JOIN_WRONG_PER_IP_MINUTE", 30)
JOIN_WAIT_SECONDS = _env_int("PLAYGROUND_JOIN_WAIT_SECONDS", 60)
MAX_CLASSES_PER_IP_HOUR = _env_int("PLAYGROUND_MAX_CLASSES_PER_IP_HOUR", 20)
MAX_RUNS_PER_WORKSPACE = _env_int("PLAYGROUND_MAX_RUNS_PER_WORKSPACE", 50)
# Weights, optimiser state and records of one workspace together; a workspace file may not unpack to more.
MAX_WORKSPACE_BYTES = _env_int("PLAYGROUND_MAX_WORKSPACE_BYTES", 256 * 1024 * 1024)
# A workspace file's workspace.json (settings, runs and their records as JSON) is parsed only under this size:
# parsed JSON takes 5-20 times its text in memory, and a 240 MiB one took the server from 0.7 to 7.2 GB.
MAX_MANIFEST_BYTES = _env_int("PLAYGROUND_MAX_MANIFEST_BYTES", 8 * 1024 * 1024)
# The class view, polled every 2 s by the teacher's page: points per run curve (thinned evenly, first and last
# kept) and runs drawn per member (their best, then their latest), so one student cannot freeze the teacher's tab.
MAX_CLASS_POINTS = _env_int("PLAYGROUND_MAX_CLASS_POINTS", 250)
MAX_CLASS_RUNS = _env_int("PLAYGROUND_MAX_CLASS_RUNS", 5)
# Custom challenges one class keeps (each a teacher's form, stored with the class).
MAX_CUSTOM_CHALLENGES = _env_int("PLAYGROUND_MAX_CUSTOM_CHALLENGES", 50)
# Workspaces (snapshots too) untouched this long are deleted, so the database never grows without bound.
WORKSPACE_DAYS = _env_int("PLAYGROUND_WORKSPACE_DAYS", 30)
