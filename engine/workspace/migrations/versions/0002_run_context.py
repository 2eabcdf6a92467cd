"""Runs get a ``context`` column: a page's own JSON about a run (a Gradients experiment's settings and snapshots).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("context", sa.Text(), nullable=True))  # existing runs: None (no context)


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("context")
