"""Two replicas on one PostgreSQL behind HAProxy configured from deploy/haproxy.cfg, in Chromium.

Both replicas open the empty database while the test holds the upgrade's advisory lock (both wait on it; once it
is free only one runs the migrations and both work); a student trains through the balancer; the replica serving
them is killed with SIGKILL; the browser's next load goes through the balancer to the other replica and shows the
finished run.
A class made on one replica sees a student who joined through the other, live, and the teacher's push reaches
them.
"""
from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
from playwright.sync_api import expect

from engine.workspace.checks import digest
from tests import balancer as balancing
from tests import server as server_mod
from tests.browser.helpers import RESULTS, assert_no_exception, wait_idle
from tests.pg_cluster import Cluster, ClusterError
from tests.server import free_port

ROOT = Path(__file__).resolve().parents[2]
# Waits are on states, with deadlines far beyond what they take here: CI is a loaded 2-core machine running the
# whole suite (its last failure was a 60 s wait).
RUN_TIMEOUT_MS = 180_000
UI_TIMEOUT_MS = 90_000  # a page's own rerun (a click, a live view's next tick) on a loaded machine


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """PostgreSQL (logging every statement), two replicas started together on its empty database, HAProxy."""
    if balancing.HAPROXY is None and os.environ.get("PLAYGROUND_TEST_POSTGRES") != "skip":
        pytest.fail("haproxy is not installed (make test installs Debian's haproxy); PLAYGROUND_TEST_POSTGRES=skip "
                    "skips the PostgreSQL and replica tests")
    if os.environ.get("PLAYGROUND_TEST_POSTGRES") == "skip":
        pytest.skip("PLAYGROUND_TEST_POSTGRES=skip")
    try:
        cluster = Cluster(["log_statement=all", "log_line_prefix=[%d]"])
    except (ClusterError, OSError) as exc:
        pytest.fail(f"PostgreSQL could not be started: {exc}")
    url = cluster.create_database()
    env = {**os.environ, "PLAYGROUND_DATABASE_URL": url, "STREAMLIT_SERVER_COOKIE_SECRET": "one-for-all-replicas",
           "PLAYGROUND_INTERRUPT_AFTER": str(INTERRUPT_AFTER)}
    ports = {"app1": free_port(), "app2": free_port()}
    procs = {}
    balancer = None
    try:
        for name, port in ports.items():
            procs[name] = server_mod.start(port, RESULTS / f"replica-{name}.log", env=env)
        port = free_port()
        balancer = balancing.start(port, ports, tmp_path_factory.mktemp("balancer"), RESULTS / "haproxy.log")
        yield {"url": f"http://127.0.0.1:{port}", "procs": procs, "ports": ports, "cluster": cluster,
               "database": url.rsplit("/", 1)[1]}
    finally:
        if balancer is not None:
            balancing.stop(balancer)
        for proc in procs.values():
            server_mod.stop(proc)
        cluster.remove()


# Seconds without news after which a replica's live run counts as cut off (PLAYGROUND_INTERRUPT_AFTER, 60 by
# default): long enough that the other replica is seen showing it as another server's first (checked against the
# store's clock, _run_row's updated_at, not assumed from the test's speed).
INTERRUPT_AFTER = 60
ELSEWHERE = "training on another server"


def _replica(page) -> str:
    """The replica that served the page's last load (the header the test's balancer adds)."""
    response = page.reload()
    wait_idle(page)
    return response.headers["x-test-replica"]


def _upgrade_lock() -> int:
    """The advisory lock number every replica's upgrade takes (engine/workspace/migrations/env.py)."""
    text = (ROOT / "engine" / "workspace" / "migrations" / "env.py").read_text()
    return int(re.search(r"^_UPGRADE_LOCK = (0x[0-9A-Fa-f]+)", text, re.M).group(1), 16)


def test_both_replicas_open_an_empty_database_together_and_one_migrates(replicas, browser):
    cluster, lock = replicas["cluster"], _upgrade_lock()
    holder = psycopg.connect(cluster.url(replicas["database"]).replace("postgresql+psycopg", "postgresql"),
                             autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (lock,))  # both replicas' upgrades queue behind the test
    first = browser.new_context().new_page()
    second = browser.new_context().new_page()
    try:  # each replica opens the database on its first session: straight to each replica's port
        first.goto(f"http://127.0.0.1:{replicas['ports']['app1']}/Build", wait_until="commit")
        second.goto(f"http://127.0.0.1:{replicas['ports']['app2']}/Build", wait_until="commit")
        deadline = time.monotonic() + 180  # each replica's first session imports the app (slow on a loaded machine)
        while holder.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                             ).fetchone()[0] < 2:
            assert time.monotonic() < deadline, "the replicas never both waited to upgrade"
            time.sleep(0.1)
    finally:
        holder.execute("SELECT pg_advisory_unlock(%s)", (lock,))
        holder.close()
    for page in (first, second):
        wait_idle(page)
        assert_no_exception(page)
        expect(page.get_by_text("Saving is off")).to_have_count(0)
        assert "ws=" in page.url  # each made a workspace: both work
        page.context.close()
    log = cluster.log.read_text()  # this cluster serves only the replicas' database
    assert log.count("CREATE TABLE workspaces") == 1  # the first to get the lock created it; the other found it


def _on(browser, url: str, replica: str):
    """A new browser whose balancer cookie holds it on ``replica`` (new browsers are spread round-robin)."""
    for _ in range(10):
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        response = page.goto(url)
        wait_idle(page)
        if response.headers["x-test-replica"] == replica:
            return page
        page.context.close()
    pytest.fail(f"the balancer never sent a new browser to {replica}")


def test_a_class_on_one_replica_sees_a_student_of_the_other_live_and_its_push_reaches_them(replicas, browser):
    teacher = _on(browser, f"{replicas['url']}/Build?net=p.xo-cnn", "app1")  # the network the teacher sends
    teacher.get_by_role("link", name="Class").first.click()
    wait_idle(teacher)
    teacher.locator(".st-key-class-name input").fill("Two replicas")
    teacher.locator(".st-key-class-name input").press("Enter")
    wait_idle(teacher)
    teacher.locator(".st-key-class-create button").click()
    wait_idle(teacher)
    code = re.search(r"enter code\s+([A-Z0-9]{6})", teacher.locator(".class-join").inner_text()).group(1)

    student = _on(browser, f"{replicas['url']}/Build?net=p.toy-mlp", "app2")
    student.locator("[data-testid=stSidebar] [data-testid=stExpander] summary",
                    has_text="Share, download, join a class").click()
    student.locator(".st-key-ws-join-code input").fill(code)
    student.locator(".st-key-ws-join-name input").fill("Ada")
    student.locator(".st-key-ws-join-name input").press("Enter")
    wait_idle(student)
    student.locator(".st-key-ws-join button").click()
    wait_idle(student)
    expect(student.get_by_text("Class Two replicas")).to_be_visible(timeout=UI_TIMEOUT_MS)
    student.get_by_role("link", name="Train").first.click()
    wait_idle(student)

    # the teacher's open page (replica 1) finds the student who joined on replica 2 without a reload
    teacher.locator(".st-key-class-member").click(timeout=UI_TIMEOUT_MS)
    expect(teacher.get_by_role("option", name="Ada")).to_be_visible(timeout=UI_TIMEOUT_MS)
    teacher.keyboard.press("Escape")
    teacher.locator(".st-key-class-push button").click()
    expect(teacher.get_by_text("Sent (version 1)")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(student.get_by_text("Your teacher sent the class a network")).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert_no_exception(teacher)
    assert_no_exception(student)
    for page, replica in ((teacher, "app1"), (student, "app2")):  # each stayed on its replica throughout
        assert page.evaluate("fetch(location.href).then(r => r.headers.get('x-test-replica'))") == replica
        page.context.close()


def _set(page, key: str, value: str) -> None:
    page.locator(f".st-key-{key} input").fill(value)
    page.locator(f".st-key-{key} input").press("Enter")
    wait_idle(page)


def _start_run(page, epochs: str, batch: str | None = None) -> None:
    """From Build: over to Train, the epochs (and batch size) set, Start."""
    page.get_by_role("link", name="Train").first.click()
    wait_idle(page)
    _set(page, "tr-epochs", epochs)
    if batch is not None:
        _set(page, "tr-batch", batch)
    page.locator(".st-key-tr-start button").click()


def _run_row(replicas, token: str, number: int = 1) -> dict | None:
    """Run ``number`` of the workspace as stored: state, server, updated_at, whether weights and optimizer are."""
    with psycopg.connect(replicas["cluster"].url(replicas["database"]).replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as connection:
        row = connection.execute(
            "SELECT r.state, r.server, r.updated_at, r.weights IS NOT NULL, r.optimizer IS NOT NULL FROM runs r "
            "JOIN workspaces w ON w.id = r.workspace_id WHERE w.digest = %s AND r.number = %s",
            (digest(token), number)).fetchone()
    return None if row is None else dict(zip(("state", "server", "updated_at", "weights", "optimizer"), row))


def _until(condition, seconds: float, what: str):
    """Poll ``condition()`` every 0.5 s until it returns something true; fails saying ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(0.5)
    return found


def _step(page, state: str) -> int | None:
    found = re.search(rf"{state} · step (\d+)", page.locator("[data-testid=stMain]").inner_text())
    return int(found.group(1)) if found else None


def test_a_killed_replicas_students_reload_onto_the_other_and_its_live_run_resumes_there(replicas, browser):
    url = replicas["url"]
    grace = _on(browser, f"{url}/Build?net=p.toy-mlp", "app1")  # a long run (batch 1): training at the kill
    _start_run(grace, "500", batch="1")
    expect(grace.get_by_text(re.compile(r"running · step"))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    grace_token = parse_qs(urlparse(grace.url).query)["ws"][0]

    ada = _on(browser, f"{url}/Build?net=p.toy-mlp", "app1")  # a run trained to its end
    _start_run(ada, "2")
    expect(ada.get_by_text("Test accuracy")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    wait_idle(ada)
    accuracy = re.search(r"\d+\.\d%", ada.locator("[data-testid=stMetric]", has_text="Test accuracy")
                         .inner_text()).group(0)
    token = parse_qs(urlparse(ada.url).query)["ws"][0]
    assert _replica(ada) == "app1"  # sticky: the reload came back to the same replica
    # In the database before the kill (states, not a guess at the flusher's speed): Ada's finished run with its
    # weights, Grace's live run with a checkpoint (weights and optimizer state, one every 15 s while it trains)
    _until(lambda: (_run_row(replicas, token) or {}).get("state") == "finished"
           and _run_row(replicas, token)["weights"], 180, "Ada's finished run was not stored")
    _until(lambda: (row := _run_row(replicas, grace_token)) and row["state"] == "running" and row["weights"]
           and row["optimizer"], 180, "Grace's running run had no checkpoint stored")

    os.killpg(replicas["procs"]["app1"].pid, signal.SIGKILL)
    replicas["procs"]["app1"].wait(10)
    # Grace's run, on the live replica at once: app1's until app1 has sent no news of it for interrupt_after, so
    # shown as training there, with no Resume or Reset that would train it twice and overwrite it.
    last_news = _run_row(replicas, grace_token)["updated_at"]  # app1's last write, by the store's clock
    assert _replica(grace) == "app2"
    if time.time() < last_news + INTERRUPT_AFTER:  # drawn inside app1's window (the usual case, by far)
        expect(grace.get_by_text(ELSEWHERE).first).to_be_visible()
        for button in ("tr-resume", "tr-reset"):
            expect(grace.locator(f".st-key-{button} button")).to_be_disabled()
    else:  # the reload itself took past the window: the page rightly shows the run interrupted already
        print(f"replica reload after interrupt_after ({time.time() - last_news:.0f} s): elsewhere view not seen")
    assert _replica(ada) == "app2"  # through the balancer, redispatched to the live replica
    assert parse_qs(urlparse(ada.url).query)["ws"][0] == token
    expect(ada.locator("[data-testid=stMetric]", has_text="Test accuracy")).to_contain_text(accuracy)
    expect(ada.get_by_text("Saving is off")).to_have_count(0)
    assert_no_exception(ada)

    # Then interrupted, with its records (the store marks it so once nothing has flushed it for interrupt_after)
    deadline = time.monotonic() + INTERRUPT_AFTER + 180
    while (_replica(grace), _step(grace, "interrupted"))[1] is None or grace.get_by_text(ELSEWHERE).count():
        assert time.monotonic() < deadline, "the killed replica's run never showed as interrupted"
        grace.wait_for_timeout(3000)
    assert parse_qs(urlparse(grace.url).query)["ws"][0] == grace_token
    cut = _step(grace, "interrupted")
    assert cut > 0  # its records up to the last write
    grace.locator(".st-key-tr-resume button").click()
    expect(grace.get_by_text(re.compile(r"running · step"))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    # Resumed from its checkpoint (not from step 0): its first running step is past 0 and at most the cut.
    deadline, first = time.monotonic() + 90, None
    while first is None:
        assert time.monotonic() < deadline, "the resumed run never showed as running with its step"
        first = _step(grace, "running")
        grace.wait_for_timeout(200)
    assert 0 < first, f"resumed from step 0, not its checkpoint (the cut was {cut})"
    # Then it trains on past the cut. It once stopped at once as "diverged" here (CI, stop 23; two full runs, stop
    # 24): its divergence bar came from its first resumed batch, ~1e-5 with batch 1 and trained weights, and with the
    # toy sets' Adam rate (0.03) an ordinary window of batches passed it (20 of 53 resumes in the engine, 982f9aa^).
    deadline, readings = time.monotonic() + 60, [first]
    while not (readings[-1] or 0) > cut and time.monotonic() < deadline:
        grace.wait_for_timeout(1000)
        readings.append(_step(grace, "running"))
    if not (readings[-1] or 0) > cut:  # what the page showed, kept for the failure's report
        text = grace.locator("[data-testid=stMain]").inner_text()
        (RESULTS / "replica-resume-page.txt").write_text(text)
        grace.screenshot(path=str(RESULTS / "replica-resume.png"), full_page=True)
        said = " | ".join(line for line in text.splitlines() if "step" in line or "Run " in line)[:1500]
        pytest.fail(f"the resumed run did not train past the cut {cut} in 60 s: steps read {readings[:12]}…; "
                    f"stored {_run_row(replicas, grace_token)}; the page's run lines: {said}")
    if grace.locator(".st-key-tr-stop button").is_enabled():  # still live: stopped, not left to the server's end
        grace.locator(".st-key-tr-stop button").click()
    wait_idle(grace)
    assert_no_exception(grace)
    for page in (ada, grace):
        page.context.close()
