"""Classes: a teacher's link and a join code; members' networks and runs for the teacher; networks pushed to them.

The teacher's view is polled (like the Train page's live view): each call returns only the members whose
workspace or runs changed since the previous call's ``as_of``, plus every member's key so the page can drop
those who left, were removed or expired. A member leaves (``leave``) or their teacher removes them
(``remove``): their workspace stays theirs, out of the class.

The class board (``board``, ``board_view``) is the same view read-only, for a projector: its token derives from
the teacher's one way (an HMAC keyed by it), so the teacher's page can always show the board's link again while the
database keeps only digests, and nothing on the board leads back to the teacher's link.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc
from sqlalchemy import select, update
from sqlalchemy.orm import defer

from engine import limits
from engine.errors import InputError, SpecError
from engine.network import ModelSpec, presets, summarize
from engine.workspace import checks, copies
from engine.workspace.errors import CapReached, TooManyTries, UnknownJoinCode, UnknownToken, WorkspaceError
from engine.workspace.records import LIVE, Push
from engine.workspace.runs import mark_interrupted, thin_curves
from engine.workspace.schema import ClassRow, RunRow, WorkspaceRow

CLOCK_SLACK = 5.0  # seconds a view's as_of lags behind: writes from servers whose clocks run a little behind
TOUCH_EVERY = 3600.0


@dataclass(frozen=True)
class MemberRun:
    """A member's run as the teacher sees it: no records, only the per-epoch curves and the results."""

    number: int
    group: str
    label: str
    state: str
    epochs: dict | None  # {"epoch", "train_loss", "train_acc", "val_loss", "val_acc"}: one list each
    results: dict | None  # e.g. {"test_acc": 0.95}
    updated_at: float
    imported: bool = False  # from an uploaded workspace file: its results were not measured on this server


@dataclass(frozen=True)
class Member:
    """A student in a class: ``key`` identifies them across views (never a row id, never their token)."""

    key: str
    display_name: str
    spec: dict
    parameters: int | None  # None when the network does not summarise (an invalid spec)
    runs: list[MemberRun]
    updated_at: float
    preset: str | None = None  # the preset the network came from (by name), None for a network of their own
    edited: bool = False  # the network differs from that preset


@dataclass(frozen=True)
class ClassView:
    """What the teacher's page shows; pass ``as_of`` back as the next call's ``since``."""

    name: str
    code: str
    pushed_version: int
    members: list[Member]  # those changed since ``since`` (all of them when since is None)
    member_keys: list[str]  # every current member
    as_of: float


def drawn_runs(runs: list[MemberRun]) -> list[MemberRun]:
    """The runs of one member a class chart draws: their best (test accuracy, else loss), then their latest, at
    most ``limits.MAX_CLASS_RUNS``, in run order: one student's fifty runs do not swamp the chart (imported runs'
    results never make one the best)."""
    def best(run):
        results = run.results or {}
        accuracy, loss = results.get("accuracy"), results.get("loss")
        return accuracy is None, -(accuracy or 0.0), loss is None, loss or 0.0, -run.updated_at

    measured = [r for r in runs if r.results and not r.imported]  # an imported 100% is no one's best
    chosen = sorted(measured, key=best)[:1]
    for run in sorted(runs, key=lambda r: (r.updated_at, r.number), reverse=True):
        if len(chosen) >= limits.MAX_CLASS_RUNS:
            break
        if all(run is not c for c in chosen):
            chosen.append(run)
    return sorted(chosen, key=lambda r: r.number)


def create(store, name: str, address: str | None = None) -> tuple[str, str]:
    """A new class; returns (teacher token, join code). ``address``: the maker's address digest, for the cap."""
    name = checks.name(name, "class name", 200)
    if address and (made := store.throttle.classes_made(address)) >= limits.MAX_CLASSES_PER_IP_HOUR:
        raise CapReached(f"{made} classes were made from your network in the last hour; try again later",
                         "PLAYGROUND_MAX_CLASSES_PER_IP_HOUR", limits.MAX_CLASSES_PER_IP_HOUR)
    now = time.time()
    for _ in range(20):  # a join code already taken: draw another
        token, code = checks.new_token(), checks.new_join_code()
        try:
            with store.db.writing() as session:
                session.add(ClassRow(teacher_digest=checks.digest(token), join_code=code, name=name,
                                     board_digest=checks.digest(board_token(token)),
                                     pushed_version=0, created_at=now, touched_at=now))
            if address:
                store.throttle.class_made(address)
            return token, code
        except sa_exc.IntegrityError:
            continue
    raise WorkspaceError("No free join code was found; try again.")


def join(store, code: str, display_name: str, token: str, address: str | None = None) -> None:
    """Put the workspace in the class; joining again renames, joining another class moves it there.

    Wrong codes count against the workspace and the address (its digest): past the limits, every code waits,
    the right one too, so a blocked guesser learns nothing.
    """
    key, now = checks.token_digest(token), time.time()
    if wait := store.throttle.join_wait(key, address):
        raise TooManyTries(wait)
    code = checks.join_code(code)
    display_name = checks.name(display_name, "display name")
    with store.db.writing() as session:
        klass = session.scalar(select(ClassRow).where(ClassRow.join_code == code))
        if klass is None:
            store.throttle.wrong_code(key, address, limits.JOIN_WRONG_PER_MINUTE, limits.JOIN_WRONG_PER_IP_MINUTE,
                                      limits.JOIN_WAIT_SECONDS)
            raise UnknownJoinCode(f"No class has the join code {code}: check it with your teacher.")
        row = store._writable(session, key)
        moved = row.class_id != klass.id
        session.execute(update(WorkspaceRow).where(WorkspaceRow.id == row.id).values(
            class_id=klass.id, display_name=display_name, updated_at=now, touched_at=now,
            **({"member_key": secrets.token_hex(8), "pushed_version": 0} if moved else {})))
        session.execute(update(ClassRow).where(ClassRow.id == klass.id).values(touched_at=now))


def leave(store, token: str) -> None:
    """Take the workspace out of its class (nothing to do outside one); its network and runs stay its own."""
    now = time.time()
    with store.db.writing() as session:
        row = store._writable(session, checks.token_digest(token))
        if row.class_id is not None:
            _out_of_class(session, row.id, now)


def remove(store, teacher_token: str, member_key: str) -> None:
    """The teacher takes a member out of the class; the member keeps their workspace and may join again."""
    key, now = checks.token_digest(teacher_token, "teacher"), time.time()
    with store.db.writing() as session:
        klass = _class(session, key)
        row_id = _member(session, klass, member_key, WorkspaceRow.id)
        _out_of_class(session, row_id, now)
        session.execute(update(ClassRow).where(ClassRow.id == klass.id).values(touched_at=now))


def _out_of_class(session, row_id: int, now: float) -> None:
    session.execute(update(WorkspaceRow).where(WorkspaceRow.id == row_id).values(
        class_id=None, member_key=None, display_name=None, pushed_version=0, updated_at=now, touched_at=now))


def poll(store, token: str) -> tuple[str | None, Push | None]:
    """A member's open page's poll, one query: its class's name (None once it left or was removed) and the
    network pushed since it last took one (None when there is none)."""
    key = checks.token_digest(token)
    with store.db.reading() as session:
        row = session.execute(select(ClassRow.name, WorkspaceRow.pushed_version, ClassRow.pushed_version,
                                     ClassRow.pushed_spec, ClassRow.pushed_settings)
                              .join(ClassRow, ClassRow.id == WorkspaceRow.class_id)
                              .where(WorkspaceRow.digest == key)).first()
    if row is None:
        return None, None
    name, taken, version, spec, settings = row
    return name, Push(version, spec, settings) if version and version > taken else None


def board_token(teacher_token: str) -> str:
    """The class board's token, derived from the teacher's: unguessable, and it tells nothing of the teacher's."""
    mac = hmac.new(teacher_token.encode(), b"playground class board", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()  # 43 characters, a well-formed token


def board(store, teacher_token: str) -> str:
    """The board's token for the teacher's class; stores its digest first if the class predates boards."""
    key = checks.token_digest(teacher_token, "teacher")
    token = board_token(teacher_token)
    with store.db.reading() as session:
        klass = _class(session, key)
    if klass.board_digest is None:
        with store.db.writing() as session:
            session.execute(update(ClassRow).where(ClassRow.id == klass.id).values(board_digest=checks.digest(token)))
    return token


def board_view(store, board_token: str, since: float | None) -> ClassView:
    """``view`` through the board's token (read-only: nothing else takes it)."""
    key = checks.token_digest(board_token, "class board")
    return _view(store, ClassRow.board_digest == key, "No class board has this link: it may have expired, or been "
                 "mistyped. Ask the teacher for the board link again.", since)


def member_snapshot(store, teacher_token: str, member_key: str, ip: str | None = None) -> str:
    """A read-only snapshot of a member's workspace for their teacher (as the member's own Share makes); ``ip``,
    the teacher's address, counts it towards the hourly cap as any new workspace (it copies the weights too)."""
    key = checks.token_digest(teacher_token, "teacher")
    with store.db.reading() as session:
        digest = _member(session, _class(session, key), member_key, WorkspaceRow.digest)
    return copies.clone_digest(store, digest, "snapshot", None, ip)


def view(store, teacher_token: str, since: float | None) -> ClassView:
    """The class's members (changed since ``since``) with their networks and runs.

    Live runs no server has flushed for ``store.interrupt_after`` seconds are marked "interrupted" first, so a
    student who closed the tab mid-run does not show as training forever.
    """
    key = checks.token_digest(teacher_token, "teacher")
    return _view(store, ClassRow.teacher_digest == key, _NO_CLASS, since)


def _view(store, which, missing: str, since: float | None) -> ClassView:
    now = time.time()
    with store.db.reading() as session:
        klass = _class(session, which, missing)
        members = select(WorkspaceRow.id).where(WorkspaceRow.class_id == klass.id)
        stale = list(session.scalars(select(RunRow.id).where(RunRow.workspace_id.in_(members),
                                                             RunRow.state.in_(LIVE),
                                                             RunRow.updated_at < now - store.interrupt_after)))
    if stale or klass.touched_at < now - TOUCH_EVERY:  # a write only when there is something to write
        with store.db.writing() as session:
            if mark_interrupted(session, stale, now - store.interrupt_after, now):
                session.execute(update(WorkspaceRow).where(WorkspaceRow.id.in_(
                    select(RunRow.workspace_id).where(RunRow.id.in_(stale)))).values(updated_at=now))
            session.execute(update(ClassRow).where(ClassRow.id == klass.id).values(touched_at=now))
    with store.db.reading() as session:
        keys = list(session.scalars(select(WorkspaceRow.member_key).where(WorkspaceRow.class_id == klass.id)
                                    .order_by(WorkspaceRow.created_at)))
        query = select(WorkspaceRow).where(WorkspaceRow.class_id == klass.id)
        if since is not None:
            query = query.where(WorkspaceRow.updated_at >= since)
        rows = session.scalars(query.order_by(WorkspaceRow.created_at)).all()
        runs = session.scalars(select(RunRow).options(defer(RunRow.records))  # the epochs column suffices
                               .where(RunRow.workspace_id.in_([r.id for r in rows])).order_by(RunRow.number)).all()
    by_member: dict[int, list[MemberRun]] = {}
    for run in runs:
        by_member.setdefault(run.workspace_id, []).append(
            MemberRun(run.number, run.group, run.label, run.state, thin_curves(run.epochs),
                      checks.readable_results(run.results, run.number), run.updated_at, _imported(run.context)))
    members = [Member(row.member_key, row.display_name, row.spec, _parameters(row.spec), by_member.get(row.id, []),
                      row.updated_at, *(presets.origin(row.spec) or (None, False))) for row in rows]
    return ClassView(klass.name, klass.join_code, klass.pushed_version, members, keys, now - CLOCK_SLACK)


def push(store, teacher_token: str, spec: dict, settings: dict | None) -> int:
    """Offer ``spec`` and ``settings`` to every member (``Workspace.push``); returns the new version."""
    spec, _ = checks.json_value(spec, "network", optional=False)
    settings, _ = checks.json_value(settings, "settings")
    key, now = checks.token_digest(teacher_token, "teacher"), time.time()
    with store.db.writing() as session:
        klass = _class(session, key)
        session.execute(update(ClassRow).where(ClassRow.id == klass.id).values(  # atomic with concurrent pushes
            pushed_version=ClassRow.pushed_version + 1, pushed_spec=spec, pushed_settings=settings, touched_at=now))
        return session.scalar(select(ClassRow.pushed_version).where(ClassRow.id == klass.id))


_NO_CLASS = "No class has this teacher link: it may have expired, or been mistyped."
_GONE = "This student is not in this class (any more): they left, were removed, or joined another class."


def _member(session, klass: ClassRow, member_key: str, column):
    """``column`` of the class's member with this key, else UnknownToken (they left, or were never in it)."""
    value = session.scalar(select(column).where(WorkspaceRow.class_id == klass.id,
                                                WorkspaceRow.member_key == member_key)) \
        if isinstance(member_key, str) else None
    if value is None:
        raise UnknownToken(_GONE)
    return value


def _class(session, which, missing: str = _NO_CLASS) -> ClassRow:
    """The class found by ``which`` (a teacher's digest, or a condition such as the board's), else ``missing``."""
    if isinstance(which, str):
        which = ClassRow.teacher_digest == which
    klass = session.scalar(select(ClassRow).where(which))
    if klass is None:
        raise UnknownToken(missing)
    return klass


def _parameters(spec: dict) -> int | None:
    """The network's parameter count (memoised per spec by ``summarize``), None when it does not summarise."""
    try:
        return summarize(ModelSpec.from_dict(spec)).total_params
    except (SpecError, InputError, TypeError, ValueError):
        return None


def _imported(context) -> bool:
    """Whether a stored run came from an uploaded file (``files.read`` marks it); views never raise on stored data."""
    return isinstance(context, dict) and context.get("imported") is True
