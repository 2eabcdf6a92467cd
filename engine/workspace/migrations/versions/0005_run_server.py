"""Runs get a ``server`` column: the id of the server that last wrote a run, so a replica tells a run another server
is training from one its own previous life left behind (``RunRecord.elsewhere``). Existing runs: None.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("server", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("server")
