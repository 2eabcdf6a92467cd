"""Starting a Streamlit server for tests and benchmarks: a free local port, the start, the health check, the stop."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["run", "app.py", "--server.headless=true", "--server.address=127.0.0.1", "--server.fileWatcherType=none",
        "--browser.gatherUsageStats=false"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    """Whether the Streamlit server at ``url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start(port: int, log_path: Path, env: dict | None = None, launcher: list[str] | None = None,
          timeout: float = 60.0) -> subprocess.Popen:
    """`streamlit run app.py` on 127.0.0.1:``port`` in its own process group, once it answers its health check.

    Args:
        log_path: where its output goes (appended). env: the environment (this process's by default).
        launcher: the command before ``run app.py ...`` (``python -m streamlit`` by default).

    Raises:
        RuntimeError: it exited or did not answer within ``timeout`` seconds (it is stopped first).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        proc = subprocess.Popen([*(launcher or [sys.executable, "-m", "streamlit"]), *ARGS, f"--server.port={port}"],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.monotonic() + timeout
    while not healthy(f"http://127.0.0.1:{port}"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"streamlit did not start on port {port}; see {log_path}")
        time.sleep(0.25)
    return proc


def stop(proc: subprocess.Popen) -> None:
    """Terminate the server's whole process group, then kill it if it lingers."""
    if proc.poll() is not None:
        return
    pgid = os.getpgid(proc.pid)
    os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=10)
