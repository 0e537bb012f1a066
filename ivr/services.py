"""What the flows need from the rest of the call center, as an interface the server injects.

`callcenter.ivr.services.CallCenterServices` implements it on our customer records, tickets, the ACD,
outside HTTP systems and the survey table; `NoServices` answers nothing (a flow then takes its
fallbacks), which is what tests and the benchmark use.
"""

from __future__ import annotations

from typing import Any, Protocol

from ivr.effects import (
    AgentInfo,
    CreateTicket,
    CustomerInfo,
    FindCustomer,
    HttpRequest,
    PickAgent,
    Request,
    RequestCallback,
    SaveSurvey,
)


class IvrServices(Protocol):
    async def find_customer(self, by: str, value: str) -> CustomerInfo | None: ...

    async def http_json(self, request: HttpRequest) -> Any: ...  # None: no usable answer

    async def create_ticket(self, request: CreateTicket) -> str | None: ...

    async def pick_agent(self, queue: str) -> AgentInfo | None: ...

    async def save_survey(self, answer: SaveSurvey) -> None: ...

    async def request_callback(self, request: RequestCallback) -> None: ...


class NoServices:
    async def find_customer(self, by: str, value: str) -> CustomerInfo | None:
        return None

    async def http_json(self, request: HttpRequest) -> Any:
        return None

    async def create_ticket(self, request: CreateTicket) -> str | None:
        return None

    async def pick_agent(self, queue: str) -> AgentInfo | None:
        return None

    async def save_survey(self, answer: SaveSurvey) -> None:
        return None

    async def request_callback(self, request: RequestCallback) -> None:
        return None


async def answer(services: IvrServices, request: Request) -> Any:
    """The services' answer to one request of the runner."""
    if isinstance(request, FindCustomer):
        return await services.find_customer(request.by, request.value)
    if isinstance(request, HttpRequest):
        return await services.http_json(request)
    if isinstance(request, CreateTicket):
        return await services.create_ticket(request)
    if isinstance(request, PickAgent):
        return await services.pick_agent(request.queue)
    if isinstance(request, SaveSurvey):
        return await services.save_survey(request)
    return await services.request_callback(request)
