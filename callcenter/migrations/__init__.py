"""Alembic migrations, run programmatically (no alembic.ini on disk): `await migrate(url)`.

A new revision: write `versions/NNNN_what.py` by hand, or let Alembic draft it against a database
migrated to the current head (then review it, and keep tests/test_db.py's no-drift check green):

    from alembic import command
    from callcenter.migrations import alembic_config
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.revision(alembic_config(c), "what", autogenerate=True,
                                                       rev_id="0002"))
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from callcenter.db.engine import create_sessionmaker

HERE = Path(__file__).resolve().parent

# Any fixed 64-bit number, the same in every node: the PostgreSQL advisory lock that serialises migrations.
MIGRATION_LOCK_KEY = 0x63616C6C63656E74  # "callcent"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the scripts in this package, bound to `connection` (see env.py)."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


async def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (a new SQLite file and its folder are created).

    One transaction: on PostgreSQL a failed migration leaves the schema as it was. Several nodes that
    share one PostgreSQL database and start together take turns (an advisory lock held until commit):
    the first migrates, the others then find the schema at `revision` and do nothing.
    """
    engine, _ = create_sessionmaker(url)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    finally:
        await engine.dispose()
