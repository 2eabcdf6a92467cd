"""The server side of the classroom benchmark: start `streamlit run app.py`, watch it through /proc, count its threads.

``python benchmarks/classroom_server.py serve <streamlit options>`` runs Streamlit's own command line in this
process after installing a SIGUSR1 handler that writes every Python thread (name, target, innermost frames)
to the JSON file named by ``CLASSROOM_CENSUS``: py-spy is not installed here, and /proc only knows the
threads as "python". The app itself is unchanged. Without ``serve`` the script does nothing (``make bench``
runs every file in benchmarks/).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.server
from tests import server as serving  # noqa: E402
from tests.server import free_port, healthy  # noqa: E402, F401 (re-exported for classroom_load)

ROOT = Path(__file__).resolve().parents[1]
CENSUS_ENV = "CLASSROOM_CENSUS"
PROFILE_ENV = "CLASSROOM_PROFILE"
IDLE_FRAMES = {"wait", "select", "poll", "sleep", "_wait_for_tstate_lock", "acquire", "get", "run_forever"}


# --- inside the server process --------------------------------------------------------------------------

def _frame_label(fs: traceback.FrameSummary) -> str:
    path = fs.filename
    for marker in ("site-packages/", "/lib/python3", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{fs.lineno} {fs.name}"


class _LimiterWatch(threading.Thread):
    """Samples the server's run limiter (engine.training.LIMITER) every 0.2 s: runs training vs queued, as the
    server sees them (a student's status text lags by a live-view tick)."""

    def __init__(self):
        super().__init__(name="classroom-limiter-watch", daemon=True)
        self.most_running = self.most_queued = 0
        self.slots = None

    def run(self) -> None:
        while True:
            runner = sys.modules.get("engine.training.runner")  # imported by the first page that trains
            if runner is not None:
                limiter = runner.LIMITER
                self.slots = limiter.slots
                self.most_running = max(self.most_running, limiter.running)
                self.most_queued = max(self.most_queued, len(limiter._queue))  # a list length: atomic read
            time.sleep(0.2)


class _Sampler(threading.Thread):
    """A poor man's py-spy: every 20 ms, where each thread is (wall-clock samples; a thread waiting for the GIL
    counts where it waits). Script threads are attributed to their page and to the innermost frame of this
    repository's code (views/, ui/, engine/) and of any code."""

    def __init__(self):
        super().__init__(name="classroom-sampler", daemon=True)
        self.counts: dict[str, dict[str, int]] = {"page": {}, "app": {}, "any": {}, "other": {}}

    def _add(self, table: str, label: str) -> None:
        self.counts[table][label] = self.counts[table].get(label, 0) + 1

    def run(self) -> None:
        me, root = threading.get_ident(), str(ROOT)
        while True:
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                stack = []  # innermost first; no source lines read (traceback would, every 20 ms)
                while frame is not None:
                    stack.append(traceback.FrameSummary(frame.f_code.co_filename, frame.f_lineno,
                                                        frame.f_code.co_name, lookup_line=False))
                    frame = frame.f_back
                page = next((Path(fs.filename).stem for fs in stack if "/views/" in fs.filename), None)
                ours = [fs for fs in stack if fs.filename.startswith(root) and "/benchmarks/" not in fs.filename]
                if page is None and "script" in names.get(ident, "").lower():
                    page = "app" if any(fs.filename.endswith("app.py") for fs in ours) else "streamlit"
                if page is not None:
                    self._add("page", page)
                    self._add("app", f"{page} | {_frame_label(ours[0]) if ours else '(streamlit)'}")
                    self._add("any", f"{page} | {_frame_label(stack[0])}")
                elif stack and stack[0].name not in IDLE_FRAMES:
                    kind = re.sub(r"[0-9]+", "N", names.get(ident, "?"))
                    self._add("other", f"{kind} | {_frame_label(ours[0] if ours else stack[0])}")
            time.sleep(0.02)

    def top(self, n: int = 25) -> dict:
        return {table: dict(sorted(c.items(), key=lambda kv: -kv[1])[:n]) for table, c in self.counts.items()}


class _Timing:
    """Server-side times: rerun received (event loop) → script started (queueing), the script itself per page
    and kind of run, and the event loop's lag (how late a 0.1 s timer fires)."""

    def __init__(self):
        self.received: dict[str, float] = {}  # session id -> when its last full rerun request was handled
        self.queue: list[float] = []
        self.scripts: dict[str, list[float]] = {}
        self.lag: list[float] = []
        self.lock = threading.Lock()

    def install(self) -> None:
        from streamlit.runtime.app_session import AppSession
        from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

        timing, handle, run_script = self, AppSession.handle_backmsg, ScriptRunner._run_script

        def handle_backmsg(session, msg):
            if msg.WhichOneof("type") == "rerun_script" and not msg.rerun_script.fragment_id:
                timing.received[session.id] = time.monotonic()
            if not timing.lag and not getattr(timing, "_lag_task", None):
                import asyncio

                timing._lag_task = asyncio.get_running_loop().create_task(timing.watch_loop())
            return handle(session, msg)

        def _run_script(runner, rerun_data):
            t0 = time.monotonic()
            fragment = bool(rerun_data.fragment_id or rerun_data.fragment_id_queue or rerun_data.is_auto_rerun)
            if not fragment and (sent := timing.received.pop(runner._session_id, None)) is not None:
                with timing.lock:
                    timing.queue.append(t0 - sent)
            try:
                return run_script(runner, rerun_data)
            finally:
                pages = runner._pages_manager.get_pages()
                page = pages.get(rerun_data.page_script_hash, {}).get("page_name") or rerun_data.page_name or "?"
                with timing.lock:
                    timing.scripts.setdefault(f"{page}{' (fragment)' if fragment else ''}", []).append(
                        time.monotonic() - t0)

        AppSession.handle_backmsg, ScriptRunner._run_script = handle_backmsg, _run_script

    async def watch_loop(self) -> None:
        import asyncio

        while True:
            t0 = time.monotonic()
            await asyncio.sleep(0.1)
            self.lag.append(time.monotonic() - t0 - 0.1)

    def summary(self) -> dict:
        def stats(v):
            v = sorted(v)
            return {"n": len(v), "p50_s": round(v[len(v) // 2], 3), "p95_s": round(v[int(0.95 * (len(v) - 1))], 3),
                    "total_s": round(sum(v), 1)} if v else None

        with self.lock:
            return {"queue": stats(self.queue), "event_loop_lag": stats(self.lag),
                    "scripts": {k: stats(v) for k, v in sorted(self.scripts.items())}}


_WATCH = _LimiterWatch()
_SAMPLER = _Sampler()
_TIMING = _Timing()


def _write_census(signum=None, frame=None) -> None:
    """Every live Python thread with its target (outermost frame below threading) and innermost frames."""
    frames = sys._current_frames()
    threads = []
    for t in threading.enumerate():
        stack = traceback.extract_stack(frames[t.ident]) if t.ident in frames else []
        own = [fs for fs in stack if not fs.filename.endswith("threading.py")] or stack
        threads.append({"name": t.name, "daemon": t.daemon,
                        "target": _frame_label(own[0]) if own else "?",
                        "top": [_frame_label(fs) for fs in stack[-3:]]})
    path = os.environ[CENSUS_ENV]
    with open(path + ".tmp", "w") as f:
        json.dump({"time": time.time(), "threads": threads, "limiter": {
            "slots": _WATCH.slots, "most_running": _WATCH.most_running, "most_queued": _WATCH.most_queued},
            "profile": {**_SAMPLER.top(), "timing": _TIMING.summary()} if _SAMPLER.is_alive() else None}, f,
            indent=1)
    os.replace(path + ".tmp", path)


def serve(argv: list[str]) -> None:
    """Run `streamlit <argv>` here, with the census on SIGUSR1."""
    if os.environ.get(CENSUS_ENV):
        signal.signal(signal.SIGUSR1, _write_census)
        _WATCH.start()
    if os.environ.get(PROFILE_ENV):
        _SAMPLER.start()
        _TIMING.install()
    from streamlit.web import cli

    sys.argv = ["streamlit", *argv]
    cli.main(prog_name="streamlit")


# --- from the benchmark -----------------------------------------------------------------------------------

def start_server(port: int, log_path: Path, census_path: Path | None = None,
                 profile: bool = False, env: dict | None = None) -> subprocess.Popen:
    """`streamlit run app.py` on 127.0.0.1:port with the repository's config, through ``serve``; ``env``: more
    environment variables (a replica's database)."""
    env = {**os.environ, **(env or {})}
    if census_path is not None:
        env[CENSUS_ENV] = str(census_path)
    if profile:
        env[PROFILE_ENV] = "1"
    return serving.start(port, log_path, env=env, launcher=[sys.executable, str(Path(__file__).resolve()), "serve"],
                         timeout=90)


def stop_server(proc: subprocess.Popen) -> None:
    serving.stop(proc)


def census(proc: subprocess.Popen, path: Path, timeout: float = 10.0) -> dict | None:
    """Ask the server for its thread census (SIGUSR1) and summarise it; None if it did not answer in time."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    os.kill(proc.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_mtime_ns != before:
            data = json.loads(path.read_text())
            threads = data["threads"]
            groups: dict[str, int] = {}
            for t in threads:
                label = f"{re.sub(r'[0-9]+', 'N', t['name'])} @ {t['target']}"
                groups[label] = groups.get(label, 0) + 1
            total = proc_status(proc.pid)[1]
            return {"python_threads": len(threads), "native_threads": max(0, total - len(threads)),
                    "groups": dict(sorted(groups.items())), "limiter": data["limiter"],
                    "profile": data.get("profile"), "threads": threads}
        time.sleep(0.1)
    return None


def lingering(now: dict | None, base: dict | None) -> dict[str, int]:
    """Thread groups with more members now than at the baseline (+native for threads Python does not see)."""
    if not now or not base:
        return {}
    extra = {k: n - base["groups"].get(k, 0) for k, n in now["groups"].items() if n > base["groups"].get(k, 0)}
    if now["native_threads"] > base["native_threads"]:
        extra["native (not Python) threads"] = now["native_threads"] - base["native_threads"]
    return extra


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


def descendants(pid: int) -> list[int]:
    """The process and all its children."""
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


def load_average() -> float:
    """The machine's 1-minute load average (other work on a shared machine shows here)."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class Sampler(threading.Thread):
    """Polls the server's RSS (with children), thread count and the machine's load every 0.5 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stopped = pid, [], threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            rss = sum(proc_status(p)[0] for p in descendants(self.pid))
            self.samples.append((time.monotonic(), rss, proc_status(self.pid)[1], load_average()))
            self.stopped.wait(0.5)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2:])
    else:
        print("classroom_server.py: used by classroom_load.py (`serve <streamlit args>` runs the server)")
