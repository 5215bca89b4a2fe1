"""the market's daily bars and ticks kept across restarts

Revision ID: 994935d880f1
Revises: 6fd2d77e4cdb
Create Date: 2026-12-01 00:48:24.648623
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "994935d880f1"
down_revision: str | Sequence[str] | None = "6fd2d77e4cdb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_bar",
        sa.Column("symbol", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("open_milli", sa.BigInteger(), nullable=False),
        sa.Column("high_milli", sa.BigInteger(), nullable=False),
        sa.Column("low_milli", sa.BigInteger(), nullable=False),
        sa.Column("close_milli", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("turnover_minor", sa.BigInteger(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "day", name=op.f("pk_market_bar")),
    )
    op.create_table(
        "market_tick",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("price_milli", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_market_tick")),
    )
    with op.batch_alter_table("market_tick", schema=None) as batch_op:
        batch_op.create_index("ix_market_tick_symbol_day", ["symbol", "day", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("market_tick", schema=None) as batch_op:
        batch_op.drop_index("ix_market_tick_symbol_day")

    op.drop_table("market_tick")
    op.drop_table("market_bar")
