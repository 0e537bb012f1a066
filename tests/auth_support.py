"""Helpers for the sign-in and customer tests: a stepping clock, a whole `CallCenter` on a migrated
database (nothing started: no AMI, no bus), its app over httpx's ASGI transport, signed-in clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from callcenter.api import create_app
from callcenter.app import CallCenter
from callcenter.auth.service import Role
from callcenter.migrations import migrate
from callcenter.settings import Settings

# argon2id at its smallest cost: the tests check the logic, not the hardness (RFC 9106 values are slow)
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

# login, role, endpoint: one of each role, and a second agent
STAFF = [("ada", Role.AGENT, "agent1001"), ("bob", Role.AGENT, "agent1002"),
         ("sue", Role.SUPERVISOR, None), ("root", Role.ADMIN, None)]


class SteppingClock:
    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@asynccontextmanager
async def call_center(database_url: str, tmp_path: Path, clock: SteppingClock | None = None,
                      **auth: Any) -> AsyncIterator[CallCenter]:
    """A call center on a migrated database with the STAFF users; `auth` overrides auth settings."""
    await migrate(database_url)
    settings = Settings.model_validate({
        "database": {"url": database_url}, "records": {"queue_log_path": str(tmp_path / "queue_log")},
        "auth": auth,
    })
    center = CallCenter(settings, clock=clock or SteppingClock(), password_hasher=CHEAP_HASHER)
    try:
        for login, role, endpoint in STAFF:
            await center.auth.create_user(login, login.title(), role, PASSWORD, endpoint=endpoint)
        yield center
    finally:
        await center.engine.dispose()


def client(center: CallCenter) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(center), client=("192.0.2.10", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@asynccontextmanager
async def signed_in(center: CallCenter, login: str, password: str = PASSWORD) -> AsyncIterator[httpx.AsyncClient]:
    async with client(center) as http:
        response = await http.post("/api/auth/login", json={"login": login, "password": password})
        assert response.status_code == 200, response.text
        yield http
