"""calendar

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

The calendar: yearly obligations, the keys of what the scheduler sent, numbered notices,
summonses, and the coordinators' pause and skip controls on cases.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('party', sa.String(length=100), nullable=False),
    sa.Column('party_kind', sa.String(length=16), nullable=False),
    sa.Column('case_refs', sa.Text(), nullable=False),
    sa.Column('obligation', sa.String(length=64), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key'),
    sa.UniqueConstraint('year', 'number', name='uq_notices_year_number')
    )
    op.create_table('obligations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('party', sa.String(length=100), nullable=False),
    sa.Column('party_kind', sa.String(length=16), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by', sa.BigInteger(), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'year', 'party', name='uq_obligations_kind_year_party')
    )
    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.create_index('ix_obligations_due', ['due', 'confirmed_at'], unique=False)

    op.create_table('sent_keys',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=120), nullable=False),
    sa.Column('outbox_key', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('sent_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sent_keys_subject'), ['subject'], unique=False)

    op.create_table('summonses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('party', sa.String(length=100), nullable=False),
    sa.Column('party_kind', sa.String(length=16), nullable=False),
    sa.Column('leader', sa.String(length=200), nullable=True),
    sa.Column('case_refs', sa.Text(), nullable=False),
    sa.Column('obligation', sa.String(length=64), nullable=True),
    sa.Column('notice_id', sa.Integer(), nullable=True),
    sa.Column('meets_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('rsvp', sa.String(length=16), nullable=True),
    sa.Column('rsvp_by', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_status_created', ['status', 'created_at'],
                              unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('skipped_steps', sa.Text(), server_default='[]',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_status_created')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('skipped_steps')
        batch_op.drop_column('paused')

    op.drop_table('summonses')
    with op.batch_alter_table('sent_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sent_keys_subject'))

    op.drop_table('sent_keys')
    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.drop_index('ix_obligations_due')

    op.drop_table('obligations')
    op.drop_table('notices')
