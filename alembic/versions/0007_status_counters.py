"""status counters

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

The counters behind ``/status`` (``status_counts``, ``department_counts``; see
``models.counters``), the triggers on ``cases`` and ``assignments`` that keep them in each
writer's transaction, and the UTC offset they take local dates at (the organisation's zone if
one is loaded and has a fixed offset, else Asia/Shanghai's). Existing cases are counted once.
``ix_cases_overdue`` covers the overdue counts per region and clause.
"""
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from models import counters

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_DEFAULT_ZONE = "Asia/Shanghai"


def _offset() -> int:
    """The loaded organisation's zone offset (minutes), or the default zone's."""
    row = op.get_bind().execute(sa.text(
        "SELECT value FROM settings WHERE key = 'prefecture'")).first()
    zone = _DEFAULT_ZONE
    if row is not None and row[0]:
        import json
        try:
            zone = json.loads(row[0]).get("timezone") or _DEFAULT_ZONE
            tz = ZoneInfo(zone)
        except (ValueError, KeyError, AttributeError):
            tz = ZoneInfo(_DEFAULT_ZONE)
    else:
        tz = ZoneInfo(zone)
    fixed = counters.fixed_offset(tz)
    return fixed if fixed is not None else counters.offset_now(tz)


def _fill(dialect: str) -> None:
    """Count the existing cases and assignments into shard 0 (one statement per table)."""
    connection = op.get_bind()
    for table, key, values, full in (
            ('status_counts', counters.STATUS_KEY, counters.STATUS_VALUES,
             counters._full_status(dialect)),
            ('department_counts', counters.DEPARTMENT_KEY, counters.DEPARTMENT_VALUES,
             counters._full_department(dialect))):
        names = ', '.join(('shard', *key, *values))
        connection.execute(sa.text(
            f"INSERT INTO {table} ({names}) SELECT 0, * FROM ({full.text}) AS counted"))


def upgrade() -> None:
    op.create_table('status_counts',
    sa.Column('shard', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('region_name', sa.String(length=100), nullable=False),
    sa.Column('clause', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('industry', sa.String(length=32), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('closed_year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('on_time', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('capacity', sa.Numeric(precision=20, scale=4), nullable=False),
    sa.Column('capacity_n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('shard', 'region_name', 'clause', 'state', 'industry', 'unit',
                            'closed_year', 'on_time')
    )
    op.create_table('department_counts',
    sa.Column('shard', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('department_key', sa.String(length=64), nullable=False),
    sa.Column('region_name', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('on_time', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('shard', 'department_key', 'region_name', 'state', 'status',
                            'on_time')
    )
    op.create_index('ix_cases_overdue', 'cases', ['state', 'due_on', 'region_name', 'clause'])
    dialect = op.get_bind().dialect.name
    op.get_bind().execute(sa.text("DELETE FROM settings WHERE key = :key"),
                          {"key": counters.OFFSET_KEY})
    op.get_bind().execute(sa.text("INSERT INTO settings (key, value) VALUES (:key, :value)"),
                          {"key": counters.OFFSET_KEY, "value": str(_offset())})
    for statement in counters.install_statements(dialect):  # (the function _fill uses too)
        op.execute(statement)
    _fill(dialect)


def downgrade() -> None:
    for statement in counters.drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.get_bind().execute(sa.text("DELETE FROM settings WHERE key = :key"),
                          {"key": counters.OFFSET_KEY})
    op.drop_table('department_counts')
    op.drop_table('status_counts')
    op.drop_index('ix_cases_overdue', table_name='cases')
