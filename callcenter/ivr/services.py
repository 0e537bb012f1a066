"""The services IVR flows use, on the call center's own parts: customer records, tickets, the ACD's
agents, outside systems over HTTP, and the survey table (`ivr.services.IvrServices`)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.model import AgentState
from callcenter.customers.schemas import TicketIn
from callcenter.customers.service import CustomerService
from callcenter.errors import ServiceError
from callcenter.ivr.models import SurveyAnswerRow
from callcenter.routing.service import RoutingService
from ivr.effects import AgentInfo, CreateTicket, CustomerInfo, HttpRequest, RequestCallback, SaveSurvey

log = logging.getLogger(__name__)

MAX_HTTP_BODY = 1024 * 1024
TICKET_AUTHOR = "ivr"  # tickets logged by the IVR say so
# least work first: free now, then finishing after-call work, then on a call or ringing
_WORK_ORDER = {AgentState.AVAILABLE: 0, AgentState.WRAP_UP: 1, AgentState.RESERVED: 2, AgentState.ON_CALL: 2}


class CallCenterServices:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], customers: CustomerService,
                 routing: RoutingService | None, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sessions = sessions
        self.customers = customers
        self.routing = routing
        self.clock = clock

    async def find_customer(self, by: str, value: str) -> CustomerInfo | None:
        found = await (self.customers.find_by_reference(value) if by == "reference" else
                       self.customers.find_by_phone(value))
        if found is None:
            return None
        return CustomerInfo(found.reference, found.name, found.vip, found.segment or "")

    async def http_json(self, request: HttpRequest) -> Any:
        try:
            return await asyncio.wait_for(asyncio.to_thread(_fetch, request), request.timeout + 0.5)
        except (TimeoutError, OSError, ValueError) as exc:
            log.warning("IVR: HTTP %s %s failed: %s; the flow takes its fallback", request.method, request.url, exc)
            return None

    async def create_ticket(self, request: CreateTicket) -> str | None:
        customer = await self.customers.find_by_reference(request.customer)
        if customer is None:
            return None
        description = request.description or None
        if request.call_id:
            description = f"{description or ''}\n(call {request.call_id})".strip()
        try:
            ticket = await self.customers.add_ticket(customer.id, TicketIn(title=request.title[:200],
                                                                           description=description),
                                                     created_by=TICKET_AUTHOR)
        except (ServiceError, ValueError) as exc:
            log.warning("IVR: ticket for %s not stored: %s", request.customer, exc)
            return None
        return str(ticket.id)

    async def pick_agent(self, queue: str) -> AgentInfo | None:
        """The agent of `queue` with the least work right now (the ACD's view), or None."""
        if self.routing is None:
            return None
        states = self.routing.agent_states()
        candidates = []
        for agent_id, agent in self.routing.config.agents.items():
            order = _WORK_ORDER.get(states.get(agent_id, AgentState.LOGGED_OUT))
            if queue in agent.queues and order is not None:
                candidates.append((order, agent_id))
        if not candidates:
            return None
        free = self.routing.router.free_agents(queue) if queue in self.routing.config.queue_names else []
        _, chosen = min(candidates, key=lambda c: (c[0], free.index(c[1]) if c[1] in free else len(free), c[1]))
        return AgentInfo(chosen, re.sub(r"\D", "", chosen) or chosen)

    async def save_survey(self, answer: SaveSurvey) -> None:
        async with self.sessions() as session, session.begin():
            session.add(SurveyAnswerRow(call_id=answer.call_id, at=self.clock(), flow=answer.flow,
                                        question=answer.question, score=answer.score, agent=answer.agent or None,
                                        queue=answer.queue or None))

    async def request_callback(self, request: RequestCallback) -> None:
        log.info("IVR: callback requested to %s (queue %s, call %s)", request.number, request.queue or "-",
                 request.call_id)
        if self.routing is not None and request.call_id and request.number:
            # the ACD takes it when the call is over (the line is free then): see note_ivr_callback
            self.routing.note_ivr_callback(request.call_id, request.queue or None, request.number)


def _fetch(request: HttpRequest) -> Any:
    data = json.dumps(request.body).encode() if request.body is not None else None
    http = urllib.request.Request(request.url, data=data, method=request.method,
                                  headers={"Accept": "application/json", "Content-Type": "application/json"})
    with urllib.request.urlopen(http, timeout=request.timeout) as response:
        body = response.read(MAX_HTTP_BODY + 1)
    if len(body) > MAX_HTTP_BODY:
        raise ValueError("answer larger than 1 MiB")
    return json.loads(body)


async def survey_answers(sessions: async_sessionmaker[AsyncSession], call_id: str) -> list[SurveyAnswerRow]:
    from sqlalchemy import select

    async with sessions() as session:
        return list((await session.scalars(select(SurveyAnswerRow).where(SurveyAnswerRow.call_id == call_id)
                                           .order_by(SurveyAnswerRow.id))).all())
