"""inspections

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

The cover letter's clause 三 (issue 12): joint inspections a county or park organises with its
departments (联合检查), and the commission's own inspections (督促检查), scheduled first and
recorded when held. Each problem found is either fed back to the commission (问题反馈) or
opened as a case (``inspection_problems.case_ref``).
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('regions', sa.Text(), nullable=False),
    sa.Column('scheduled_on', sa.Date(), nullable=True),
    sa.Column('held_on', sa.Date(), nullable=True),
    sa.Column('departments', sa.Text(), nullable=False),
    sa.Column('enterprises', sa.Text(), nullable=False),
    sa.Column('enterprise_count', sa.Integer(), nullable=True),
    sa.Column('planned_by', sa.BigInteger(), nullable=True),
    sa.Column('planned_by_name', sa.String(length=200), nullable=True),
    sa.Column('recorded_by', sa.BigInteger(), nullable=True),
    sa.Column('recorded_by_name', sa.String(length=200), nullable=True),
    sa.Column('chat_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_inspections_status_scheduled', 'inspections',
                    ['status', 'scheduled_on'], unique=False)
    op.create_table('inspection_problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('enterprise', sa.String(length=200), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('disposition', sa.String(length=16), nullable=False),
    sa.Column('case_ref', sa.String(length=40), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('inspection_id', 'seq', name='uq_inspection_problems_seq')
    )


def downgrade() -> None:
    op.drop_table('inspection_problems')
    op.drop_index('ix_inspections_status_scheduled', table_name='inspections')
    op.drop_table('inspections')
