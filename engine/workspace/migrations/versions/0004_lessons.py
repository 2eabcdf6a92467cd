"""Lessons: a workspace's progress (ticks, predictions, challenge bests) and a class's assignments and custom
challenges. Two new tables, no change to the old ones; portable DDL (SQLite and PostgreSQL alike).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lesson_progress",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("lesson", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.UniqueConstraint("workspace_id", "lesson", "step", "kind", name="uq_lesson_progress"),
    )
    op.create_index("ix_lesson_progress_workspace_id", "lesson_progress", ["workspace_id"])
    op.create_table(
        "class_assignments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("class_id", sa.Integer(), sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.UniqueConstraint("class_id", "kind", "ref", name="uq_class_assignments"),
    )
    op.create_index("ix_class_assignments_class_id", "class_assignments", ["class_id"])


def downgrade() -> None:
    op.drop_table("class_assignments")
    op.drop_table("lesson_progress")
