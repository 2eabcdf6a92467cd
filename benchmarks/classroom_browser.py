"""Classroom students in a browser: N Playwright contexts in one headless Chromium (Debian's), the original driver.

Each context repeats the path of classroom_ws.py through the real frontend: open /Build?net=p.<preset>,
sidebar link to Convolution and "Next ▶", sidebar link to Train, 2 epochs, start a run on digits and watch
it, sidebar link to Inspect and its Attribution tab. A click counts until the app is connected, its script
idle and nothing stale. The browsers run on the same machine as the server and, on 2 cores, take most of
the CPU (see benchmarks/CLASSROOM.md): use this driver to check the frontend, classroom_ws.py to load the
server.
"""
from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass, field

from playwright.async_api import async_playwright

from classroom_server import cpu_seconds, descendants

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


async def train(stats: Stats, student: int, page, t_start: float, watch_s: float, n_epochs: int = 2) -> None:
    epochs = page.locator(".st-key-tr-epochs input")
    if not await epochs.is_visible():  # the settings expander is closed once runs exist: open it
        await page.get_by_text("Data and training settings").first.click()
        await epochs.wait_for(state="visible")
    await epochs.fill(str(n_epochs))
    await timed(stats, "set epochs", page, lambda: epochs.press("Enter"))
    await timed(stats, "start run", page, page.locator(".st-key-tr-start button").click)
    confirm = page.locator(".st-key-tr-start-confirm button")
    if await confirm.count():  # over the runs a session keeps: it names the oldest to delete
        await timed(stats, "confirm start", page, confirm.click)
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


async def student(n: int, browser, url: str, stats: Stats, t_start: float, end: float, watch_s: float,
                  preset: str = "tiny-vgg", epochs: int = 2) -> None:
    """One browser context walking the path again and again until ``end``."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(60_000)
    try:
        while time.monotonic() < end:
            step = "build"
            try:
                t0 = time.monotonic()
                await page.goto(f"{url}/Build?net=p.{preset}")
                await wait_idle(page)
                stats.click("open Build (link)", time.monotonic() - t0)
                step = "convolution"
                await nav(stats, page, "Convolution")
                await timed(stats, "conv Next", page, page.locator(".st-key-conv_next button").click)
                step = "train"
                await nav(stats, page, "Train")
                await train(stats, n, page, t_start, watch_s, epochs)
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


async def warm_up(browser, url: str, preset: str = "tiny-vgg") -> None:
    """One student opens every page once first: the server's first imports are not a classroom's steady state."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(180_000)
    await page.goto(f"{url}/Build?net=p.{preset}")
    await wait_idle(page, 180_000)
    for label in ("Convolution", "Train", "Inspect"):
        await nav(None, page, label)
    await context.close()


async def run_class(url: str, students: int, duration: float, watch_s: float, stats: Stats, server_pid: int,
                    on_warm, preset: str = "tiny-vgg", epochs: int = 2):
    """Warm up, call ``on_warm()`` (the baseline is taken there), then the whole class for ``duration`` s."""
    executable = next((p for p in CHROMIUMS if os.path.exists(p)), None)
    if executable is None:
        raise RuntimeError("no Chromium at /usr/bin/chromium")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            await warm_up(browser, url, preset)
            await asyncio.to_thread(on_warm)
            t_start = time.monotonic()
            end = t_start + duration
            tasks = []
            for n in range(students):  # a class arrives over a few seconds, not in one instant
                tasks.append(asyncio.create_task(student(n, browser, url, stats, t_start, end, watch_s, preset,
                                                          epochs)))
                await asyncio.sleep(0.2)
            await asyncio.gather(*tasks)
        finally:
            stats.browser_cpu = cpu_seconds(_browser_pids(server_pid))  # read before the processes exit
            await browser.close()


def _browser_pids(server_pid: int) -> list[int]:
    """Our child processes other than the server's tree: the Playwright driver and Chromium."""
    server = set(descendants(server_pid))
    return [p for p in descendants(os.getpid()) if p != os.getpid() and p not in server]


