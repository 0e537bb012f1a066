"""Helpers for the desktop tests (no tests here): a whole call center on the simulated PBX, served over
real HTTP on a free port, with a small ACD (the person's agent1099 in `support`, a bot agent1002 in
`sales`), no random traffic, and callers placed by the test."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from auth_support import CHEAP_HASHER

from callcenter.app import CallCenter
from callcenter.customers.schemas import CustomerIn, TicketIn
from callcenter.demo import ensure_demo_users
from callcenter.migrations import migrate
from callcenter.settings import Settings
from callcenter.simulator.channels import Channel
from callcenter.simulator.people import CallerBehaviour, Span

SPEED = 10.0
SERVICE_NUMBER = "8005550100"
AGENT, BOT = "agent1099", "agent1002"
PASSWORDS = {"agent": "demo-agent-password", "supervisor": "demo-supervisor-password", "admin": "demo-admin-password",
             "other": "other-agent-password"}

ACD_YAML = """
time_zone: UTC
pause_reasons: [break, lunch, training, ring-no-answer]
default_queue: support
queues:
  support: {skills: {support: 1}, wrap_up: 600, ring_timeout: 600}
  sales: {skills: {sales: 1}, wrap_up: 5, ring_timeout: 30}
agents:
  agent1099: {name: Demo Agent, skills: {support: 50, sales: 50}, queues: [support]}
  agent1002: {name: Bot Agent 1002, skills: {sales: 60}, queues: [sales], login: auto}
  agent1003: {name: Other Agent, skills: {support: 50}, queues: [support]}
"""

SCENARIO_YAML = """
seed: 3
trunk_context: cc-inbound
agents:
  context: agents
  bots: {count: 1, first_number: 1002, answer_after: [1, 1], miss_rate: 0, talk: [3000, 3000]}
  people: [agent1099, agent1003]
traffic: []
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def desktop_settings(tmp_path: Path, *, port: int | None = None, heartbeat: float = 15.0) -> Settings:
    (tmp_path / "acd.yaml").write_text(ACD_YAML)
    (tmp_path / "simulator.yaml").write_text(SCENARIO_YAML)
    return Settings.model_validate({
        "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"},
        "records": {"queue_log_path": str(tmp_path / "queue_log")},
        "http": {"port": port or free_port()},
        "pbx": {"mode": "simulated"},
        "simulator": {"scenario": str(tmp_path / "simulator.yaml"), "speed": SPEED},
        "acd": {"config": str(tmp_path / "acd.yaml")},
        "desktop": {"heartbeat_seconds": heartbeat},
    })


async def until(condition: Callable[[], Any], within: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached in {within} s")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running_center(settings: Settings) -> AsyncIterator[CallCenter]:
    """The server running (HTTP, AMI to the simulator, ACD restored), the demo users in place."""
    await migrate(settings.database.url)
    center = CallCenter(settings, password_hasher=CHEAP_HASHER)
    await ensure_demo_users(center.auth)
    task = asyncio.get_running_loop().create_task(center.run())
    try:
        await until(lambda: center.connection.ready and center.pipeline.stats.resyncs > 0
                    and center._server is not None and center._server.started, 15, "server ready")
        await until(lambda: center.routing.agent_states()[BOT] == "available", 5, "ACD restored")
        yield center
    finally:
        center.stop()
        await asyncio.wait_for(task, 30)


def base_url(center: CallCenter) -> str:
    return f"http://127.0.0.1:{center.settings.http.port}"


async def sign_in(center: CallCenter, login: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=base_url(center))
    response = await http.post("/api/auth/login", json={"login": login, "password": PASSWORDS[login]})
    assert response.status_code == 200, response.text
    return http


@asynccontextmanager
async def at_work(center: CallCenter, login: str, endpoint: str) -> AsyncIterator[httpx.AsyncClient]:
    """`login` signed in over HTTP, their agent `endpoint` logged in to the ACD."""
    http = await sign_in(center, login)
    try:
        assert (await http.post(f"/api/agents/{endpoint}/login")).status_code == 200
        yield http
    finally:
        await http.aclose()


def place_call(center: CallCenter, number: str, *, talk: float = 3000) -> Channel:
    """A caller dials the service number now; patient, and talks until the agent hangs up."""
    assert center.simulator is not None and center.simulator.people is not None
    behaviour = CallerBehaviour(SERVICE_NUMBER, 0, Span(3000, 3000), Span(talk, talk), numbers=(number,))
    return center.simulator.people.call(behaviour)


async def add_customer(center: CallCenter, number: str, *, name: str = "Grace Hopper", vip: bool = True) -> int:
    customer = await center.customers.create(CustomerIn.model_validate({
        "reference": "C-1001", "name": name, "company": "Navy Labs", "vip": vip,
        "phones": [{"number": number, "label": "mobile"}]}))
    await center.customers.add_ticket(customer.id, TicketIn(title="Invoice shows the wrong address"),
                                      created_by="admin")
    return customer.id
