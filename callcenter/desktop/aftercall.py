"""After-call work: the agent's result for a call (disposition, notes), stored as an interaction of the
customer, and a ticket created or updated with it.

The customer is the one the screen pop identified, or one the agent picked (`customer_id`) when the
number identified nobody. The disposition must be one of `desktop.dispositions`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callcenter.auth.errors import Forbidden
from callcenter.auth.service import Role, SignedIn
from callcenter.customers.models import NOTES_MAX, TITLE_MAX
from callcenter.customers.schemas import InteractionIn, TicketIn, TicketPatchIn, TicketStatus
from callcenter.customers.service import CustomerService, Interaction, Ticket
from callcenter.desktop.control import CallControl
from callcenter.errors import Conflict, Invalid, NotFound


class TicketWork(BaseModel):
    """`id` null: a new ticket (`title` needed); else that ticket of the customer is updated."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: int | None = None
    title: str | None = Field(None, min_length=1, max_length=TITLE_MAX)
    description: str | None = Field(None, max_length=NOTES_MAX)
    status: TicketStatus | None = None

    @model_validator(mode="after")
    def _new_needs_title(self) -> TicketWork:
        if self.id is None and not self.title:
            raise ValueError("a new ticket needs a title")
        return self


class DispositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    disposition: str = Field(min_length=1, max_length=64)
    notes: str | None = Field(None, max_length=NOTES_MAX)
    customer_id: int | None = None
    ticket: TicketWork | None = None


@dataclass(frozen=True, slots=True)
class DispositionOut:
    call_id: str
    customer_id: int
    interaction: Interaction
    ticket: Ticket | None


class AfterCall:
    def __init__(self, control: CallControl, customers: CustomerService, dispositions: list[str]) -> None:
        self.control, self.customers, self.dispositions = control, customers, dispositions

    async def dispose(self, signed_in: SignedIn, call_id: str, body: DispositionIn) -> DispositionOut:
        call = self.control.book.call(call_id)
        user = signed_in.user
        if call is None:
            raise NotFound(f"no recent call {call_id!r}")
        if user.role is Role.AGENT and user.endpoint not in call.handled_by:
            raise Forbidden(f"an agent records results only of calls they handled ({user.endpoint})")
        if body.disposition not in self.dispositions:
            raise Invalid(f"disposition must be one of {self.dispositions}")
        customer_id = body.customer_id if body.customer_id is not None else call.customer_id
        if customer_id is None:
            raise Conflict("no customer is identified for this call: give customer_id")
        interaction = await self.customers.add_interaction(
            customer_id, InteractionIn(call_id=call_id, result=body.disposition, notes=body.notes), agent=user.login)
        ticket = None
        if body.ticket is not None and body.ticket.id is None:
            assert body.ticket.title is not None
            ticket = await self.customers.add_ticket(
                customer_id, TicketIn(title=body.ticket.title, description=body.ticket.description),
                created_by=user.login)
        elif body.ticket is not None and body.ticket.id is not None:
            existing = await self.customers.ticket(body.ticket.id)
            if existing.customer_id != customer_id:
                raise Invalid(f"ticket {body.ticket.id} is not this customer's")
            changes = body.ticket.model_dump(exclude={"id"}, exclude_unset=True)
            ticket = await self.customers.update_ticket(body.ticket.id, TicketPatchIn(**changes))
        return DispositionOut(call_id, customer_id, interaction, ticket)
