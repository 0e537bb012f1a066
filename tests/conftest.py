"""Database fixtures: every data-layer test runs on SQLite and on PostgreSQL (127.0.0.1:5432).

PostgreSQL gets one fresh database per test session, dropped at the end. If the server cannot be
reached the PostgreSQL cases fail under CI (CI=true) and are skipped with the reason elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.db.engine import create_sessionmaker
from callcenter.migrations import migrate

PG_ADMIN = os.environ.get("CALLCENTER_TEST_PG", "postgres@127.0.0.1:5432")
TABLES = ("call_recordings", "call_transfers", "call_legs", "calls", "queue_log")


async def _admin(statement: str) -> None:
    import asyncpg

    user, _, hostport = PG_ADMIN.partition("@")
    host, _, port = hostport.partition(":")
    connection = await asyncpg.connect(user=user, host=host, port=int(port or 5432), database="postgres",
                                       timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as exc:  # asyncpg raises its own errors for refused auth etc.
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN} is required under CI: {exc!r}")
        pytest.skip(f"PostgreSQL at {PG_ADMIN} not reachable: {exc!r}")
    user, _, hostport = PG_ADMIN.partition("@")
    yield f"postgresql+asyncpg://{user}@{hostport}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated, empty database."""
    await migrate(database_url)
    engine, maker = create_sessionmaker(database_url)
    async with engine.begin() as connection:
        for table in TABLES:
            await connection.execute(text(f"DELETE FROM {table}"))
    yield maker
    await engine.dispose()
