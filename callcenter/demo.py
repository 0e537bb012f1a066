"""`callcenter demo`: the whole call center on this machine with a simulated PBX, demo agents and traffic.

The settings are the usual ones (config/callcenter.yaml and CALLCENTER__ variables) with the PBX switched
to the built-in simulator and, unless a database is named, a SQLite file of its own (`var/demo.db`).
Sign-in users for each role are created on first start with the passwords below: the demo listens on
loopback only unless told otherwise, and says everywhere that nothing in it is real.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from callcenter.app import CallCenter
from callcenter.auth.service import AuthService, Role
from callcenter.customers.schemas import CustomerIn, PhoneIn, TicketIn
from callcenter.customers.service import CustomerService
from callcenter.errors import ServiceError
from callcenter.migrations import migrate
from callcenter.settings import PbxSettings, Settings, SimulatorSettings
from callcenter.simulator.service import BANNER

log = logging.getLogger(__name__)

DEMO_DATABASE = "sqlite+aiosqlite:///./var/demo.db"


@dataclass(frozen=True)
class DemoUser:
    login: str
    name: str
    role: Role
    password: str
    endpoint: str | None = None


# Known passwords, printed at start: this is a demonstration on loopback, not an installation.
DEMO_USERS = (
    DemoUser("admin", "Demo Admin", Role.ADMIN, "demo-admin-password"),
    DemoUser("supervisor", "Demo Supervisor", Role.SUPERVISOR, "demo-supervisor-password"),
    DemoUser("agent", "Demo Agent (you)", Role.AGENT, "demo-agent-password", endpoint="agent1099"),
)


# Demo customers: references 10001.., calling from 5551001.. (the bot callers of config/simulator.yaml's
# `numbers`), every fifth a VIP, some with an open ticket: what a screen pop and the fault line show.
DEMO_CUSTOMERS = 20
_COMPANIES = ("Acme Ltd", "Globex", "Initech", "Umbrella", "Stark Industries", None)
_NAMES = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth",
          "Margaret Hamilton", "Ken Thompson", "Frances Allen", "John McCarthy")


def demo_settings(settings: Settings, *, speed: float | None = None, http_port: int | None = None) -> Settings:
    """The settings with the simulated PBX; the demo's own database unless one is set in the environment."""
    simulator = settings.simulator
    if speed is not None:
        simulator = SimulatorSettings(**{**simulator.model_dump(), "speed": speed})
    update: dict[str, object] = {"pbx": PbxSettings(mode="simulated"), "simulator": simulator}
    # the simulated Asterisk's AGI() reaches our own IVR server, wherever the settings put it
    update["asterisk"] = settings.asterisk.model_copy(update={"fastagi_host": settings.ivr.host,
                                                              "fastagi_port": settings.ivr.port})
    if "CALLCENTER__DATABASE__URL" not in os.environ:
        update["database"] = settings.database.model_copy(update={"url": DEMO_DATABASE})
    if http_port is not None:
        update["http"] = settings.http.model_copy(update={"port": http_port})
    return settings.model_copy(update=update)


async def ensure_demo_users(auth: AuthService) -> None:
    existing = {user.login for user in await auth.users()}
    for user in DEMO_USERS:
        if user.login in existing:
            continue
        try:
            await auth.create_user(user.login, user.name, user.role, user.password, endpoint=user.endpoint)
        except ServiceError as exc:  # e.g. the endpoint is taken by a user made by hand: say so, go on
            log.warning("demo user %s not created: %s", user.login, exc.message)


async def ensure_demo_customers(customers: CustomerService) -> int:
    """The demo's customers, made once (a database with customers already is left as it is)."""
    if await customers.search(limit=1):
        return 0
    for n in range(DEMO_CUSTOMERS):
        customer = await customers.create(CustomerIn(
            reference=str(10001 + n), name=f"{_NAMES[n % len(_NAMES)]} ({n + 1})",
            company=_COMPANIES[n % len(_COMPANIES)], segment="business" if n % 2 else "consumer",
            vip=n % 5 == 0, value=1000 * (DEMO_CUSTOMERS - n), notes="Demo customer: not a real person.",
            phones=[PhoneIn(number=f"555{1001 + n}", label="mobile")]))
        if n % 3 == 0:
            await customers.add_ticket(customer.id, TicketIn(title="Line drops in the evening",
                                                             description="Reported by phone (demo data)."),
                                       created_by="demo")
    return DEMO_CUSTOMERS


def banner(settings: Settings) -> str:
    url = f"http://{settings.http.host}:{settings.http.port}"
    lines = [
        "=" * 78,
        f"  {BANNER}",
        f"  Call center demo at {url}   (PBX time x{settings.simulator.speed:g})",
        f"  Sign in at {url}/login as:",
        *(f"    {u.login:<11} / {u.password:<26} ({u.role.value}{', phone ' + u.endpoint if u.endpoint else ''})"
          for u in DEMO_USERS),
        f"  Live calls: {url}/api/calls/live   Agents: {url}/api/agents   Queues: {url}/api/queues",
        "  API description: " + f"{url}/docs" + "   Stop: Ctrl-C",
        "=" * 78,
    ]
    return "\n".join(lines)


async def run_demo(settings: Settings) -> None:
    await migrate(settings.database.url)
    center = CallCenter(settings)
    await ensure_demo_users(center.auth)
    await ensure_demo_customers(center.customers)
    print(banner(settings), flush=True)
    await center.run()
