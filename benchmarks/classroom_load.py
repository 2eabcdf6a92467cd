"""Classroom load: N students on one server, each walking Build → Convolution → Train → Inspect for a while.

Starts `streamlit run app.py`, opens N browser contexts in one headless Chromium (Playwright, async) and
has each one repeat a realistic path until the duration is up:

1. open /Build?net=p.tiny-vgg (load a preset from a shared link);
2. sidebar link to Convolution, press "Next ▶" (one animation step);
3. sidebar link to Train, set 2 epochs, start a run on digits, watch it until it ends (or 30 s);
4. sidebar link to Inspect, open the Attribution tab (saliency is the default method).

Reports errors, click-to-updated-view times (click → the app connected, script idle, nothing stale),
the server's RSS and thread count (from /proc), training runs seen running versus queued at once, and
how long the server's threads take to come back to the baseline after every context is closed.

    .venv/bin/python benchmarks/classroom_load.py --students 30 --duration 120

Why Playwright rather than a bare websocket client: a client speaking Streamlit's protocol
(BackMsg/ForwardMsg protobufs over /_stcore/stream) would need to replay widget ids and states the
frontend computes, and would skip the browser's own work; contexts in one Chromium share a process
tree, so 30 of them cost far less than 30 browsers (see the report for the measured browser CPU).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-headless-shell")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--disable-renderer-backgrounding", "--disable-background-timer-throttling"]
CONNECTED = "[data-testid=stApp][data-test-connection-state=CONNECTED]"
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
STALE = "[data-stale=true]"
STATE = re.compile(r"\*\*(\w+)\*\*|: (\w+) · step")
TERMINAL = ("finished", "stopped", "diverged", "failed", "timeout")
QUEUE = re.compile(r"place (\d+) in the queue")


@dataclass
class Stats:
    """Everything the students measured, appended from one event loop (no locks needed)."""

    clicks: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    paths: int = 0
    runs_started: int = 0
    run_states: list[tuple[float, int, str]] = field(default_factory=list)  # (time, student, state)
    max_queue_place: int = 0
    browser_cpu: float = 0.0

    def click(self, name: str, seconds: float) -> None:
        self.clicks.setdefault(name, []).append(seconds)


# --- server -------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_server(port: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true", f"--server.port={port}",
         "--server.address=127.0.0.1", "--server.fileWatcherType=none", "--browser.gatherUsageStats=false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while not healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not start; see {log_path}")
        time.sleep(0.25)
    return proc


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    pgid = os.getpgid(proc.pid)
    os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=10)


def proc_status(pid: int) -> tuple[int, int]:
    """(RSS in bytes, threads) of one process, from /proc/<pid>/status; (0, 0) once it is gone."""
    rss = threads = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
    except OSError:
        pass
    return rss, threads


def thread_names(pid: int) -> dict[str, int]:
    """How many of the process's threads carry each name (/proc/<pid>/task/*/comm)."""
    names: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            name = (task / "comm").read_text().strip()
        except OSError:
            continue
        names[name] = names.get(name, 0) + 1
    return names


def descendants(pid: int) -> list[int]:
    """The process and all its children (streamlit may spawn none, but count them if it does)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes, in seconds."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick


class Sampler(threading.Thread):
    """Polls the server's RSS (with children) and thread count every 0.5 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stopped = pid, [], threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            pids = descendants(self.pid)
            stats = [proc_status(p) for p in pids]
            self.samples.append((time.monotonic(), sum(r for r, _ in stats), proc_status(self.pid)[1]))
            self.stopped.wait(0.5)


# --- one student --------------------------------------------------------------------------------------------

async def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """As tests/browser/helpers.wait_idle: connected, script finished, nothing stale."""
    await page.wait_for_selector(CONNECTED, timeout=timeout_ms)
    await page.wait_for_selector(IDLE, timeout=timeout_ms)
    await page.wait_for_selector(STALE, state="detached", timeout=timeout_ms)
    await page.wait_for_timeout(100)
    await page.wait_for_selector(IDLE, timeout=timeout_ms)


async def timed(stats: Stats, name: str, page, action) -> None:
    """Click, then wait until the view is updated; records the seconds."""
    t0 = time.monotonic()
    await action()
    await wait_idle(page)
    stats.click(name, time.monotonic() - t0)


async def exceptions(page) -> int:
    return await page.locator("[data-testid=stException]").count()


# An element each page draws, so a sidebar click is timed until the new page is there (not the old one idle).
LANDMARKS = {"Convolution": ".st-key-conv_next", "Train": ".st-key-tr-start", "Inspect": "[data-testid=stTab]"}


async def nav(stats: Stats | None, page, label: str) -> None:
    """Follow the sidebar link (same browser session) and wait until the new page is drawn and idle."""
    t0 = time.monotonic()
    await page.locator("[data-testid=stSidebarNav] a", has_text=label).first.click()
    await page.locator(LANDMARKS[label]).first.wait_for(state="visible")
    await wait_idle(page)
    if stats is not None:
        stats.click(f"open {label}", time.monotonic() - t0)


async def run_state(page) -> str | None:
    bar = page.locator("[data-testid=stProgress]").first
    if not await bar.count():
        return None
    text = await bar.inner_text()
    match = STATE.search(text)
    return (match.group(1) or match.group(2)) if match else None


async def train(stats: Stats, student: int, page, t_start: float, watch_s: float) -> None:
    epochs = page.locator(".st-key-tr-epochs input")
    if not await epochs.is_visible():  # the settings expander is closed once runs exist: open it
        await page.get_by_text("Data and training settings").first.click()
        await epochs.wait_for(state="visible")
    await epochs.fill("2")
    await timed(stats, "set epochs", page, lambda: epochs.press("Enter"))
    await timed(stats, "start run", page, page.locator(".st-key-tr-start button").click)
    stats.runs_started += 1
    deadline = time.monotonic() + watch_s
    while time.monotonic() < deadline:
        state = await run_state(page)
        if state:
            stats.run_states.append((time.monotonic() - t_start, student, state))
        body = await page.locator("[data-testid=stMain]").inner_text()
        if m := QUEUE.search(body):
            stats.max_queue_place = max(stats.max_queue_place, int(m.group(1)))
        if state in TERMINAL:
            break
        await asyncio.sleep(1.0)
    stats.run_states.append((time.monotonic() - t_start, student, "left"))


async def student(n: int, browser, url: str, stats: Stats, t_start: float, end: float, watch_s: float) -> None:
    """One browser context walking the path again and again until ``end``."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(60_000)
    try:
        while time.monotonic() < end:
            step = "build"
            try:
                t0 = time.monotonic()
                await page.goto(f"{url}/Build?net=p.tiny-vgg")
                await wait_idle(page)
                stats.click("open Build (link)", time.monotonic() - t0)
                step = "convolution"
                await nav(stats, page, "Convolution")
                await timed(stats, "conv Next", page, page.locator(".st-key-conv_next button").click)
                step = "train"
                await nav(stats, page, "Train")
                await train(stats, n, page, t_start, watch_s)
                step = "inspect"
                await nav(stats, page, "Inspect")
                t0 = time.monotonic()
                await page.get_by_role("tab", name="Attribution").click()
                await page.locator(".st-key-inspect_overlay").wait_for(state="visible")
                stats.click("saliency tab", time.monotonic() - t0)
                if await exceptions(page):
                    stats.errors.append(f"student {n}: exception box on {step}")
                stats.paths += 1
            except Exception as exc:  # noqa: BLE001 - every failure is a counted error, the student goes on
                stats.errors.append(f"student {n} at {step}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
                await asyncio.sleep(1)
    finally:
        await context.close()


# --- the whole class ----------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def concurrency(run_states: list[tuple[float, int, str]]) -> tuple[int, int]:
    """Most runs seen running at once and most queued at once, from each student's latest observed state."""
    latest: dict[int, str] = {}
    most_running = most_queued = 0
    for _, who, state in sorted(run_states):
        latest[who] = state
        values = list(latest.values())
        most_running = max(most_running, values.count("running"))
        most_queued = max(most_queued, values.count("queued"))
    return most_running, most_queued


async def warm_up(browser, url: str) -> None:
    """One student opens every page once first: the server's first imports are not a classroom's steady state."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(180_000)
    await page.goto(f"{url}/Build?net=p.tiny-vgg")
    await wait_idle(page, 180_000)
    for label in ("Convolution", "Train", "Inspect"):
        await nav(None, page, label)
    await context.close()


async def run_class(url: str, students: int, duration: float, watch_s: float, stats: Stats, server_pid: int,
                    warm: list):
    executable = next((p for p in CHROMIUMS if os.path.exists(p)), None)
    if executable is None:
        raise RuntimeError("no Chromium at /usr/bin/chromium")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            await warm_up(browser, url)
            warm.extend(proc_status(server_pid))
            t_start = time.monotonic()
            end = t_start + duration
            tasks = []
            for n in range(students):  # a class arrives over a few seconds, not in one instant
                tasks.append(asyncio.create_task(student(n, browser, url, stats, t_start, end, watch_s)))
                await asyncio.sleep(0.2)
            await asyncio.gather(*tasks)
        finally:
            stats.browser_cpu = cpu_seconds(_browser_pids(server_pid))  # read before the processes exit
            await browser.close()


def _browser_pids(server_pid: int) -> list[int]:
    """Our child processes other than the server's tree: the Playwright driver and Chromium."""
    server = set(descendants(server_pid))
    return [p for p in descendants(os.getpid()) if p != os.getpid() and p not in server]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30, help="browser sessions at once (default 30)")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds each student keeps working")
    parser.add_argument("--watch", type=float, default=30.0, help="seconds a student watches a run at most")
    parser.add_argument("--settle", type=float, default=90.0,
                        help="seconds to wait for the server's threads to come back after the contexts close")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)

    log = ROOT / "test-results" / "classroom_load_streamlit.log"
    log.parent.mkdir(exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(port, log)
    stats = Stats()
    try:
        time.sleep(1)
        rss0, threads0 = proc_status(proc.pid)
        server_cpu0 = cpu_seconds(descendants(proc.pid))
        sampler = Sampler(proc.pid)
        sampler.start()
        t0 = time.monotonic()
        warm: list[int] = []  # (RSS, threads) after the warm-up student left
        asyncio.run(run_class(url, args.students, args.duration, args.watch, stats, proc.pid, warm))
        t_closed = time.monotonic()
        server_cpu = cpu_seconds(descendants(proc.pid)) - server_cpu0
        threads_peak = max(t for _, _, t in sampler.samples)
        # After the last context closes: sessions linger for disconnectedSessionTTL, runs for the heartbeat timeout.
        back_after = None
        while time.monotonic() - t_closed < args.settle:
            _, threads = proc_status(proc.pid)
            if threads <= warm[1] and back_after is None:
                back_after = time.monotonic() - t_closed
                break
            time.sleep(1)
        _, threads_end = proc_status(proc.pid)
        sampler.stopped.set()
        sampler.join()
        clicks = [v for values in stats.clicks.values() for v in values]
        running, queued = concurrency(stats.run_states)
        report = {
            "students": args.students, "duration_s": args.duration, "paths_completed": stats.paths,
            "errors": len(stats.errors), "error_samples": stats.errors[:10],
            "clicks": len(clicks), "p50_s": round(percentile(clicks, 0.5), 3),
            "p95_s": round(percentile(clicks, 0.95), 3), "max_s": round(max(clicks, default=float("nan")), 3),
            "per_action": {k: {"n": len(v), "p50_s": round(percentile(v, 0.5), 3),
                               "p95_s": round(percentile(v, 0.95), 3)} for k, v in sorted(stats.clicks.items())},
            "runs_started": stats.runs_started, "most_running_at_once": running, "most_queued_at_once": queued,
            "deepest_queue_place_seen": stats.max_queue_place,
            "rss_start_mb": round(rss0 / 2**20), "rss_peak_mb": round(max(r for _, r, _ in sampler.samples) / 2**20),
            "threads_start": threads0, "threads_after_warm_up": warm[1], "threads_peak": threads_peak,
            "threads_end": threads_end,
            "threads_back_to_warm_after_s": None if back_after is None else round(back_after, 1),
            "thread_names_end": thread_names(proc.pid),
            "server_cpu_s": round(server_cpu, 1), "browser_cpu_s": round(stats.browser_cpu, 1),
            "wall_s": round(t_closed - t0, 1),
        }
    finally:
        stop_server(proc)
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
