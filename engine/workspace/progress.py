"""Lesson progress in the database: ticks (only through a check passed on the stored workspace), predictions,
challenge bests; a class's assigned lessons, custom challenges, progress grid and leaderboards.

A student's page cannot tick a step or post a result: it asks the store to run the step's check
(``engine.lessons.evaluate``) or the challenge (``engine.lessons.check_challenge``) on the runs the database holds.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc
from sqlalchemy import select, update

from engine import lessons as lessons_package
from engine.lessons import Catalogue, Challenge, ChallengeResult, LessonError, Verdict, check_challenge, evaluate
from engine.workspace import checks
from engine.workspace.errors import WorkspaceError
from engine.workspace.schema import AssignmentRow, ProgressRow, WorkspaceRow

KINDS = ("tick", "prediction", "challenge")
CUSTOM = "custom-"  # a class's own challenges are keyed custom-1, custom-2... (engine.lessons.schema.CUSTOM)
MAX_ANSWER = 200  # characters of a choice answer


@dataclass(frozen=True)
class Tick:
    """A ticked step: the runs that passed its check, the check's sentence, when."""

    runs: tuple[int, ...]
    evidence: str
    at: float
    imported: bool = False


@dataclass(frozen=True)
class Guess:
    """A prediction as kept: the student's answer and whether it was right (shown once revealed)."""

    answer: object
    correct: bool
    at: float


@dataclass(frozen=True)
class Best:
    """A student's best valid result on a challenge."""

    run: int
    value: float
    parameters: int | None
    met: bool
    at: float
    imported: bool = False


@dataclass(frozen=True)
class Progress:
    """One workspace's progress: ``ticks`` and ``predictions`` by (lesson id, step index), ``bests`` by challenge."""

    ticks: dict
    predictions: dict
    bests: dict

    def status(self, lesson: str, step: int) -> str:
        """"ticked", "predicted" or "not started"."""
        if (lesson, step) in self.ticks:
            return "ticked"
        return "predicted" if (lesson, step) in self.predictions else "not started"


@dataclass(frozen=True)
class Assignments:
    """What a class is set: lesson ids in the order assigned, and challenges (lesson ones and custom ones)."""

    lessons: tuple[str, ...]
    challenges: tuple[Challenge, ...]


@dataclass(frozen=True)
class GridRow:
    """One student's line of the teacher's grid: status per (lesson, step)."""

    member_key: str
    display_name: str
    cells: dict


@dataclass(frozen=True)
class Grid:
    """Students × steps: ``columns`` are (lesson id, step index) of the assigned lessons, in order."""

    columns: tuple[tuple[str, int], ...]
    rows: tuple[GridRow, ...]


@dataclass(frozen=True)
class Entry:
    """A leaderboard line: a student's best valid result (imported ones never rank)."""

    member_key: str
    display_name: str
    value: float
    parameters: int | None
    run: int
    met: bool
    at: float


def _catalogue(catalogue: Catalogue | None) -> Catalogue:
    return catalogue if catalogue is not None else lessons_package.catalogue()


def _step(catalogue: Catalogue, lesson_id: str, step: int):
    lesson = catalogue.get(lesson_id) if isinstance(lesson_id, str) else None
    if lesson is None:
        raise LessonError("lesson", f"no lesson has the id {str(lesson_id)[:64]!r}")
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < len(lesson.steps):
        raise LessonError("step", f"lesson {lesson.id!r} has steps 0 to {len(lesson.steps) - 1}, not {step!r}")
    return lesson, lesson.steps[step]


def _upsert(session, workspace_id: int, lesson: str, step: int, kind: str, value: dict, now: float) -> None:
    found = session.scalar(select(ProgressRow.id).where(ProgressRow.workspace_id == workspace_id,
                                                        ProgressRow.lesson == lesson, ProgressRow.step == step,
                                                        ProgressRow.kind == kind))
    if found is None:
        session.add(ProgressRow(workspace_id=workspace_id, lesson=lesson, step=step, kind=kind, value=value,
                                updated_at=now))
    else:
        session.execute(update(ProgressRow).where(ProgressRow.id == found).values(value=value, updated_at=now))
    session.execute(update(WorkspaceRow).where(WorkspaceRow.id == workspace_id).values(updated_at=now,
                                                                                       touched_at=now))


def _write(store, token: str, write) -> None:
    """``write(session, row)`` on the writable workspace; a concurrent first write of the same key: once more."""
    key = checks.token_digest(token)
    for attempt in range(2):
        try:
            with store.db.writing() as session:
                return write(session, store._writable(session, key))
        except sa_exc.IntegrityError:
            if attempt:
                raise WorkspaceError("Your progress could not be saved: another save kept colliding.") from None


# ------------------------------------------------------------------------------------------- a student
def tick(store, token: str, lesson_id: str, step: int, catalogue: Catalogue | None = None) -> Verdict:
    """Run the step's check on the stored workspace; a pass is stored as a tick with what passed it."""
    _, found = _step(_catalogue(catalogue), lesson_id, step)
    if found.check is None:
        raise LessonError("step", f"step {step + 1} of {lesson_id!r} has no check to pass")
    verdict = evaluate(found.check, store.open(token))
    if verdict.passed:
        value = {"runs": list(verdict.runs), "evidence": verdict.evidence}
        _write(store, token, lambda session, row: _upsert(session, row.id, lesson_id, step, "tick", value,
                                                          time.time()))
    return verdict


def predict(store, token: str, lesson_id: str, step: int, answer, catalogue: Catalogue | None = None) -> Guess:
    """Keep a prediction (the first one only: it is asked before acting, and before the step is ticked)."""
    _, found = _step(_catalogue(catalogue), lesson_id, step)
    question = found.prediction
    if question is None:
        raise LessonError("step", f"step {step + 1} of {lesson_id!r} asks no prediction")
    if question.kind == "choice" and (not isinstance(answer, str) or answer not in question.options):
        raise LessonError("answer", "choose one of the options")
    if question.kind == "number" and (not isinstance(answer, int | float) or isinstance(answer, bool)
                                      or not math.isfinite(answer)):
        raise LessonError("answer", f"give a number, not {str(answer)[:40]!r}")
    guess = Guess(answer, question.correct(answer), time.time())

    def write(session, row):
        taken = set(session.scalars(select(ProgressRow.kind).where(
            ProgressRow.workspace_id == row.id, ProgressRow.lesson == lesson_id, ProgressRow.step == step)))
        if "prediction" in taken:
            raise WorkspaceError("You already predicted this step: a prediction is kept as first given.")
        if "tick" in taken:
            raise WorkspaceError("This step is already done: predictions are asked before acting.")
        _upsert(session, row.id, lesson_id, step, "prediction",
                {"answer": answer, "correct": guess.correct}, guess.at)

    _write(store, token, write)
    return guess


def challenge_for(store, token: str, key: str, catalogue: Catalogue | None = None) -> Challenge:
    """A challenge by key: a lesson's (its id), or a custom one of the workspace's class."""
    if isinstance(key, str) and key.startswith(CUSTOM):
        with store.db.reading() as session:
            row = store._row(session, checks.token_digest(token))
            definition = session.scalar(select(AssignmentRow.definition).where(
                AssignmentRow.class_id == row.class_id, AssignmentRow.kind == "challenge",
                AssignmentRow.ref == key)) if row.class_id is not None else None
        if definition is not None:
            return lessons_package.parse_challenge(definition, key)
    lesson = _catalogue(catalogue).get(key) if isinstance(key, str) else None
    if lesson is None or lesson.challenge is None:
        raise LessonError("challenge", f"no challenge has the key {str(key)[:64]!r} here")
    return lesson.challenge


def post(store, token: str, key: str, run_number: int, catalogue: Catalogue | None = None) -> ChallengeResult:
    """Judge a stored run against a challenge; a valid result better than the stored best becomes the best."""
    challenge = challenge_for(store, token, key, catalogue)
    run = next((r for r in store.open(token).runs if r.number == run_number), None)
    if run is None:
        raise WorkspaceError(f"This workspace has no run number {run_number}.")
    result = check_challenge(challenge, run)
    if not result.counts:
        return result

    def write(session, row):
        old = session.scalar(select(ProgressRow.value).where(
            ProgressRow.workspace_id == row.id, ProgressRow.lesson == key, ProgressRow.step == 0,
            ProgressRow.kind == "challenge"))
        than = old.get("value") if isinstance(old, dict) and not old.get("imported") else None
        if challenge.better(result.value, than):
            _upsert(session, row.id, key, 0, "challenge",
                    {"run": run.number, "value": result.value, "parameters": result.parameters, "met": result.met},
                    time.time())

    _write(store, token, write)
    return result


def progress(store, token: str) -> Progress:
    """Everything the workspace has done in lessons (a snapshot's too: it is read-only, not empty)."""
    with store.db.reading() as session:
        row = store._row(session, checks.token_digest(token))
        rows = _rows(session, row.id)
    return _progress(rows)


def _rows(session, workspace_id: int) -> list[ProgressRow]:
    """A workspace's progress rows in the order they were first written (what every reader here starts from)."""
    return list(session.scalars(select(ProgressRow).where(ProgressRow.workspace_id == workspace_id)
                                .order_by(ProgressRow.id)))


def _progress(rows) -> Progress:
    ticks, predictions, bests = {}, {}, {}
    for r in rows:
        v = r.value if isinstance(r.value, dict) else {}
        imported = v.get("imported") is True
        if r.kind == "tick":
            ticks[(r.lesson, r.step)] = Tick(tuple(v.get("runs") or ()), str(v.get("evidence", "")), r.updated_at,
                                             imported)
        elif r.kind == "prediction":
            predictions[(r.lesson, r.step)] = Guess(v.get("answer"), v.get("correct") is True, r.updated_at)
        elif (best := best_of(r)) is not None:
            bests[r.lesson] = best
    return Progress(ticks, predictions, bests)


def best_of(row) -> Best | None:
    """A challenge row's best (the student's own, and a leaderboard's line), or None: another kind, no number."""
    v = row.value if isinstance(row.value, dict) else {}
    if row.kind != "challenge" or not isinstance(v.get("value"), int | float):
        return None
    return Best(int(v.get("run") or 0), float(v["value"]), v.get("parameters"), v.get("met") is True, row.updated_at,
                v.get("imported") is True)


# ------------------------------------------------------------------------------------------- files and copies
MAX_ENTRIES = 2000  # progress lines a workspace file may carry (ten lessons use about 80)


def to_file(rows) -> list[dict]:
    """Progress rows as a workspace file's "lessons" entries."""
    return [{"lesson": r.lesson, "step": r.step, "kind": r.kind, "value": r.value, "updated_at": r.updated_at}
            for r in rows]


def from_file(entries) -> list[dict]:
    """A workspace file's "lessons" entries, checked; each marked imported (its ticks and bests were not
    measured on this server, so no leaderboard ranks them).

    Raises:
        WorkspaceError: not a list of entries, too many, or an entry of the wrong shape (naming it).
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise WorkspaceError("'lessons' should be a list of progress entries.")
    if len(entries) > MAX_ENTRIES:
        raise WorkspaceError(f"'lessons' holds {len(entries):,} entries; a workspace file has at most {MAX_ENTRIES:,}.")
    out, seen = [], set()
    for i, e in enumerate(entries):
        where = f"lessons entry {i}"
        if not isinstance(e, dict) or set(e) - {"lesson", "step", "kind", "value", "updated_at"}:
            raise WorkspaceError(f"{where} should be an object with lesson, step, kind and value.")
        lesson, step, kind, value = e.get("lesson"), e.get("step"), e.get("kind"), e.get("value")
        if not isinstance(lesson, str) or not 1 <= len(lesson) <= 64:
            raise WorkspaceError(f"{where}: 'lesson' should be a lesson's id (1 to 64 characters).")
        if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < 100:
            raise WorkspaceError(f"{where}: 'step' should be a step's index, 0 to 99.")
        if kind not in KINDS:
            raise WorkspaceError(f"{where}: 'kind' should be one of {', '.join(KINDS)}.")
        if not isinstance(value, dict):
            raise WorkspaceError(f"{where}: 'value' should be an object.")
        value, _ = checks.json_value(value, where)
        if (lesson, step, kind) in seen:
            raise WorkspaceError(f"{where} repeats {kind} of step {step} of {lesson!r}.")
        seen.add((lesson, step, kind))
        at = e.get("updated_at")
        out.append({"lesson": lesson, "step": step, "kind": kind, "value": {**value, "imported": True},
                    "updated_at": float(at) if isinstance(at, int | float) and math.isfinite(at) else 0.0})
    return out


def load_rows(session, workspace_id: int) -> list[dict]:
    """A workspace's progress as file entries (for export)."""
    return to_file(_rows(session, workspace_id))


def insert_rows(session, workspace_id: int, entries: list[dict]) -> None:
    """Store checked file entries for a new workspace."""
    session.add_all(ProgressRow(workspace_id=workspace_id, **e) for e in entries)


def copy_rows(session, source_id: int, target_id: int) -> None:
    """A copy or snapshot keeps the source's progress."""
    session.add_all(ProgressRow(workspace_id=target_id, lesson=r.lesson, step=r.step, kind=r.kind, value=r.value,
                                updated_at=r.updated_at) for r in _rows(session, source_id))
