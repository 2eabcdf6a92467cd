"""One student's tab without a browser: a session on Streamlit's websocket protocol, as its frontend speaks it,
and what it measures (``Stats``). ``classroom_ws`` walks a class of them through the app.

One student is one websocket session on ``/_stcore/stream`` exchanging the same protobufs as Streamlit's
frontend (``BackMsg`` from the client, ``ForwardMsg`` from the server, streamlit 1.67):

- a page load sends ``rerun_script`` with the page's name (from the URL path) and its query string;
  the server answers ``new_session``, ``navigation`` (every page's ``page_script_hash``), deltas and
  ``script_finished``;
- a sidebar link sends ``rerun_script`` with the target ``page_script_hash`` (widget states dropped);
- a click or a typed value sends ``rerun_script`` with the page's widget states, the clicked button as a
  ``trigger_value``; widget ids come from the deltas (``$$ID-<hash>-<key>``: the ``key=`` is the suffix);
- ``auto_rerun`` (a fragment's ``run_every``) starts a timer that sends fragment reruns, as the frontend's
  ``setInterval`` does, until the next full run, a page change or ``stop_auto_rerun``.

Click-to-updated-view is the time from sending a rerun to the ``script_finished`` of the full run it
started: what a browser shows as "running" before the page is current again. It splits into the wait
before the server starts the script (``new_session``) and the script itself.
"""
from __future__ import annotations

import asyncio
import collections
import re
import time
import urllib.request
from dataclasses import dataclass, field

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

STATE = re.compile(r"\*\*(\w+)\*\*")
QUEUE = re.compile(r"place (\d+) in the queue")
TERMINAL = ("finished", "stopped", "diverged", "failed", "timeout")
FINISHED = re.compile(r"#(\d+) .*\*\*finished\*\* · step (\d+)/")  # the run's number and last step
TOKEN = re.compile(r"(?:^|&)ws=([^&]+)")
FULL_RUN_DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)


class Disconnected(Exception):
    """The server closed the websocket."""


@dataclass
class Click:
    """One timed rerun: seconds until its script finished, of which waiting before the script started."""

    seconds: float
    wait: float
    script: float


@dataclass
class Stats:
    """What the whole class measured, appended from one event loop (no locks needed)."""

    clicks: dict[str, list[Click]] = field(default_factory=dict)
    ticks: list[float] = field(default_factory=list)  # live-view fragment reruns, auto-rerun sent -> finished
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    paths: int = 0
    runs_started: int = 0
    run_states: list[tuple[float, int, str]] = field(default_factory=list)  # (time, student, state)
    max_queue_place: int = 0
    tokens: dict[int, str] = field(default_factory=dict)  # student -> workspace token (its link's ws=)
    started: dict[str, int] = field(default_factory=dict)  # workspace token -> runs its student started
    finished: list[tuple[str, int, int]] = field(default_factory=list)  # (token, run, last step) seen finished
    replicas: dict[int, str] = field(default_factory=dict)  # student -> replica (through a test balancer)

    def click(self, name: str, click: Click) -> None:
        self.clicks.setdefault(name, []).append(click)


class Session:
    """One browser tab's websocket session: open pages, click, type, and follow the server's replies."""

    def __init__(self, url: str, stats: Stats, who: int, timeout: float = 60.0):
        self.http, self.stats, self.who, self.timeout = url, stats, who, timeout
        self.ws = None
        self.cookie: str | None = None  # a load balancer's sticky cookie, sent back as a browser would
        self.pages: dict[str, str] = {}  # url path ("Train") -> page_script_hash
        self.page = ""  # page_script_hash of the page on screen
        self.query = ""  # the address bar's query string, as the server last set it
        self.widgets: dict[str, str] = {}  # key= -> widget id on the current page
        self.values: dict[str, object] = {}  # widget id -> WidgetState the student has set on this page
        self.progress = ""  # latest progress-bar text (the Train page's run status)
        self.progress_runs = 0  # full runs started when that text came
        self.progress_in_fragment = False  # that text came from a fragment run
        self._in_fragment = False  # the run whose deltas arrive now is a fragment run
        self.queue_place: int | None = None
        self._reader: asyncio.Task | None = None
        self._timers: dict[str, asyncio.Task] = {}  # fragment id -> auto-rerun timer
        self._waiter: asyncio.Future | None = None
        self._sent = self._started = 0.0
        self._mine: str | None = None  # the full run that answers the rerun being timed
        self._full_run: str | None = None  # the full run in progress, if any
        self._full_runs = 0  # full runs started so far
        self._idle = asyncio.Event()
        self._ticks: dict[str, float] = {}  # fragment id -> when its auto-rerun was sent
        self._closing = False
        self._events: collections.deque = collections.deque(maxlen=10)  # the last run events, for a timeout's report

    # --- the websocket -----------------------------------------------------------------------------------

    async def connect(self) -> None:
        host = self.http.split("//", 1)[1]
        # Browsers send no websocket pings of their own (the server pings); none here either.
        self.ws = await websockets.connect(f"ws://{host}/_stcore/stream", subprotocols=["streamlit"],
                                           origin=self.http, max_size=None, ping_interval=None,
                                           open_timeout=self.timeout,
                                           additional_headers={"Cookie": self.cookie} if self.cookie else None)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        self._closing = True
        self._cancel_timers()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _send(self, msg: BackMsg) -> None:
        try:
            await self.ws.send(msg.SerializeToString())
        except websockets.ConnectionClosed as err:
            raise Disconnected(str(err)) from err

    def _rerun_msg(self, *, page: str = "", page_name: str = "", query: str | None = None,
                   states: list | None = None, fragment: str = "", auto: bool = False) -> BackMsg:
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = self.query if query is None else query
        rerun.page_script_hash = page
        rerun.page_name = page_name
        rerun.fragment_id = fragment
        rerun.is_auto_rerun = auto
        rerun.widget_states.widgets.extend(states or [])
        rerun.context_info.timezone = "UTC"
        rerun.context_info.locale = "en-US"
        rerun.context_info.url = f"{self.http}/"
        return msg

    # --- what a student does -----------------------------------------------------------------------------

    async def open(self, page_name: str, query: str = "", assets: bool = False) -> Click:
        """A page load from a link: the HTML (and, the first time, its scripts and styles), then the session."""
        self.cookie, replica = await asyncio.to_thread(_fetch_page, self.http, f"/{page_name}?{query}", assets,
                                                       self.cookie)
        if replica:
            self.stats.replicas[self.who] = replica
        if self.ws is None:
            await self.connect()
        return await self._rerun(self._rerun_msg(page_name=page_name, query=query), new_page=True)

    async def goto(self, page: str, query: str = "") -> Click:
        """A sidebar (or in-app) link: the other page's script hash; the query string and widget states go."""
        self._cancel_timers()  # the frontend clears auto-reruns on a page change, before sending
        return await self._rerun(self._rerun_msg(page=self.pages[page], query=query), new_page=True)

    async def click(self, key: str) -> Click:
        """Press the button with this key=."""
        trigger = _state(self.widget(key), trigger_value=True)
        return await self._rerun(self._rerun_msg(page=self.page, states=self._states(trigger)))

    async def set_number(self, key: str, value: float) -> Click:
        """Type a value into the number_input with this key= and press Enter."""
        widget_id = self.widget(key)
        self.values[widget_id] = _state(widget_id, double_value=float(value))
        return await self._rerun(self._rerun_msg(page=self.page, states=self._states()))

    async def wait_rerun(self, grace: float = 3.0) -> None:
        """Wait for the full run the page starts itself (st.rerun) to finish, if one starts within ``grace`` s.

        Counted from the progress text the student read: the rerun may already be under way, or the text may
        have come from that full run itself.
        """
        started = self.progress_runs
        deadline = time.monotonic() + grace
        while self.progress_in_fragment and self._full_runs == started and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._full_run is not None:
            try:
                await asyncio.wait_for(self._idle.wait(), self.timeout)
            except asyncio.TimeoutError:
                raise TimeoutError(f"the page did not finish within {self.timeout:.0f} s; {self._trail()}") from None

    def _trail(self) -> str:
        """What the server last said about runs (a timeout's report): which full run was awaited, and events."""
        now = time.monotonic()
        events = " ".join(f"{now - t:.1f}s:{e}" for t, e in self._events)
        return f"waiting for run {str(self._full_run)[:6]}, mine {str(self._mine)[:6]}; {events}"

    def widget(self, key: str) -> str:
        if key not in self.widgets:
            raise LookupError(f"no widget with key={key!r} on this page")
        return self.widgets[key]

    def _states(self, *extra) -> list:
        return [*self.values.values(), *extra]

    async def _rerun(self, msg: BackMsg, new_page: bool = False) -> Click:
        if new_page:
            self.values.clear()
        self._waiter = asyncio.get_running_loop().create_future()
        self._sent = time.monotonic()
        self._started = 0.0
        self._mine = None
        await self._send(msg)
        return await self._wait()

    async def _wait(self) -> Click:
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(asyncio.shield(self._waiter), self.timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"the page did not finish within {self.timeout:.0f} s; {self._trail()}") from None

    # --- what the server sends ---------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            self._cancel_timers()
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_exception(Disconnected("the server closed the connection"))
            if not self._closing:
                self.stats.errors.append(f"student {self.who}: disconnected")

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        run = msg.metadata.run
        if kind in ("new_session", "script_finished"):
            what = "start" if kind == "new_session" else f"end{msg.script_finished}"
            self._events.append((time.monotonic(), f"{what}:{run.script_run_id[:6]}{'/f' if run.fragment_ids else ''}"))
        if kind == "new_session":
            self._in_fragment = bool(run.fragment_ids)
            if not run.fragment_ids:  # a full run: the frontend drops its auto-rerun timers here
                self._cancel_timers()
                self.page = msg.new_session.page_script_hash
                self._full_run, self._full_runs = run.script_run_id, self._full_runs + 1
                self._idle.clear()
                self.widgets.clear()
                if self._waiter is not None and not self._waiter.done():
                    # The latest full run wins: one replaced by a newer request never reports its end.
                    self._mine, self._started = run.script_run_id, time.monotonic()
        elif kind == "navigation":
            self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element)
        elif kind == "delta" and msg.delta.WhichOneof("type") == "add_block":
            block_id = msg.delta.add_block.id
            if block_id.startswith("$$ID"):
                self.widgets[block_id.split("-", 2)[-1]] = block_id
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment in msg.stop_auto_rerun.fragment_ids:
                self._cancel_timers(fragment)
        elif kind == "page_not_found":
            self.stats.errors.append(f"student {self.who}: page not found ({msg.page_not_found.page_name})")
        elif kind == "script_finished":
            self._finished(msg.script_finished, run)

    def _element(self, element) -> None:
        kind = element.WhichOneof("type")
        proto = getattr(element, kind)
        widget_id = getattr(proto, "id", "")
        if widget_id.startswith("$$ID"):
            self.widgets[widget_id.split("-", 2)[-1]] = widget_id
            if getattr(proto, "set_value", False):  # the server changed it (session_state): its value wins
                self.values.pop(widget_id, None)
        if kind == "exception":
            self.stats.errors.append(f"student {self.who}: exception {proto.type}: {proto.message[:120]}")
        elif kind == "alert":
            if proto.format == Alert.ERROR:
                self.stats.errors.append(f"student {self.who}: error box: {proto.body[:160]}")
            elif proto.format == Alert.WARNING:
                self.stats.warnings.append(f"student {self.who}: {proto.body[:160]}")
            if m := QUEUE.search(proto.body):
                self.queue_place = int(m.group(1))
                self.stats.max_queue_place = max(self.stats.max_queue_place, self.queue_place)
        elif kind == "progress":
            self.progress, self.progress_runs = proto.text, self._full_runs
            self.progress_in_fragment = self._in_fragment

    def _finished(self, status, run) -> None:
        now = time.monotonic()
        if run.fragment_ids:
            for fragment in run.fragment_ids:
                if (sent := self._ticks.pop(fragment, None)) is not None:
                    self.stats.ticks.append(now - sent)
            return
        if status not in FULL_RUN_DONE or run.script_run_id != self._full_run:
            return  # stopped for a rerun: the newer run reports instead
        self._full_run = None
        self._idle.set()
        if run.script_run_id != self._mine:
            return
        if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
            self.stats.errors.append(f"student {self.who}: the page's script did not compile")
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(Click(now - self._sent, self._started - self._sent, now - self._started))

    # --- fragment auto-reruns ----------------------------------------------------------------------------

    def _start_timer(self, fragment: str, interval: float) -> None:
        self._cancel_timers(fragment)
        self._timers[fragment] = asyncio.create_task(self._tick(fragment, interval))

    async def _tick(self, fragment: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self._ticks.setdefault(fragment, time.monotonic())
            try:
                await self._send(self._rerun_msg(page=self.page, states=self._states(), fragment=fragment,
                                                 auto=True))
            except Disconnected:
                return

    def _cancel_timers(self, fragment: str | None = None) -> None:
        for name in [fragment] if fragment else list(self._timers):
            if task := self._timers.pop(name, None):
                task.cancel()


def _state(widget_id: str, **value):
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    return WidgetState(id=widget_id, **value)


ASSET = re.compile(r'(?:src|href)="\./(static/[^"]+)"')


def _fetch_page(url: str, path: str, assets: bool, cookie: str | None = None) -> tuple[str | None, str | None]:
    """GET what a browser gets before the websocket opens (the HTML, host config and, once, its assets).

    Returns the cookie to send from now on (a balancer's sticky one, if it set one) and the replica that served
    the page (the test balancer's header; None without one)."""
    def get(path: str):
        return urllib.request.urlopen(urllib.request.Request(url + path, headers={"Cookie": cookie} if cookie
                                                             else {}), timeout=60)

    with get(path) as response:
        html = response.read().decode("utf-8", "replace")
        cookie = (response.headers.get("Set-Cookie") or "").split(";", 1)[0] or cookie
        replica = response.headers.get("X-Test-Replica")
    for extra in ["/_stcore/host-config", "/_stcore/health"] + (
            [f"/{a}" for a in ASSET.findall(html)] if assets else []):
        with get(extra) as response:
            response.read()
    return cookie, replica
