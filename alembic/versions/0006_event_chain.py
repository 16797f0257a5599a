"""event chain

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Each event stores the SHA-256 of its canonical content and of the case's previous event
(``events.hash``, ``events.prev_hash``; see ``models.chain``), and each case the head of its
chain (``cases.chain_seq``, ``cases.chain_hash``). Existing events are chained in the order of
their numbers. The append-only triggers refuse the UPDATE this needs, so they are dropped for
the backfill and installed again afterwards (on both back-ends; the downgrade does the same).
"""
from alembic import op
import sqlalchemy as sa

from models import chain
from models.types import JSONText, UTCDateTime


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BATCH = 1000

# The guards of migration 0001, unchanged.
_SQLITE_GUARDS = (
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are immutable'); END",
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are immutable'); END",
)
_POSTGRES_GUARDS = (
    "CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION duban_events_immutable()",
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _drop_guards() -> None:
    if _sqlite():
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    else:  # the function stays: the trigger comes back with it
        op.execute("DROP TRIGGER IF EXISTS events_no_change ON events")


def _install_guards() -> None:
    for statement in _SQLITE_GUARDS if _sqlite() else _POSTGRES_GUARDS:
        op.execute(statement)


_events = sa.table(
    'events',
    sa.column('id', sa.Integer), sa.column('case_id', sa.Integer), sa.column('seq', sa.Integer),
    sa.column('at', UTCDateTime), sa.column('kind', sa.String),
    sa.column('from_state', sa.String), sa.column('to_state', sa.String),
    sa.column('actor_id', sa.BigInteger), sa.column('actor_name', sa.String),
    sa.column('actor_role', sa.String), sa.column('department_key', sa.String),
    sa.column('chat_id', sa.BigInteger), sa.column('payload', JSONText),
    sa.column('hash', sa.String), sa.column('prev_hash', sa.String),
)
_cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('chain_seq', sa.Integer),
                  sa.column('chain_hash', sa.String))


def _backfill() -> None:
    """Chain every case's events in the order of their numbers, a page at a time."""
    connection = op.get_bind()
    set_event = (sa.update(_events).where(_events.c.id == sa.bindparam('event_id'))
                 .values(hash=sa.bindparam('new_hash'), prev_hash=sa.bindparam('new_prev')))
    set_head = (sa.update(_cases).where(_cases.c.id == sa.bindparam('head_case'))
                .values(chain_seq=sa.bindparam('head_seq'), chain_hash=sa.bindparam('head_hash')))
    columns = [_events.c[name] for name in ('id', *chain.FIELDS)]
    after: tuple[int, int] | None = None
    case_id, seq, digest = None, 0, None
    while True:
        query = sa.select(*columns).order_by(_events.c.case_id, _events.c.seq).limit(BATCH)
        if after is not None:
            query = query.where(sa.or_(
                _events.c.case_id > after[0],
                sa.and_(_events.c.case_id == after[0], _events.c.seq > after[1])))
        rows = connection.execute(query).mappings().all()
        if not rows:
            break
        events, heads = [], []
        for row in rows:
            if row['case_id'] != case_id:
                if case_id is not None:
                    heads.append({'head_case': case_id, 'head_seq': seq, 'head_hash': digest})
                case_id, digest = row['case_id'], None
            seq = row['seq']
            prev, digest = digest, chain.event_hash(row, digest)
            events.append({'event_id': row['id'], 'new_hash': digest, 'new_prev': prev})
        connection.execute(set_event, events)
        if heads:
            connection.execute(set_head, heads)
        after = (rows[-1]['case_id'], rows[-1]['seq'])
    if case_id is not None:
        connection.execute(set_head, [{'head_case': case_id, 'head_seq': seq,
                                       'head_hash': digest}])


def upgrade() -> None:
    _drop_guards()
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('chain_seq', sa.Integer(), server_default='0',
                                   nullable=False))
        batch.add_column(sa.Column('chain_hash', sa.String(length=64), nullable=True))
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
    _backfill()
    # SQLite copies the table to make the column NOT NULL (the guards went with the old one).
    with op.batch_alter_table('events') as batch:
        batch.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
    _install_guards()


def downgrade() -> None:
    _drop_guards()
    if _sqlite():  # in place: copying ``cases`` would trip the foreign keys pointing at it
        for table, column in (('events', 'prev_hash'), ('events', 'hash'),
                              ('cases', 'chain_hash'), ('cases', 'chain_seq')):
            op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
    else:
        op.drop_column('events', 'prev_hash')
        op.drop_column('events', 'hash')
        op.drop_column('cases', 'chain_hash')
        op.drop_column('cases', 'chain_seq')
    _install_guards()
