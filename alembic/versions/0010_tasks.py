"""tasks

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Issue 12: the document's tagged duties outside the case clauses as supervised tasks (任务分解),
and the measures a case's event opens (linked measures), with their progress reports
(进展反馈). Each report period of a live task is a row of ``obligations`` per owner, so the
calendar chases tasks as it chases the yearly duties.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('clause', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('lead', sa.Text(), nullable=False),
    sa.Column('participants', sa.Text(), nullable=False),
    sa.Column('unowned', sa.Text(), nullable=False),
    sa.Column('schedule', sa.String(length=32), nullable=False),
    sa.Column('linked', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('merged_into', sa.Integer(), nullable=True),
    sa.Column('live_on', sa.Date(), nullable=True),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('source')
    )
    op.create_index('ix_tasks_status', 'tasks', ['status'], unique=False)
    op.create_index(op.f('ix_tasks_case_id'), 'tasks', ['case_id'], unique=False)
    op.create_table('task_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('department_key', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('reported_by', sa.BigInteger(), nullable=True),
    sa.Column('reported_by_name', sa.String(length=200), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_task_reports_task_id'), 'task_reports', ['task_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_task_reports_task_id'), table_name='task_reports')
    op.drop_table('task_reports')
    op.drop_index(op.f('ix_tasks_case_id'), table_name='tasks')
    op.drop_index('ix_tasks_status', table_name='tasks')
    op.drop_table('tasks')
