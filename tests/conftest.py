"""Shared fixtures: `make_rig` (tests/routing_rig.py: the center on the shipped dialplan), `browser`
(tests/browser_support.py: a headless Chromium), and the database.

Database fixtures: every data-layer test runs on SQLite and on PostgreSQL (127.0.0.1:5432).

PostgreSQL gets one fresh, uniquely named database per test session, dropped at the end, so that
test runs side by side never meet. If the server cannot be reached the PostgreSQL cases fail under
CI (`CI` set) and are skipped with the reason elsewhere. `CALLCENTER_TEST_POSTGRES_URL` names
another server (its maintenance database, by a user allowed to create databases).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from browser_support import browser  # noqa: F401  (a fixture, shared by the page tests)
from routing_rig import make_rig  # noqa: F401  (a fixture, shared by the routing tests)
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from callcenter.db.engine import create_sessionmaker
from callcenter.migrations import migrate

POSTGRES_ADMIN_URL = os.environ.get(
    "CALLCENTER_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


async def _admin(*statements: str, url: str = POSTGRES_ADMIN_URL) -> None:
    # CREATE / DROP DATABASE cannot run inside a transaction block.
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"callcenter_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, SQLAlchemyError) as exc:
        shown = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
        reason = f"PostgreSQL at {shown} is not usable: {type(exc).__name__}: {exc}".splitlines()[0]
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required under CI)", pytrace=False)
        pytest.skip(f"{reason} (set CI=1 to make this a failure)")
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no schema): a temporary SQLite file, or this session's PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}"
    url: str = request.getfixturevalue("postgres_url")
    # One database per session, an empty schema per test: "migrate from empty" means empty on both.
    asyncio.run(_admin("DROP SCHEMA public CASCADE", "CREATE SCHEMA public", url=url))
    return url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A freshly migrated database."""
    await migrate(database_url)
    engine, maker = create_sessionmaker(database_url)
    try:
        yield maker
    finally:
        await engine.dispose()
