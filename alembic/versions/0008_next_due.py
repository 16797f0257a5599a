"""the sweep's next-due day

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

``cases.next_due``: the first day the calendar's sweep must read a case again, indexed, so a
sweep reads what is due instead of every case in a 35-day window (see
``scheduler.rules.next_check``). Existing cases start at ``1970-01-01`` (look at it now): the
first sweep after the upgrade reads every one of them once and sets the real day.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('cases', sa.Column('next_due', sa.Date(), nullable=True,
                                     server_default='1970-01-01'))
    op.create_index('ix_cases_next_due', 'cases', ['next_due'])
    # The dispatcher's unsent rows (issue 13): a partial index, see models.tables.Outbox.
    op.create_index('ix_outbox_unsent', 'outbox', ['id'], sqlite_where=sa.text('sent_at IS NULL'),
                    postgresql_where=sa.text('sent_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_outbox_unsent', table_name='outbox')
    op.drop_index('ix_cases_next_due', table_name='cases')
    # In place on SQLite too (ALTER TABLE … DROP COLUMN, SQLite 3.35+): copying ``cases`` would
    # trip the foreign keys pointing at it and drop the status counters' triggers (0007).
    op.execute('ALTER TABLE cases DROP COLUMN next_due')
