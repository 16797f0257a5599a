"""inbox and summons numbers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Updates from Telegram are stored in ``inbox`` before they are acknowledged and removed when
they are handled; summonses get a number of their own within the year (``year``, ``number``),
so the number people read has no gaps. Existing summonses are numbered in the order they were
created.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox',
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('update_id')
    )
    with op.batch_alter_table('summonses') as batch:
        batch.add_column(sa.Column('year', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('number', sa.Integer(), nullable=True))
        batch.create_unique_constraint('uq_summonses_year_number', ['year', 'number'])
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, created_at FROM summonses ORDER BY id")).all()
    counters: dict[int, int] = {}
    for row in rows:
        created = row.created_at
        year = int(str(created)[:4])
        counters[year] = counters.get(year, 0) + 1
        connection.execute(sa.text(
            "UPDATE summonses SET year = :year, number = :number WHERE id = :id"),
            {"year": year, "number": counters[year], "id": row.id})


def downgrade() -> None:
    with op.batch_alter_table('summonses') as batch:
        batch.drop_constraint('uq_summonses_year_number', type_='unique')
        batch.drop_column('number')
        batch.drop_column('year')
    op.drop_table('inbox')
