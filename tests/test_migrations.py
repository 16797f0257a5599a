"""Alembic migrations build exactly the models' schema and can be undone, on both back-ends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import current_revision, upgrade
from models.tables import SQLModel


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    assert await current_revision(engine) is not None
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_downgrade_to_base_and_up_again(engine: AsyncEngine) -> None:
    from alembic import command

    from models.db import alembic_config

    def down(connection: Connection) -> list[str]:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        return [t for t in inspect(connection).get_table_names() if t != "alembic_version"]

    async with engine.begin() as connection:
        assert await connection.run_sync(down) == []
    await upgrade(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_upgrade_is_idempotent(engine: AsyncEngine) -> None:
    before = await current_revision(engine)
    await upgrade(engine)
    assert await current_revision(engine) == before
