"""HTTP routes of customer data. Every signed-in user reads customers and adds interactions and tickets;
supervisors and admins create, edit and delete; admins import CSV files."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import UploadFile

from callcenter.auth.http import Guard
from callcenter.auth.service import Role, SignedIn
from callcenter.customers.importer import MAX_BYTES, CsvError, ImportReport, parse_csv
from callcenter.customers.schemas import (
    CustomerIn,
    CustomerPatchIn,
    InteractionIn,
    TicketIn,
    TicketPatchIn,
    TicketStatus,
)
from callcenter.customers.service import Customer, CustomerService, CustomerSummary, Interaction, Ticket
from callcenter.errors import Invalid, NotFound

_IMPORT_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}},
}}}


async def _csv_body(request: Request) -> bytes:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Invalid("send the CSV file in the multipart form field 'file'")
            data = await upload.read(MAX_BYTES + 1)
    elif kind in ("text/csv", "text/plain", "application/octet-stream"):
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) > MAX_BYTES:
                break
        data = bytes(buffer)
    else:
        raise UnsupportedMedia(f"send the CSV as text/csv or as multipart/form-data, not {kind or 'nothing'!r}")
    if len(data) > MAX_BYTES:
        raise CsvError(f"the file has more than {MAX_BYTES} bytes; split it")
    return data


class UnsupportedMedia(Invalid):
    status = 415


def customer_routes(service: CustomerService, guard: Guard) -> APIRouter:
    router = APIRouter(tags=["customers"], dependencies=[Depends(guard.user)])
    Anyone = Annotated[SignedIn, Depends(guard.user)]
    editors = [Depends(guard.role(Role.SUPERVISOR, Role.ADMIN))]

    @router.get("/api/customers")
    async def customers(q: Annotated[str | None, Query(max_length=200)] = None,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        offset: Annotated[int, Query(ge=0)] = 0) -> list[Customer]:
        """Customers whose reference, name or company contains `q`, by name."""
        return await service.search(q, limit=limit, offset=offset)

    @router.get("/api/customers/lookup")
    async def lookup(phone: Annotated[str | None, Query(max_length=64)] = None,
                     reference: Annotated[str | None, Query(max_length=64)] = None) -> Customer:
        """The customer with this phone number (any format: `+49 30 123`, `0049-30-123`) or reference."""
        if (phone is None) == (reference is None):
            raise Invalid("give exactly one of phone and reference")
        found = await (service.find_by_phone(phone) if phone is not None
                       else service.find_by_reference(reference or ""))
        if found is None:
            raise NotFound(f"no customer with phone number {phone!r}" if phone is not None
                           else f"no customer with reference {reference!r}")
        return found

    @router.post("/api/customers/import", dependencies=[Depends(guard.role(Role.ADMIN))],
                 openapi_extra=_IMPORT_BODY)
    async def import_csv(request: Request, upsert: bool = False) -> ImportReport:
        """Import customers from CSV (the body as `text/csv`, or a multipart form field `file`). The good
        rows go in in one transaction; the report lists the rejected ones with row number and reason.
        With `upsert`, a known reference updates that customer."""
        # read here, after the role check: an anonymous upload is refused before its body is read
        data = await _csv_body(request)
        good, rejected = parse_csv(data)
        return await service.import_rows(good, rejected, upsert=upsert)

    @router.post("/api/customers", status_code=201, dependencies=editors)
    async def create_customer(body: CustomerIn) -> Customer:
        return await service.create(body)

    @router.get("/api/customers/{customer_id}")
    async def customer(customer_id: int) -> Customer:
        return await service.get(customer_id)

    @router.get("/api/customers/{customer_id}/summary")
    async def summary(customer_id: int, last: Annotated[int, Query(ge=1, le=100)] = 10) -> CustomerSummary:
        """The screen-pop view: the customer, the last interactions (newest first), the open tickets."""
        return await service.customer_summary(customer_id, last)

    @router.patch("/api/customers/{customer_id}", dependencies=editors)
    async def update_customer(customer_id: int, body: CustomerPatchIn) -> Customer:
        """Change the given fields; `phones` replaces the whole list."""
        return await service.update(customer_id, body)

    @router.delete("/api/customers/{customer_id}", status_code=204, dependencies=editors)
    async def delete_customer(customer_id: int) -> None:
        """Delete the customer with their phone numbers, interactions and tickets."""
        await service.delete(customer_id)

    @router.get("/api/customers/{customer_id}/interactions")
    async def interactions(customer_id: int, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[Interaction]:
        return await service.interactions(customer_id, limit=limit)

    @router.post("/api/customers/{customer_id}/interactions", status_code=201)
    async def add_interaction(customer_id: int, body: InteractionIn, signed_in: Anyone) -> Interaction:
        """Record a contact (a call) and its result; the signed-in user is its agent."""
        return await service.add_interaction(customer_id, body, agent=signed_in.user.login)

    @router.get("/api/customers/{customer_id}/tickets")
    async def tickets(customer_id: int, status: TicketStatus | None = None) -> list[Ticket]:
        return await service.tickets(customer_id, status)

    @router.post("/api/customers/{customer_id}/tickets", status_code=201)
    async def add_ticket(customer_id: int, body: TicketIn, signed_in: Anyone) -> Ticket:
        return await service.add_ticket(customer_id, body, created_by=signed_in.user.login)

    @router.get("/api/tickets/{ticket_id}")
    async def ticket(ticket_id: int) -> Ticket:
        return await service.ticket(ticket_id)

    @router.patch("/api/tickets/{ticket_id}", dependencies=editors)
    async def update_ticket(ticket_id: int, body: TicketPatchIn) -> Ticket:
        """Edit a ticket or change its status (solving sets `solved_at`)."""
        return await service.update_ticket(ticket_id, body)

    @router.delete("/api/tickets/{ticket_id}", status_code=204, dependencies=editors)
    async def delete_ticket(ticket_id: int) -> None:
        await service.delete_ticket(ticket_id)

    return router
