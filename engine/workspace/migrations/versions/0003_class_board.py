"""Classes get a ``board_digest`` column: the digest of the read-only class board's token (see ``classes.board``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing classes: None until their teacher's page next asks for the board link (the token derives from
    # the teacher's, which the database does not hold). A unique index, not a constraint: SQLite adds it without
    # copying the table (a copy would drop "classes" and, by ON DELETE SET NULL, every member with it).
    op.add_column("classes", sa.Column("board_digest", sa.String(64), nullable=True))
    op.create_index("ix_classes_board_digest", "classes", ["board_digest"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_classes_board_digest", table_name="classes")
    op.drop_column("classes", "board_digest")  # SQLite >= 3.35 drops a column in place, no copy
