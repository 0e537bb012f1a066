"""Tables of customers, their phone numbers, interactions and tickets.

Text typed by people is bounded here and in the request schemas with the same limits, so that the
API refuses a too-long value with a clear message before the database would.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db.models import Base, Id

REFERENCE_MAX = 64
NAME_MAX = 200
ADDRESS_MAX = 1000
SEGMENT_MAX = 64
NOTES_MAX = 10_000
PHONE_MAX = 40
PHONE_DIGITS_MAX = 20
LABEL_MAX = 32
RESULT_MAX = 64
TITLE_MAX = 200
LOGIN_MAX = 64  # as callcenter.auth.models.LOGIN_MAX: tickets and interactions name their author


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(REFERENCE_MAX), unique=True)  # the customer number
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    company: Mapped[str | None] = mapped_column(String(NAME_MAX))
    address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX))
    segment: Mapped[str | None] = mapped_column(String(SEGMENT_MAX))
    vip: Mapped[bool] = mapped_column(Boolean)
    value: Mapped[int | None] = mapped_column(Integer)  # customer value, higher is worth more (routing, reports)
    notes: Mapped[str | None] = mapped_column(String(NOTES_MAX))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    phones: Mapped[list[PhoneRow]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                  order_by="PhoneRow.id", lazy="selectin")

    __table_args__ = (Index("ix_customers_name", "name"),)


class PhoneRow(Base):
    """A phone number of a customer: as entered, and normalised (`callcenter.customers.phones`) for the
    lookup by calling number. A normalised number belongs to one customer only."""

    __tablename__ = "customer_phones"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(PHONE_MAX))
    normalized: Mapped[str] = mapped_column(String(PHONE_DIGITS_MAX), unique=True)
    label: Mapped[str | None] = mapped_column(String(LABEL_MAX))


class InteractionRow(Base):
    """One contact with the customer (a call, later chat or mail) with its result."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    call_id: Mapped[str | None]  # calls.call_id when it was a call
    agent: Mapped[str] = mapped_column(String(LOGIN_MAX))  # login name of the user who recorded it
    channel: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(RESULT_MAX))  # disposition: solved, callback, sale, ...
    notes: Mapped[str | None] = mapped_column(String(NOTES_MAX))

    __table_args__ = (Index("ix_interactions_customer_id_at", "customer_id", "at"),
                      Index("ix_interactions_call_id", "call_id"))


class TicketRow(Base):
    """A problem of the customer, open until solved."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str | None] = mapped_column(String(NOTES_MAX))
    status: Mapped[str] = mapped_column(String(16))  # open / solved
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    solved_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(LOGIN_MAX))

    __table_args__ = (Index("ix_tickets_customer_id_status", "customer_id", "status"),)
