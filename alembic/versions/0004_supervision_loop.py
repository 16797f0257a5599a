"""supervision loop

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Every open case has a due day (``cases.due_on``: its deadline, or the end of its state's
wait); a notice (通报) is one document per round with its laggards as entries, drafted and then
signed off (its number comes at 签发); a summons is proposed before it is confirmed.

Existing notices become signed notices with one entry each; existing summonses are confirmed;
``due_on`` starts as the deadline (the sweep fills in the waits of cases without one).
"""
import json

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('due_on', sa.Date(), nullable=True))
        batch.create_index('ix_cases_state_due_on', ['state', 'due_on'], unique=False)
    op.execute("UPDATE cases SET due_on = deadline")

    op.create_table('notice_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('party', sa.String(length=100), nullable=False),
    sa.Column('party_kind', sa.String(length=16), nullable=False),
    sa.Column('step', sa.String(length=32), server_default='notice', nullable=False),
    sa.Column('case_refs', sa.Text(), nullable=False),
    sa.Column('obligation', sa.String(length=64), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index('ix_notice_entries_party', 'notice_entries', ['party', 'notice_id'],
                    unique=False)
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, key, party, party_kind, case_refs, obligation, deadline FROM notices"
    )).all()
    entries = sa.table('notice_entries', sa.column('notice_id', sa.Integer),
                       sa.column('key', sa.String), sa.column('party', sa.String),
                       sa.column('party_kind', sa.String), sa.column('step', sa.String),
                       sa.column('case_refs', sa.Text), sa.column('obligation', sa.String),
                       sa.column('deadline', sa.Date))
    if rows:
        op.bulk_insert(entries, [
            {"notice_id": row.id, "key": row.key, "party": row.party,
             "party_kind": row.party_kind, "step": "notice",
             "case_refs": row.case_refs if isinstance(row.case_refs, str)
             else json.dumps(row.case_refs, ensure_ascii=False),
             "obligation": row.obligation, "deadline": row.deadline}
            for row in rows])

    with op.batch_alter_table('notices') as batch:
        batch.add_column(sa.Column('status', sa.String(length=16), server_default='signed',
                                   nullable=False))
        batch.add_column(sa.Column('remark', sa.Text(), nullable=True))
        batch.add_column(sa.Column('signed_by', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('signed_by_name', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch.alter_column('year', existing_type=sa.Integer(), nullable=True)
        batch.alter_column('number', existing_type=sa.Integer(), nullable=True)
        batch.alter_column('code', existing_type=sa.String(length=64), nullable=True)
        batch.alter_column('issued_on', existing_type=sa.Date(), nullable=True)
        batch.drop_column('party')
        batch.drop_column('party_kind')
        batch.drop_column('case_refs')
        batch.drop_column('obligation')
        batch.drop_column('deadline')

    with op.batch_alter_table('summonses') as batch:
        batch.add_column(sa.Column('status', sa.String(length=16), server_default='confirmed',
                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('summonses') as batch:
        batch.drop_column('status')
    with op.batch_alter_table('notices') as batch:
        batch.add_column(sa.Column('party', sa.String(length=100), server_default='',
                                   nullable=False))
        batch.add_column(sa.Column('party_kind', sa.String(length=16), server_default='',
                                   nullable=False))
        batch.add_column(sa.Column('case_refs', sa.Text(), server_default='[]',
                                   nullable=False))
        batch.add_column(sa.Column('obligation', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('deadline', sa.Date(), nullable=True))
    connection = op.get_bind()
    for entry in connection.execute(sa.text(
            "SELECT notice_id, party, party_kind, case_refs, obligation, deadline "
            "FROM notice_entries ORDER BY id")).all():
        connection.execute(sa.text(
            "UPDATE notices SET party = :party, party_kind = :party_kind, "
            "case_refs = :case_refs, obligation = :obligation, deadline = :deadline "
            "WHERE id = :id AND party = ''"),
            {"party": entry.party, "party_kind": entry.party_kind,
             "case_refs": entry.case_refs, "obligation": entry.obligation,
             "deadline": entry.deadline, "id": entry.notice_id})
    op.execute("DELETE FROM notice_entries WHERE notice_id IN "
               "(SELECT id FROM notices WHERE number IS NULL)")
    op.execute("DELETE FROM summonses WHERE notice_id IN "
               "(SELECT id FROM notices WHERE number IS NULL)")
    op.execute("DELETE FROM notices WHERE number IS NULL")
    with op.batch_alter_table('notices') as batch:
        batch.drop_column('updated_at')
        batch.drop_column('signed_by_name')
        batch.drop_column('signed_by')
        batch.drop_column('remark')
        batch.drop_column('status')
    op.drop_index('ix_notice_entries_party', table_name='notice_entries')
    op.drop_table('notice_entries')
    with op.batch_alter_table('cases') as batch:
        batch.drop_index('ix_cases_state_due_on')
        batch.drop_column('due_on')
