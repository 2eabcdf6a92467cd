"""Classroom students without a browser: each one a websocket session (``ws_session.Session``) walking Build →
Convolution → Train → Inspect as a student would, timed click by click into one ``Stats``; ``run_class`` runs the
whole class (``classroom_load.py --driver ws``).
"""
from __future__ import annotations

import asyncio
import random
import time

from ws_session import FINISHED, STATE, TERMINAL, TOKEN, Disconnected, Session, Stats

__all__ = ["Stats", "run_class", "student", "watch", "warm_up"]


# --- one student's path ---------------------------------------------------------------------------------

async def student(n: int, url: str, stats: Stats, t_start: float, end: float, watch_s: float,
                  preset: str = "tiny-vgg", epochs: int = 2, rounds: int | None = None, reload: bool = False,
                  think: float = 0.0) -> None:
    """One tab walking Build → Convolution → Train → Inspect again and again until ``end`` (or ``rounds``).

    ``think``: mean seconds a student looks at the page before the next click (uniform in 0.5–1.5 × think,
    seeded per student); 0 clicks as soon as the view is updated. ``reload``: open the shared link anew each
    round (a new session, as the browser driver's page.goto does) rather than follow an in-app link to it.
    """
    s = Session(url, stats, n)
    link = f"net=p.{preset}"
    rng = random.Random(n)
    first, done = True, 0

    async def act(name: str, action) -> None:
        if think:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
        stats.click(name, await action())

    try:
        while time.monotonic() < end and (rounds is None or done < rounds):
            step, done = "build", done + 1
            try:
                if reload and not first:
                    await s.close()
                    s = Session(url, stats, n)
                    await act("open Build (link)", lambda: s.open("Build", link))
                elif first:  # the shared link, opened once; later rounds follow an in-app link to it
                    await act("open Build (link)", lambda: s.open("Build", link, assets=True))
                    first = False
                else:
                    await act("open Build (link)", lambda: s.goto("Build", link))
                step = "convolution"
                await act("open Convolution", lambda: s.goto("Convolution"))
                await act("conv Next", lambda: s.click("conv_next"))
                step = "train"
                await act("open Train", lambda: s.goto("Train"))
                await act("set epochs", lambda: s.set_number("tr-epochs", epochs))
                await act("start run", lambda: s.click("tr-start"))
                if "tr-start-confirm" in s.widgets:  # over the runs a session keeps: it names the oldest to delete
                    await act("confirm start", lambda: s.click("tr-start-confirm"))
                stats.runs_started += 1
                if token := TOKEN.search(s.query):  # the workspace the app made for this session
                    stats.tokens[n] = token.group(1)
                    stats.started[token.group(1)] = stats.started.get(token.group(1), 0) + 1
                await watch(s, stats, n, t_start, watch_s)
                step = "inspect"
                await act("open Inspect", lambda: s.goto("Inspect"))
                await act("saliency: next sample", lambda: s.set_number("inspect_index", 1 + done % 50))
                stats.paths += 1
            except (Disconnected, TimeoutError, LookupError, KeyError, OSError) as exc:
                stats.errors.append(f"student {n} at {step}: {type(exc).__name__}: {str(exc)[:700]}")
                await s.close()
                s, first = Session(url, stats, n), True  # a student who lost the page reloads it
                await asyncio.sleep(1)
    finally:
        await s.close()


async def watch(s: Session, stats: Stats, who: int, t_start: float, watch_s: float) -> None:
    """Watch the live view (its fragment reruns itself) until the run ends or the student moves on."""
    s.queue_place = None
    deadline = time.monotonic() + watch_s
    state = None
    while time.monotonic() < deadline:
        m = STATE.search(s.progress)
        state = m.group(1) if m else None
        if state:
            stats.run_states.append((time.monotonic() - t_start, who, state))
        if state in TERMINAL:
            if (done := FINISHED.search(s.progress)) and (token := TOKEN.search(s.query)):
                stats.finished.append((token.group(1), int(done.group(1)), int(done.group(2))))
            await s.wait_rerun()  # the view's own st.rerun draws the results
            break
        await asyncio.sleep(0.5)
    stats.run_states.append((time.monotonic() - t_start, who, "left"))


async def warm_up(url: str, stats: Stats) -> None:
    """One student walks the path once with a run to its end: first imports are not a class's steady state."""
    t = time.monotonic()
    await student(-1, url, stats, t, t + 600, watch_s=120, rounds=1)


async def run_class(url: str, students: int, duration: float, watch_s: float, stats: Stats, on_warm,
                    preset: str = "tiny-vgg", epochs: int = 2, reload: bool = False, think: float = 0.0,
                    warm_urls: list[str] | None = None) -> None:
    """Warm up (each of ``warm_urls``: every replica behind a balancer), call ``on_warm()`` (the baseline is
    taken there), then the whole class for ``duration`` s."""
    warm = Stats()
    for warm_url in warm_urls or [url]:
        await warm_up(warm_url, warm)
    if warm.errors:
        raise RuntimeError(f"the warm-up student failed: {warm.errors[:3]}")
    await asyncio.to_thread(on_warm)
    t_start = time.monotonic()
    end = t_start + duration
    tasks = []
    for n in range(students):  # a class arrives over a few seconds, not in one instant
        tasks.append(asyncio.create_task(student(n, url, stats, t_start, end, watch_s, preset, epochs,
                                                  reload=reload, think=think)))
        await asyncio.sleep(0.2)
    await asyncio.gather(*tasks)
