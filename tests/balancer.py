"""HAProxy in front of local app replicas, configured from deploy/haproxy.cfg (the replica browser test and the
classroom benchmark's ``--replicas``): the file's own options, with this machine's addresses in place of Docker's."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from tests.server import healthy

ROOT = Path(__file__).resolve().parents[1]
HAPROXY = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.path.exists(p)), None)
REPLICA_HEADER = "X-Test-Replica"  # names the replica that served a response (not in the deployed file)


def haproxy_config(port: int, replicas: dict[str, int]) -> str:
    """deploy/haproxy.cfg with this machine's addresses: the listening port, and each replica's own server line
    (in place of the Docker DNS template) with the template's options; the served replica named in a header."""
    text = (ROOT / "deploy" / "haproxy.cfg").read_text()
    text = re.sub(r"^resolvers docker\n(?:[ \t]+.*\n)+", "", text, flags=re.M)
    text = re.sub(r"^(\s*bind )\S+$", rf"\g<1>127.0.0.1:{port}", text, flags=re.M)
    (template,) = re.findall(r"^\s*server-template \S+ \d+ \S+ (.*)$", text, re.M)
    options = re.sub(r"\s*(resolvers \S+|init-addr \S+)", "", template)
    servers = "".join(f"    server {name} 127.0.0.1:{p} {options}\n" for name, p in replicas.items())
    servers += f"    http-response set-header {REPLICA_HEADER} %[srv_name]\n"
    text = re.sub(r"^\s*server-template .*\n", servers, text, flags=re.M)
    assert "cookie SERVERID insert" in text and "option httpchk GET /_stcore/health" in text
    return text.replace("log stdout format raw local0", "log stderr format raw local0")


def start(port: int, replicas: dict[str, int], folder: Path, log_path: Path,
          timeout: float = 30.0) -> subprocess.Popen:
    """HAProxy on 127.0.0.1:``port`` in front of ``replicas`` (name -> port), once it answers the health check.

    Raises:
        RuntimeError: haproxy is not installed, exited, or did not answer within ``timeout`` seconds.
    """
    if HAPROXY is None:
        raise RuntimeError("haproxy is not installed (Debian's haproxy package; make test installs it)")
    (folder / "haproxy.cfg").write_text(haproxy_config(port, replicas))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        proc = subprocess.Popen([HAPROXY, "-f", str(folder / "haproxy.cfg")], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + timeout
    while not healthy(f"http://127.0.0.1:{port}"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"haproxy did not start on port {port}; see {log_path}")
        time.sleep(0.2)
    return proc


def stop(proc: subprocess.Popen) -> None:
    """Stop HAProxy (terminate, then kill if it lingers)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
