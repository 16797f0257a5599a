"""late counts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Issue 13: overdue counted too (``models.counters``): ``late_counts`` (region × clause) and
``department_late_counts`` (department × region × status of its part) hold the cases late as
of a local day kept in ``settings`` (``counters_late_as_of``), kept by triggers on ``cases``
and ``assignments`` in each writer's transaction. No day is stored here, so nothing is late
as of it and the tables start empty: the first ``/status`` rolls them to its day (the overdue
cases, read once by their index).
"""
import sqlalchemy as sa
from alembic import op

from models import counters

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('late_counts',
    sa.Column('shard', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('region_name', sa.String(length=100), nullable=False),
    sa.Column('clause', sa.String(length=8), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('shard', 'region_name', 'clause')
    )
    op.create_table('department_late_counts',
    sa.Column('shard', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('department_key', sa.String(length=64), nullable=False),
    sa.Column('region_name', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('shard', 'department_key', 'region_name', 'status')
    )
    op.get_bind().execute(sa.text("DELETE FROM settings WHERE key = :key"),
                          {"key": counters.AS_OF_KEY})
    for statement in counters.late_install_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in counters.late_drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.get_bind().execute(sa.text("DELETE FROM settings WHERE key = :key"),
                          {"key": counters.AS_OF_KEY})
    op.drop_table('department_late_counts')
    op.drop_table('late_counts')
