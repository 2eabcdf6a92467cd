"""Does drawing slow training? The same run timed bare (a Trainer in this process) and from the Train page in Chromium.

The page case starts `streamlit run app.py`, opens the Train page in headless Chromium, starts the run with the
live charts redrawing twice a second, and reads the training time the run itself reports (``elapsed`` in its
last record, shown on the page as the step counter reaches the end) against the same run here, on one torch
thread each (the server uses one on this machine). Goal: ratio ≥ 0.90.
With ``--pin`` the server and the bare run get core 0 and Chromium core 1, as when students' browsers run on their
own machines; without it all share every core (the browser's rendering then competes with training).
With ``--away`` the student starts the run and then reads the Build page until it is over: the same server and
browser without the live charts, which splits the cost of drawing from the cost of serving a page at all.
Run: python benchmarks/train_drawing.py [--epochs 30] [--pin] [--away]
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import engine  # noqa: E402
from engine.training import RunLimiter, TrainConfig, Trainer  # noqa: E402

PRESET = "mnist-cnn"  # adapted to the 8×8 digits by the Trainer, as on the page


def bare_seconds(epochs: int, pin: bool) -> float:
    """Training seconds of the run in this process, nobody drawing."""
    torch.set_num_threads(1)
    if pin:
        os.sched_setaffinity(0, {0})
    trainer = Trainer(engine.network.presets.get(PRESET), TrainConfig(dataset="digits", epochs=epochs, seed=0),
                      limiter=RunLimiter(1))
    trainer.start()
    while trainer.state not in ("finished", "stopped", "diverged", "failed"):
        trainer.heartbeat()
        time.sleep(0.2)
    return trainer.records()[-1]["elapsed"]


def page_seconds(epochs: int, pin: bool, away_for: float | None = None) -> float:
    """Training seconds of the same run started from the Train page, its charts redrawing live.

    With ``away_for`` seconds, the student goes to the Build page right after Start and comes back after that long.
    """
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    taskset = ["taskset", "-c", "0"] if pin else []
    server = subprocess.Popen([*taskset, sys.executable, "-m", "streamlit", "run", "app.py", f"--server.port={port}",
                               "--server.headless=true", "--browser.gatherUsageStats=false"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.25)
        if pin:  # the browser (started from this process) goes to the other core
            os.sched_setaffinity(0, {1})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/Build?net=p.{PRESET}")
            page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=120_000)
            page.get_by_role("link", name="Train").first.click()
            page.wait_for_selector(".st-key-tr-epochs input", timeout=120_000)
            page.locator(".st-key-tr-dataset").click()
            page.get_by_role("option", name=re.compile(r"^digits")).click()
            page.wait_for_timeout(1500)
            page.locator(".st-key-tr-epochs input").fill(str(epochs))
            page.locator(".st-key-tr-epochs input").press("Enter")
            page.wait_for_timeout(1500)
            page.locator(".st-key-tr-start button").click()
            if away_for:
                page.get_by_text(re.compile(r"running · step")).wait_for(timeout=60_000)
                page.get_by_role("link", name="Build").first.click()  # its keep_alive beats the run
                page.wait_for_timeout(away_for * 1000)
                page.get_by_role("link", name="Train").first.click()
            page.get_by_text(re.compile(r"finished · step")).wait_for(timeout=600_000)
            page.wait_for_timeout(1000)
            text = page.locator("body").inner_text()
            browser.close()
        match = re.search(r"trained for ([0-9.]+) s", text)
        if not match:
            raise SystemExit("the page did not report the training time; is the Train page up to date?")
        return float(match.group(1))
    finally:
        os.killpg(os.getpgid(server.pid), signal.SIGTERM)
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--pin", action="store_true", help="server on core 0, browser on core 1")
    parser.add_argument("--away", action="store_true", help="also time the run with the student on the Build page")
    args = parser.parse_args()
    if args.pin and len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("--pin needs two cores")
    bare = bare_seconds(args.epochs, args.pin)
    where = "server and bare run on core 0, browser on core 1" if args.pin else "browser and server share the cores"
    away = page_seconds(args.epochs, args.pin, away_for=3 * bare + 10) if args.away else None
    drawn = page_seconds(args.epochs, args.pin)
    print(f"{PRESET} on digits, {args.epochs} epochs ({where}): bare {bare:.1f} s, with the page drawing live "
          f"{drawn:.1f} s; throughput ratio {bare / drawn:.2f} (goal ≥ 0.90)")
    if away is not None:
        print(f"started from the page with the student on the Build page {away:.1f} s: ratio to bare {bare / away:.2f} "
              f"(the server itself); drawing live vs not drawing {away / drawn:.2f} (the drawing alone)")


if __name__ == "__main__":
    main()
