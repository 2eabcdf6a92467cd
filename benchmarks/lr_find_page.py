"""The Train page's learning-rate range test on mnist-cnn and the bundled MNIST, timed through the page (AppTest):
from the click on "Find a learning rate" until the curve is drawn, polling as the page's fragment does.

Goal on a 2-core CPU: < 15 s (issue 21). Wall time is printed with the process CPU time (the test's thread is in
this process): on a shared machine read the CPU time. Run: python benchmarks/lr_find_page.py
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from streamlit.testing.v1 import AppTest  # noqa: E402

import engine  # noqa: E402
from ui.core.session import SessionState  # noqa: E402
from ui.train import lr_find  # noqa: E402

PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "views", "3_Train.py")


def main() -> None:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["playground"] = SessionState(spec=engine.network.presets.get("mnist-cnn"))
    at.run()
    at.selectbox(key="tr-dataset").set_value("mnist").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    t0, c0 = time.perf_counter(), time.process_time()
    at.button(key="tr-lrf-start").click().run()
    job = at.session_state["playground"].extras["train"][lr_find.KEY]
    polls = 0
    while job.live:
        time.sleep(lr_find.POLL)
        at.run()  # one tick of the page's fragment
        polls += 1
    at.run()  # the page draws the result
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert job.state == "done" and at.get("plotly_chart"), (job.state, job.error)
    r = job.result
    print(f"LR test through the Train page, mnist-cnn on MNIST ({r.lrs and len(r.lrs)} steps of at most "
          f"{lr_find.STEPS}, {polls} polls): {wall:.1f} s wall, {cpu:.1f} s CPU (goal < 15 s); suggestion "
          f"{r.suggestion:.2g}, minimum/10 {r.min_tenth:.2g}; {r.stopped}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
