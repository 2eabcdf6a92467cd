"""A challenge: its goal and constraints, the student's best, and Submit a run (judged by the store, best kept)."""
from __future__ import annotations

import streamlit as st

import engine
from engine.lessons import METRICS
from ui.core import text
from ui.lessons import progress as stored

RESULTS = "lessons-challenge-result"  # extras key: challenge key -> (kind, words) of the last submission


def rules(challenge) -> list[str]:
    """The goal and each constraint, in words (the values are checked numbers; names come from the engine)."""
    name, better = METRICS[challenge.metric]
    goal = (f"test {name} at least {challenge.threshold:g}" if better == "higher"
            else f"test {name} at most {challenge.threshold:g}")
    out = [f"Goal: {goal} on `{challenge.dataset}`"
           + (f" ({', '.join(f'{k} = {v}' for k, v in challenge.dataset_options.items())})"
              if challenge.dataset_options else "")]
    return out + challenge.constraints()


def challenge_ui(s, challenge, progress, blocked: str | None) -> None:
    """The challenge's box: rules, best so far, and the finished runs to submit."""
    key = challenge.key
    with st.container(border=True, key=f"lesson-challenge-{key}"):
        st.markdown(f"#### :material/emoji_events: Challenge: {text.plain(challenge.title)}")
        if challenge.description:
            st.markdown(text.plain(challenge.description))
        st.markdown("\n".join(f"- {text.message(rule)}" for rule in rules(challenge)))
        best = progress.bests.get(key)
        if best is not None:
            st.success(f"Your best: run #{best.run}, {best.value:.4g}"
                       + (f" with {best.parameters:,} parameters" if best.parameters is not None else "")
                       + (" · goal met" if best.met else " · goal not met yet"), icon=":material/emoji_events:")
        finished = [r for r in s.book.runs if r.group == "train" and r.state == "finished"]
        if not finished:
            st.caption("Train a network on the Train page; each finished run can be submitted here.")
            return
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        run = left.selectbox("Submit a run", [r.number for r in reversed(finished)], key=f"lesson-challenge-run-{key}",
                             format_func=lambda n: f"Run #{n} ({s.book.get(n).config.dataset})")
        if right.button("Submit", key=f"lesson-challenge-post-{key}", disabled=blocked is not None, help=blocked):
            try:
                result = stored.post(s, key, run)
            except engine.InputError as err:
                s.extras.setdefault(RESULTS, {})[key] = ("error", text.message(err))
            else:
                s.extras.setdefault(RESULTS, {})[key] = _verdict(result)
            st.rerun()
        kind, words = s.extras.get(RESULTS, {}).pop(key, (None, None))
        if kind is not None:
            getattr(st, kind)(words)


def _verdict(result) -> tuple[str, str]:
    if not result.counts:
        return "warning", f"Run #{result.run} does not count: " + "; ".join(text.message(r) for r in result.reasons)
    value = f"{result.value:.4g}" + (f" with {result.parameters:,} parameters" if result.parameters is not None else "")
    if result.met:
        return "success", f"Run #{result.run} meets the goal: {value}. Your best is kept."
    return "info", f"Run #{result.run} counts ({value}) but does not reach the goal yet; your best is kept."
