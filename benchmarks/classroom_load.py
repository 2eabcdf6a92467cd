"""Classroom load: N students on one server, each walking Build → Convolution → Train → Inspect for a while.

Starts `streamlit run app.py` (benchmarks/classroom_server.py), lets one student walk the path once to warm
the server up, takes the baseline, then has N students repeat a lecture's path until the time is up:

1. open /Build?net=p.<preset> (load a preset from a shared link);
2. go to Convolution, press "Next ▶" (one animation step);
3. go to Train, set 2 epochs, start a run on digits, watch it until it ends (or --watch seconds);
4. go to Inspect (saliency is its default attribution) and look at another sample.

Two drivers: ``ws`` (default) speaks Streamlit's websocket protocol (classroom_ws.py), so the CPU goes to
the server; ``browser`` drives N Playwright contexts in one headless Chromium (classroom_browser.py), which
on a 2-core machine spends more CPU than the server it measures. Reports errors, click-to-updated-view
p50/p95 (per action; for ``ws`` split into waiting for the server and the page's script), the server's RSS
and threads (/proc), training runs seen running versus queued at once, and whether the server's threads
come back to the warm baseline after every session closes (with a census of the ones that linger).

    .venv/bin/python benchmarks/classroom_load.py --students 30 --duration 120
    .venv/bin/python benchmarks/classroom_load.py --students 10 --driver browser
    .venv/bin/python benchmarks/classroom_load.py --students 60 --replicas 2   # PostgreSQL + HAProxy + 2 servers

``--replicas N`` (ws driver) starts a throwaway PostgreSQL, N servers on it and HAProxy from deploy/haproxy.cfg
(benchmarks/classroom_replicas.py), sends the class through the balancer (sticky cookie kept per student),
sums RSS, threads and CPU over the replicas, and afterwards checks the database against what each student saw:
every run started is stored, every run seen finished is stored finished with its records (nothing lost).

Method and measured figures: benchmarks/CLASSROOM.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import classroom_replicas  # noqa: E402
from classroom_server import (ROOT, Sampler, census, cpu_seconds, descendants, free_port,  # noqa: E402
                              lingering, proc_status, start_server, stop_server)


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


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_s": round(percentile(values, 0.5), 3), "p95_s": round(percentile(values, 0.95), 3)}


def _per_action(stats, driver: str) -> dict:
    out = {}
    for name, clicks in sorted(stats.clicks.items()):
        if driver == "ws":
            out[name] = {**_summary([c.seconds for c in clicks]),
                         "wait_p50_s": round(percentile([c.wait for c in clicks], 0.5), 3),
                         "script_p50_s": round(percentile([c.script for c in clicks], 0.5), 3),
                         "script_p95_s": round(percentile([c.script for c in clicks], 0.95), 3)}
        else:
            out[name] = _summary(clicks)
    return out


def _run_class(args, url: str, proc, on_warm, warm_urls=None):
    """The chosen driver's whole class; returns its stats."""
    if args.driver == "ws":
        import classroom_ws

        stats = classroom_ws.Stats()
        asyncio.run(classroom_ws.run_class(url, args.students, args.duration, args.watch, stats, on_warm,
                                           args.preset, args.epochs, reload=args.reload, think=args.think,
                                           warm_urls=warm_urls))
    else:
        import classroom_browser

        stats = classroom_browser.Stats()
        asyncio.run(classroom_browser.run_class(url, args.students, args.duration, args.watch, stats, proc.pid,
                                                on_warm, args.preset, args.epochs))
    return stats


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30, help="sessions at once (default 30)")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds each student keeps working")
    parser.add_argument("--driver", choices=["ws", "browser"], default="ws",
                        help="ws: Streamlit's websocket protocol (light); browser: Playwright + Chromium")
    parser.add_argument("--preset", default="tiny-vgg", help="the preset in the shared link (default tiny-vgg)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each student's run on digits")
    parser.add_argument("--watch", type=float, default=30.0, help="seconds a student watches a run at most")
    parser.add_argument("--think", type=float, default=0.0,
                        help="ws: mean seconds a student reads the page before the next click (default 0)")
    parser.add_argument("--reload", action="store_true",
                        help="ws: open the link anew (a new session) every round, as the browser driver does")
    parser.add_argument("--settle", type=float, default=90.0,
                        help="seconds to wait for the server's threads to come back after the sessions close")
    parser.add_argument("--profile", action="store_true",
                        help="sample the server's threads every 20 ms and report where the page scripts spend it")
    parser.add_argument("--replicas", type=int, default=0,
                        help="ws: N servers on a throwaway PostgreSQL behind HAProxy (default 0: one server, no "
                             "balancer, the configured database)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if args.replicas and args.driver != "ws":
        parser.error("--replicas needs the ws driver")

    out = ROOT / "test-results"
    out.mkdir(exist_ok=True)
    replicas = None
    if args.replicas:
        replicas = classroom_replicas.Replicas(args.replicas, out, profile=args.profile)
        procs, census_paths, url = replicas.procs, replicas.censuses, replicas.url
    else:
        log, census_path = out / "classroom_load_streamlit.log", out / "classroom_threads.json"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        procs, census_paths = [start_server(port, log, census_path, profile=args.profile)], [census_path]
    proc = procs[0]  # the census and the profile are the first replica's
    census_path = census_paths[0]
    warm: dict = {}

    def threads() -> int:
        return sum(proc_status(p.pid)[1] for p in procs)

    def server_cpu_now() -> float:
        return sum(cpu_seconds(descendants(p.pid)) for p in procs)

    def on_warm() -> None:
        """After the warm-up student left: let its last script end, then take the baseline."""
        time.sleep(3)
        warm["rss"], warm["threads"] = sum(proc_status(p.pid)[0] for p in procs), threads()
        warm["census"] = census(proc, census_path)
        warm["server_cpu"], warm["own_cpu"], warm["t"] = server_cpu_now(), _own_cpu(), time.monotonic()
        warm["load"] = classroom_replicas.load_average()

    try:
        time.sleep(1)
        rss0, threads0 = sum(proc_status(p.pid)[0] for p in procs), threads()
        samplers = [Sampler(p.pid) for p in procs]
        for sampler in samplers:
            sampler.start()
        stats = _run_class(args, url, proc, on_warm, replicas.urls if replicas else None)
        t_closed = time.monotonic()
        load_closed = classroom_replicas.load_average()
        server_cpu = server_cpu_now() - warm["server_cpu"]
        driver_cpu = _own_cpu() - warm["own_cpu"] + getattr(stats, "browser_cpu", 0.0)
        in_class = [s for s in samplers[0].samples if s[0] >= warm["t"]]
        # After the last session closes: sessions linger for disconnectedSessionTTL, runs for their heartbeat.
        back_after = at_60 = None
        while time.monotonic() - t_closed < args.settle:
            if threads() <= warm["threads"]:
                back_after = time.monotonic() - t_closed
                break
            if at_60 is None and time.monotonic() - t_closed >= 60:
                at_60 = census(proc, census_path)
            time.sleep(1)
        threads_end = threads()
        end_census = census(proc, census_path)
        after_get = None
        if back_after is None:
            # AnyIO reaps worker threads idle for 10 s only when its pool is next used: one static GET does.
            with urllib.request.urlopen(f"{url}/", timeout=30) as response:
                response.read()
            time.sleep(1)
            after_get = threads()
        for sampler in samplers:
            sampler.stopped.set()
            sampler.join()
        clicks = [c.seconds if args.driver == "ws" else c for v in stats.clicks.values() for c in v]
        running, queued = concurrency(stats.run_states)
        # The server's own limiter counts (its watch thread): the status texts students read lag by a tick.
        limiter = (end_census or {}).get("limiter") or {}
        ticks = getattr(stats, "ticks", [])
        report = {
            "driver": args.driver + (" (a new session every round)" if args.reload else ""),
            "think_s": args.think if args.driver == "ws" else 0.0,
            "students": args.students, "duration_s": args.duration, "preset": args.preset,
            "paths_completed": stats.paths, "errors": len(stats.errors), "error_samples": stats.errors[:10],
            "warnings": len(getattr(stats, "warnings", [])), "warning_samples": getattr(stats, "warnings", [])[:5],
            "clicks": len(clicks), "p50_s": round(percentile(clicks, 0.5), 3),
            "p95_s": round(percentile(clicks, 0.95), 3), "max_s": round(max(clicks, default=float("nan")), 3),
            "per_action": _per_action(stats, args.driver),
            "live_view_ticks": _summary(ticks) if ticks else None,
            "runs_started": stats.runs_started, "run_slots": limiter.get("slots"),
            "most_running_at_once": limiter.get("most_running"), "most_queued_at_once": limiter.get("most_queued"),
            "seen_by_students": {"most_running": running, "most_queued": queued,
                                 "deepest_queue_place": stats.max_queue_place},
            "rss_start_mb": round(rss0 / 2**20), "rss_warm_mb": round(warm["rss"] / 2**20),
            "rss_peak_mb": round(sum(max(s[1] for s in sampler.samples) for sampler in samplers) / 2**20),
            "rss_peak_per_replica_mb": [round(max(s[1] for s in sampler.samples) / 2**20) for sampler in samplers],
            "threads_start": threads0, "threads_warm": warm["threads"],
            "threads_peak": sum(max(s[2] for s in sampler.samples) for sampler in samplers),
            "threads_end": threads_end,
            "threads_back_to_warm_after_s": None if back_after is None else round(back_after, 1),
            "threads_after_one_static_get": after_get,
            "threads_lingering_at_60s": lingering(at_60, warm["census"]) if at_60 else None,
            "threads_lingering_at_end": lingering(end_census, warm["census"]),
            "server_cpu_s": round(server_cpu, 1), "driver_cpu_s": round(driver_cpu, 1),
            "load_avg_mean": round(sum(s[3] for s in in_class) / max(1, len(in_class)), 2),
            "load_avg_max": round(max((s[3] for s in in_class), default=0.0), 2),
            "load_avg_1_5_15_at_start": warm["load"], "load_avg_1_5_15_at_end": load_closed,
            "wall_s": round(t_closed - warm["t"], 1), "cpus": os.cpu_count(),
        }
        if replicas is not None:  # while the replicas still run: what they flushed is what a student would reopen
            report["replicas"] = args.replicas
            report["students_per_replica"] = classroom_replicas.spread(stats)
            report["database"] = classroom_replicas.check_runs(replicas.db_url, stats)
        if args.profile and end_census:
            report["profile"] = end_census["profile"]
        if args.json:
            censuses = {"warm": warm["census"], "at_60s": at_60, "end": end_census}
            args.json.with_suffix(".threads.json").write_text(json.dumps(censuses, indent=1))
    finally:
        if replicas is not None:
            replicas.stop()
        else:
            stop_server(proc)
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
