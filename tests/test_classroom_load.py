"""Classroom load as a slow test (benchmarks/classroom_load.py, websocket driver); run with -m slow.

Left out of the default run: it starts its own server and keeps it busy for about a minute and a half
(20 s of load, then up to 60 s for the threads to settle). A few students over Streamlit's websocket
protocol, so the server is measured rather than a browser; the full class and its figures are in
benchmarks/CLASSROOM.md.
"""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = int(os.environ.get("CLASSROOM_STUDENTS", 3))
DURATION = float(os.environ.get("CLASSROOM_DURATION", 20))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_few_students_walk_the_whole_path_without_errors(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import classroom_load
    finally:
        sys.path.pop(0)
    report = classroom_load.main(["--students", str(STUDENTS), "--duration", str(DURATION), "--settle", "60",
                                  "--json", str(tmp_path / "classroom_load.json")])
    assert report["errors"] == 0, report["error_samples"]
    assert report["paths_completed"] >= STUDENTS, report  # every student got through Build → Inspect
    assert report["runs_started"] >= STUDENTS
    assert report["most_running_at_once"] <= report["run_slots"]  # the limiter holds; the rest queue
    assert report["rss_peak_mb"] < 4_096
    # Threads come back to the warm baseline once every session has closed (AnyIO's idle pool workers are
    # reaped on the pool's next use, which the benchmark triggers with one static GET).
    assert report["threads_back_to_warm_after_s"] is not None or \
        report["threads_after_one_static_get"] <= report["threads_warm"], report["threads_lingering_at_end"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_students_through_the_balancer_on_two_replicas_lose_no_run(tmp_path):
    """``--replicas 2``: PostgreSQL, two servers and HAProxy; every run started is stored, every run a student saw
    finish is stored finished with its records, and both replicas got students (sticky, round-robin)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import classroom_load
    finally:
        sys.path.pop(0)
    report = classroom_load.main(["--replicas", "2", "--students", "4", "--duration", str(DURATION),
                                  "--preset", "toy-mlp", "--settle", "5", "--json", str(tmp_path / "replicas.json")])
    assert report["errors"] == 0, report["error_samples"]
    assert set(report["students_per_replica"]) == {"app1", "app2"}, report["students_per_replica"]
    database = report["database"]
    assert database["runs_seen_finished"] >= 4 and database["lost"] == 0, database
    assert database["runs_started"] == report["runs_started"], database  # each start counted in its workspace
    assert database["runs_stored"] == database["runs_kept"], database  # the last runs of each, as the page keeps
    confirmed = report["per_action"].get("confirm start", {}).get("n", 0)  # each start past them deleted one
    assert database["runs_started"] - database["runs_kept"] == confirmed, (database, confirmed)
