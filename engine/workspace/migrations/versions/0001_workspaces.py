"""The first schema: classes, workspaces (and snapshots), runs. JSON columns are text (see schema.JSONText).

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("teacher_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("join_code", sa.String(16), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("pushed_version", sa.Integer(), nullable=False),
        sa.Column("pushed_spec", sa.Text(), nullable=True),
        sa.Column("pushed_settings", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("touched_at", sa.Double(), nullable=False),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("model_weights", sa.LargeBinary(), nullable=True),
        sa.Column("own_size", sa.BigInteger(), nullable=False),
        sa.Column("class_id", sa.Integer(), sa.ForeignKey("classes.id", ondelete="SET NULL"), nullable=True),
        sa.Column("member_key", sa.String(32), nullable=True),
        sa.Column("display_name", sa.String(100), nullable=True),
        sa.Column("pushed_version", sa.Integer(), nullable=False),
        sa.Column("ip_digest", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("touched_at", sa.Double(), nullable=False),
    )
    op.create_index("ix_workspaces_ip_created", "workspaces", ["ip_digest", "created_at"])
    op.create_index("ix_workspaces_touched", "workspaces", ["touched_at"])
    op.create_index("ix_workspaces_class", "workspaces", ["class_id", "updated_at"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("records", sa.LargeBinary(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("epochs", sa.Text(), nullable=True),
        sa.Column("results", sa.Text(), nullable=True),
        sa.Column("weights", sa.LargeBinary(), nullable=True),
        sa.Column("optimizer", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.UniqueConstraint("workspace_id", "number", name="uq_runs_workspace_number"),
    )
    op.create_index("ix_runs_workspace_id", "runs", ["workspace_id"])


def downgrade() -> None:
    op.drop_table("runs")
    op.drop_table("workspaces")
    op.drop_table("classes")
