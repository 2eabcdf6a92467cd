"""The database tables, as SQLAlchemy ORM classes; ``migrations/`` creates and upgrades them.

Tokens are stored only as SHA-256 digests, so a copy of the database opens no workspace. Timestamps are Unix
seconds (floats). JSON goes into text columns written by Python's ``json`` (NaN and ±inf survive, and
PostgreSQL's stricter JSON type never sees them); blobs are ``LargeBinary`` (SQLite BLOB, PostgreSQL bytea).
"""
from __future__ import annotations

import json

from sqlalchemy import BigInteger, Double, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

DIGEST = 64  # hex SHA-256


class JSONText(TypeDecorator):
    """A JSON value kept as text exactly as Python's ``json`` writes it."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


class Base(DeclarativeBase):
    """The store's tables."""


class ClassRow(Base):
    """A teacher's class: its name, join code, and the latest network pushed to its members."""

    __tablename__ = "classes"
    __table_args__ = (Index("ix_classes_board_digest", "board_digest", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_digest: Mapped[str] = mapped_column(String(DIGEST), unique=True)
    join_code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    board_digest: Mapped[str | None] = mapped_column(String(DIGEST), nullable=True)  # the read-only board's
    pushed_version: Mapped[int] = mapped_column(Integer, default=0)
    pushed_spec: Mapped[dict | None] = mapped_column(JSONText, nullable=True)
    pushed_settings: Mapped[dict | None] = mapped_column(JSONText, nullable=True)
    created_at: Mapped[float] = mapped_column(Double)
    touched_at: Mapped[float] = mapped_column(Double)


class WorkspaceRow(Base):
    """A student's workspace (writable) or a snapshot (a frozen, read-only copy)."""

    __tablename__ = "workspaces"
    __table_args__ = (Index("ix_workspaces_ip_created", "ip_digest", "created_at"),
                      Index("ix_workspaces_touched", "touched_at"),
                      Index("ix_workspaces_class", "class_id", "updated_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(DIGEST), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "workspace" or "snapshot"
    spec: Mapped[dict] = mapped_column(JSONText)
    settings: Mapped[dict | None] = mapped_column(JSONText, nullable=True)
    model: Mapped[dict | None] = mapped_column(JSONText, nullable=True)
    model_weights: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    own_size: Mapped[int] = mapped_column(BigInteger, default=0)  # spec, settings, model and its weights
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"), nullable=True)
    member_key: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the teacher's handle on a member
    display_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    pushed_version: Mapped[int] = mapped_column(Integer, default=0)  # the class push this member has taken
    ip_digest: Mapped[str | None] = mapped_column(String(DIGEST), nullable=True)  # the hourly cap only
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)  # the workspace or one of its runs changed
    touched_at: Mapped[float] = mapped_column(Double)  # changed or opened: expiry counts from here


class RunRow(Base):
    """One training run of a workspace: settings, compact metric records, weights and optimiser state."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("workspace_id", "number", name="uq_runs_workspace_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    group: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict] = mapped_column(JSONText)
    config: Mapped[dict] = mapped_column(JSONText)
    state: Mapped[str] = mapped_column(String(16))
    records: Mapped[bytes] = mapped_column(LargeBinary)  # columns.pack
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    epochs: Mapped[dict | None] = mapped_column(JSONText, nullable=True)  # per-epoch curves for the class view
    results: Mapped[dict | None] = mapped_column(JSONText, nullable=True)
    context: Mapped[dict | None] = mapped_column(JSONText, nullable=True)  # the page's own (see RunRecord)
    weights: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    optimizer: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)  # records, weights, optimiser state, JSON
    server: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the server that last wrote it
    updated_at: Mapped[float] = mapped_column(Double)


class ProgressRow(Base):
    """A workspace's lesson progress: a step ticked (with what passed it), a prediction, or a challenge's best."""

    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("workspace_id", "lesson", "step", "kind", name="uq_lesson_progress"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    lesson: Mapped[str] = mapped_column(String(64))  # a lesson's id, or a challenge's key
    step: Mapped[int] = mapped_column(Integer)  # 0-based; 0 for a challenge
    kind: Mapped[str] = mapped_column(String(16))  # "tick", "prediction" or "challenge"
    value: Mapped[dict] = mapped_column(JSONText)
    updated_at: Mapped[float] = mapped_column(Double)


class AssignmentRow(Base):
    """A lesson or challenge assigned to a class; a custom challenge's definition is kept here too."""

    __tablename__ = "class_assignments"
    __table_args__ = (UniqueConstraint("class_id", "kind", "ref", name="uq_class_assignments"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "lesson" or "challenge"
    ref: Mapped[str] = mapped_column(String(64))  # the lesson's id or the challenge's key
    definition: Mapped[dict | None] = mapped_column(JSONText, nullable=True)  # a custom challenge's fields
    created_at: Mapped[float] = mapped_column(Double)
