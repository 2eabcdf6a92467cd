"""The classroom benchmark through a load balancer: PostgreSQL, N app replicas on it, HAProxy in front.

Used by ``classroom_load.py --replicas N``. The cluster comes from tests/pg_cluster.py and the balancer from
tests/balancer.py (deploy/haproxy.cfg with local addresses), as in tests/browser/test_replicas.py. After the
class, ``check_runs`` compares the database with what the students saw: every run started is stored (the last
``MAX_RUNS_KEPT`` of each student: a start past them deletes the oldest once confirmed), and every run a student
saw finish is stored finished with its records up to the step the student read.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.* and engine
from classroom_server import free_port, start_server, stop_server  # noqa: E402

from engine import limits  # noqa: E402
from engine.workspace import Store  # noqa: E402
from tests import balancer as balancing  # noqa: E402
from tests.pg_cluster import Cluster  # noqa: E402


class Replicas:
    """PostgreSQL, ``n`` replicas (``classroom_server.start_server``, each with its census file) and HAProxy.

    Attributes: url (the balancer's), urls (each replica's own, for warming each up), procs, censuses, db_url.
    """

    def __init__(self, n: int, out: Path, profile: bool = False):
        self.procs, self.censuses, self.urls, self.balancer = [], [], [], None
        self.cluster = Cluster()
        try:
            self.db_url = self.cluster.create_database()
            env = {"PLAYGROUND_DATABASE_URL": self.db_url, "STREAMLIT_SERVER_COOKIE_SECRET": "one-for-all-replicas"}
            ports = {f"app{i + 1}": free_port() for i in range(n)}
            for name, port in ports.items():
                self.censuses.append(out / f"classroom_threads_{name}.json")
                self.procs.append(start_server(port, out / f"classroom_load_{name}.log", self.censuses[-1],
                                               profile=profile, env=env))
                self.urls.append(f"http://127.0.0.1:{port}")
            port = free_port()
            self.balancer = balancing.start(port, ports, Path(tempfile.mkdtemp(prefix="classroom-haproxy-")),
                                            out / "classroom_haproxy.log")
            self.url = f"http://127.0.0.1:{port}"
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Balancer, replicas, then the cluster (its folder deleted)."""
        if self.balancer is not None:
            balancing.stop(self.balancer)
        for proc in self.procs:
            stop_server(proc)
        self.cluster.remove()


def check_runs(db_url: str, stats) -> dict:
    """The database against what the students saw (``classroom_ws.Stats``): nothing lost.

    Returns counts: runs started by the class, stored, and that should be (a session keeps its last
    ``limits.MAX_RUNS_KEPT``: a start past them deletes the oldest, once the student confirms); runs seen finished,
    and of those the ones missing (not deleted so), not stored as finished, or whose records stop short of (or
    past) the step the student read.
    """
    store = Store(db_url)
    try:
        stored = {token: {r.number: r for r in store.open(token).runs} for token in stats.started}
    finally:
        store.db.dispose()
    missing, not_finished, records_differ = [], [], []
    kept = limits.MAX_RUNS_KEPT  # a session keeps its last runs: a start past them deletes the oldest (confirmed)
    for token, number, step in stats.finished:
        record = stored.get(token, {}).get(number)
        if record is None and number <= stats.started[token] - kept:
            continue  # deleted by a later start, as the student confirmed
        if record is None:
            missing.append(f"{token[:6]}#{number}")
        elif record.state != "finished":
            not_finished.append(f"{token[:6]}#{number}: {record.state}")
        elif max((r.get("step", 0) for r in record.records), default=0) != step:
            last = max((r.get("step", 0) for r in record.records), default=0)
            records_differ.append(f"{token[:6]}#{number}: saw step {step}, stored records to step {last}")
    return {"workspaces": len(stats.started), "runs_started": sum(stats.started.values()),
            "runs_stored": sum(len(runs) for runs in stored.values()),
            "runs_kept": sum(min(n, kept) for n in stats.started.values()),  # what should be stored
            "runs_seen_finished": len(stats.finished), "finished_missing": missing,
            "finished_stored_in_another_state": not_finished, "finished_records_differ": records_differ,
            "lost": len(missing) + len(not_finished) + len(records_differ)}


def spread(stats) -> dict[str, int]:
    """Students per replica (the replica that served each one's first page)."""
    counts: dict[str, int] = {}
    for name in stats.replicas.values():
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def load_average() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages (other work on a shared machine shows here)."""
    return [round(x, 2) for x in os.getloadavg()]
