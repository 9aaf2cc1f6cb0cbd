"""create todo table

Revision ID: 0002_todo
Revises: 0001_user
Create Date: 2024-05-18 10:40:02.118904

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0002_todo"
down_revision: Union[str, Sequence[str], None] = "0001_user"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

user_table = sa.table(
    "user",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("full_name", sa.String),
)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "todo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("done", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], ondelete="CASCADE"),
    )
    op.bulk_insert(user_table, [{"email": "demo@example.com", "full_name": "Demo"}])


def downgrade() -> None:
    """Downgrade schema."""
    op.execute(user_table.delete().where(user_table.c.email == "demo@example.com"))
    op.drop_table("todo")
