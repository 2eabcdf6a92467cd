"""A class's lessons: assigning lessons and challenges, custom challenges, the progress grid and leaderboards;
the class board reads the grid and leaderboards too (``board``), never assigns."""
from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select

from engine import limits
from engine.lessons import Catalogue, LessonError, parse_challenge
from engine.workspace import checks
from engine.workspace.classes import _class
from engine.workspace.errors import CapReached
from engine.workspace.progress import (CUSTOM, Assignments, Entry, Grid, GridRow, _catalogue, _progress,
                                       best_of)
from engine.workspace.schema import AssignmentRow, ClassRow, ProgressRow, WorkspaceRow

ASSIGNABLE = ("lesson", "challenge")
NO_BOARD = ("No class board has this link: it may have expired, or been mistyped. Ask the teacher for the board link "
            "again.")


@dataclass(frozen=True)
class ByBoard:
    """The class found through its board's token: what the read-only functions here take instead of the
    teacher's token (assign, unassign and add_challenge take only the teacher's)."""

    token: str


def _klass(session, teacher_token):
    """The class of a teacher's token, or of a board's (``ByBoard``)."""
    if isinstance(teacher_token, ByBoard):
        return _class(session, ClassRow.board_digest == checks.token_digest(teacher_token.token, "class board"),
                      NO_BOARD)
    return _class(session, checks.token_digest(teacher_token, "teacher"))


def assign(store, teacher_token: str, kind: str, ref: str, catalogue: Catalogue | None = None) -> None:
    """Assign a lesson (by id) or a challenge (a lesson's id, or a custom key) to the teacher's class."""
    if kind not in ASSIGNABLE:
        raise LessonError("kind", f"assign a lesson or a challenge, not {str(kind)[:20]!r}")
    found = _catalogue(catalogue).get(ref) if isinstance(ref, str) else None
    if kind == "lesson" and found is None:
        raise LessonError("lesson", f"no lesson has the id {str(ref)[:64]!r}")
    key = checks.token_digest(teacher_token, "teacher")
    with store.db.writing() as session:
        klass = _class(session, key)
        row = session.scalar(select(AssignmentRow).where(AssignmentRow.class_id == klass.id,
                                                         AssignmentRow.kind == kind, AssignmentRow.ref == ref))
        if kind == "challenge" and (found is None or found.challenge is None) and row is None:
            raise LessonError("challenge", f"no challenge has the key {str(ref)[:64]!r}")
        if row is None:
            session.add(AssignmentRow(class_id=klass.id, kind=kind, ref=ref, created_at=time.time()))


def unassign(store, teacher_token: str, kind: str, ref: str) -> None:
    """Take a lesson or a lesson's challenge off the class's list (a custom challenge is deleted with its
    students' bests left in their workspaces, unreachable from the class)."""
    key = checks.token_digest(teacher_token, "teacher")
    with store.db.writing() as session:
        klass = _class(session, key)
        session.execute(delete(AssignmentRow).where(AssignmentRow.class_id == klass.id, AssignmentRow.kind == kind,
                                                    AssignmentRow.ref == ref))


def add_challenge(store, teacher_token: str, table: dict) -> str:
    """A custom challenge from the teacher's form, checked (errors name the field), stored with the class and
    assigned to it; returns its key ("custom-<n>")."""
    challenge = parse_challenge(table, "custom", "challenge")
    key = checks.token_digest(teacher_token, "teacher")
    with store.db.writing() as session:
        klass = _class(session, key)
        refs = list(session.scalars(select(AssignmentRow.ref).where(AssignmentRow.class_id == klass.id,
                                                                    AssignmentRow.kind == "challenge",
                                                                    AssignmentRow.definition.is_not(None))))
        if len(refs) >= limits.MAX_CUSTOM_CHALLENGES:
            raise CapReached(f"This class keeps {len(refs)} custom challenges already: remove one first",
                             "PLAYGROUND_MAX_CUSTOM_CHALLENGES", limits.MAX_CUSTOM_CHALLENGES)
        number = 1 + max((int(r[len(CUSTOM):]) for r in refs if r[len(CUSTOM):].isdigit()), default=0)
        ref = f"{CUSTOM}{number}"
        session.add(AssignmentRow(class_id=klass.id, kind="challenge", ref=ref, definition=challenge.to_dict(),
                                  created_at=time.time()))
    return ref


def assignments(store, teacher_token: str | None = None, token: str | None = None,
                catalogue: Catalogue | None = None) -> Assignments:
    """The class's assignments, by the teacher's token or a member's workspace token (none outside a class);
    lessons no longer in the catalogue are left out."""
    with store.db.reading() as session:
        if teacher_token is not None:
            class_id = _klass(session, teacher_token).id
        else:
            class_id = store._row(session, checks.token_digest(token)).class_id
        rows = session.scalars(select(AssignmentRow).where(AssignmentRow.class_id == class_id)
                               .order_by(AssignmentRow.created_at, AssignmentRow.id)).all() \
            if class_id is not None else []
    found = _catalogue(catalogue)
    lesson_ids = tuple(r.ref for r in rows if r.kind == "lesson" and found.get(r.ref) is not None)
    challenges = []
    for r in rows:
        if r.kind != "challenge":
            continue
        if r.definition is not None:
            try:
                challenges.append(parse_challenge(r.definition, r.ref))
            except LessonError:
                continue  # a dataset the server no longer has: left off rather than breaking the page
        elif found.get(r.ref) is not None and found.get(r.ref).challenge is not None:
            challenges.append(found.get(r.ref).challenge)
    return Assignments(lesson_ids, tuple(challenges))


def grid(store, teacher_token: str, catalogue: Catalogue | None = None) -> Grid:
    """Students × steps of the assigned lessons (every lesson when none is assigned): ticked, predicted or not
    started."""
    found = _catalogue(catalogue)
    lesson_ids = assignments(store, teacher_token=teacher_token, catalogue=found).lessons or \
        tuple(lesson.id for lesson in found.lessons)
    columns = tuple((lesson_id, i) for lesson_id in lesson_ids for i in range(len(found.get(lesson_id).steps)))
    members, rows = _members(store, teacher_token)
    by_member = {}
    for r in rows:
        by_member.setdefault(r.workspace_id, []).append(r)
    out = []
    for workspace_id, member_key, name in members:
        done = _progress(by_member.get(workspace_id, []))
        out.append(GridRow(member_key, name, {c: done.status(*c) for c in columns}))
    return Grid(columns, tuple(out))


def leaderboard(store, teacher_token: str, key: str) -> list[Entry]:
    """A challenge's leaderboard: each member's best valid result measured here, best first (then the fewest
    parameters, then the earliest)."""
    members, rows = _members(store, teacher_token, key)
    names = {w: (k, n) for w, k, n in members}
    entries = []
    for r in rows:
        best = best_of(r)
        if best is None or best.imported:
            continue
        member_key, name = names[r.workspace_id]
        entries.append(Entry(member_key, name, best.value, best.parameters, best.run, best.met, best.at))
    higher = _higher(store, teacher_token, key)
    return sorted(entries, key=lambda e: (-e.value if higher else e.value, e.parameters or 0, e.at))


def _higher(store, teacher_token: str, key: str) -> bool:
    from_class = {c.key: c for c in assignments(store, teacher_token=teacher_token).challenges}
    challenge = from_class.get(key)
    if challenge is None:
        raise LessonError("challenge", f"no challenge {str(key)[:64]!r} is assigned to this class")
    return challenge.metric == "test_accuracy"


def _members(store, teacher_token: str, lesson: str | None = None):
    """(workspace id, member key, display name) of the class's members, and their progress rows."""
    with store.db.reading() as session:
        klass = _klass(session, teacher_token)
        members = session.execute(select(WorkspaceRow.id, WorkspaceRow.member_key, WorkspaceRow.display_name)
                                  .where(WorkspaceRow.class_id == klass.id)
                                  .order_by(WorkspaceRow.created_at)).all()
        query = select(ProgressRow).where(ProgressRow.workspace_id.in_([m[0] for m in members]))
        if lesson is not None:
            query = query.where(ProgressRow.lesson == lesson)
        rows = session.scalars(query).all()
    return [tuple(m) for m in members], rows


def board(store, board_token: str, catalogue: Catalogue | None = None) -> tuple[Grid, list[tuple]]:
    """The class board's lessons, read-only: the grid of the assigned lessons (no columns while none is: a
    projector shows what the class is set, not the whole catalogue; the rows still name the members), and
    (challenge, leaderboard) for each assigned challenge."""
    which, found = ByBoard(board_token), _catalogue(catalogue)
    assigned = assignments(store, teacher_token=which, catalogue=found)
    shown = grid(store, which, found)
    if not assigned.lessons:
        shown = Grid((), tuple(GridRow(r.member_key, r.display_name, {}) for r in shown.rows))
    return shown, [(c, leaderboard(store, which, c.key)) for c in assigned.challenges]
