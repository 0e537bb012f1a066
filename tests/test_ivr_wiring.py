"""The IVR in the server: the contract's variable names, the survey table, the services on our data,
and the server built by the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.customers.schemas import CustomerIn, PhoneIn
from callcenter.customers.service import CustomerService
from callcenter.db.engine import create_sessionmaker
from callcenter.ivr.services import CallCenterServices, survey_answers
from callcenter.ivr.wiring import build_ivr
from callcenter.migrations import migrate
from callcenter.routing.config import load_acd_config
from callcenter.routing.service import RoutingService
from callcenter.settings import IvrSettings, Settings
from cti import contract
from cti.events import CallEnded, CallStarted
from cti.records import CallOutcome, CallRecord, Direction
from ivr import outcome
from ivr.effects import CreateTicket, CustomerInfo, HttpRequest, RequestCallback, SaveSurvey

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_the_ivr_uses_the_contracts_variable_names() -> None:
    names = {n: v for n, v in vars(outcome).items() if n.startswith("VAR_")}
    assert names
    for name, value in names.items():
        assert value in (getattr(contract, name, None), getattr(contract, "IVR_" + name, None)), name


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    await migrate(url)
    engine, sessions = create_sessionmaker(url)
    try:
        yield sessions
    finally:
        await engine.dispose()


async def test_customers_tickets_and_surveys_on_our_data(sessions: async_sessionmaker[AsyncSession]) -> None:
    customers = CustomerService(sessions, clock=lambda: NOW)
    await customers.create(CustomerIn(reference="4711", name="Bo Fault", vip=True,
                                      phones=[PhoneIn(number="+1 555 123 4567")]))
    services = CallCenterServices(sessions, customers, None, clock=lambda: NOW)
    assert await services.find_customer("phone", "+15551234567") == CustomerInfo("4711", "Bo Fault", True, "")
    assert await services.find_customer("reference", "4711") == CustomerInfo("4711", "Bo Fault", True, "")
    assert await services.find_customer("reference", "9999") is None
    number = await services.create_ticket(CreateTicket("4711", "Fault reported by phone", "no dial tone", "17.1"))
    assert number is not None
    found = await customers.find_by_reference("4711")
    assert found is not None
    [ticket] = await customers.tickets(found.id)
    assert (str(ticket.id), ticket.title, ticket.created_by) == (number, "Fault reported by phone", "ivr")
    assert ticket.description == "no dial tone\n(call 17.1)"
    assert await services.create_ticket(CreateTicket("9999", "x", "", "")) is None
    await services.save_survey(SaveSurvey("1795355275.23", "survey", "satisfaction", 4, "agent1001", "sales"))
    [row] = await survey_answers(sessions, "1795355275.23")
    assert (row.question, row.score, row.agent, row.queue, row.at) == ("satisfaction", 4, "agent1001", "sales", NOW)


async def test_http_lookup_failures_are_none(sessions: async_sessionmaker[AsyncSession]) -> None:
    services = CallCenterServices(sessions, CustomerService(sessions), None)
    assert await services.http_json(HttpRequest("http://127.0.0.1:9/none", "GET", 0.5)) is None


async def test_pick_agent_prefers_the_free_agent_of_the_queue(sessions: async_sessionmaker[AsyncSession]) -> None:
    async def send(action: object) -> None:
        return None

    routing = RoutingService(load_acd_config(ROOT / "config" / "acd.yaml"), send, lambda: 1000.0)  # type: ignore[arg-type]
    services = CallCenterServices(sessions, CustomerService(sessions), routing)
    assert await services.pick_agent("sales") is None  # nobody logged in
    routing.log_in("agent1004")
    routing.log_in("agent1005")
    routing.pause("agent1004", "break")
    agent = await services.pick_agent("sales")
    assert agent is not None and (agent.endpoint, agent.number) == ("agent1005", "1005")


async def test_a_callback_the_ivr_takes_reaches_the_acd_when_the_call_ends(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async def send(action: object) -> None:
        return None

    routing = RoutingService(load_acd_config(ROOT / "config" / "acd.yaml"), send, lambda: 1000.0)  # type: ignore[arg-type]
    routing.restore([], 1000.0)
    services = CallCenterServices(sessions, CustomerService(sessions), routing)
    routing.handle(CallStarted(990.0, "c1", Direction.INBOUND, "5551001", None, "8005550100", "PJSIP/cc-trunk-1"))
    assert await services.request_callback(RequestCallback("c1", "5550123", "billing", "")) is None
    assert routing.router.call("c1") is None  # not while the caller is on the line
    routing.handle(CallEnded(1000.0, "c1", CallRecord("c1", Direction.INBOUND, "5551001", "8005550100", None, None,
                                                      (), CallOutcome.ABANDONED, 990.0, None, 1000.0, 10.0, 0, 0)))
    view = routing.router.call("c1")
    assert view is not None and (view.queue, view.callback_number) == ("billing", "5550123")


def test_the_composition_root_builds_the_server(tmp_path: Path) -> None:
    settings = Settings(ivr=IvrSettings(flows_dir=ROOT / "config" / "ivr", port=0))
    _engine, sessions = create_sessionmaker(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    server = build_ivr(settings, sessions, CustomerService(sessions), None)
    assert server is not None and server.requested_port == 0
    assert build_ivr(Settings(ivr=IvrSettings(enabled=False)), sessions, CustomerService(sessions), None) is None
