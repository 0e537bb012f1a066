"""Customer use cases. The screen pop calls `summary_by_reference` when the IVR identified the caller,
else `summary_by_phone`: the customer, the latest interactions and the open tickets in one session."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload

from callcenter.customers.importer import CsvRow, ImportReport, Rejected
from callcenter.customers.models import CustomerRow, InteractionRow, PhoneRow, TicketRow
from callcenter.customers.phones import normalise
from callcenter.customers.schemas import (
    CustomerIn,
    CustomerPatchIn,
    InteractionIn,
    PhoneIn,
    TicketIn,
    TicketPatchIn,
    TicketStatus,
)
from callcenter.errors import Conflict, Invalid, NotFound

Clock = Callable[[], datetime]
SUMMARY_INTERACTIONS = 10
_IN_CHUNK = 500  # values per IN (...): SQLite bounds the parameters of one statement


@dataclass(frozen=True, slots=True)
class Phone:
    number: str       # as entered
    normalized: str   # the lookup form (callcenter.customers.phones)
    label: str | None


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    reference: str
    name: str
    company: str | None
    address: str | None
    segment: str | None
    vip: bool
    value: int | None
    notes: str | None
    phones: tuple[Phone, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Interaction:
    id: int
    customer_id: int
    at: datetime
    call_id: str | None
    agent: str
    channel: str
    result: str
    notes: str | None


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    customer_id: int
    title: str
    description: str | None
    status: TicketStatus
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None
    created_by: str


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    """What the screen pop shows: the customer, the latest interactions (newest first), open tickets."""

    customer: Customer
    interactions: tuple[Interaction, ...]
    open_tickets: tuple[Ticket, ...]


def _customer(row: CustomerRow) -> Customer:
    return Customer(
        id=row.id, reference=row.reference, name=row.name, company=row.company, address=row.address,
        segment=row.segment, vip=row.vip, value=row.value, notes=row.notes,
        phones=tuple(Phone(p.number, p.normalized, p.label) for p in row.phones),
        created_at=row.created_at, updated_at=row.updated_at,
    )


def _interaction(row: InteractionRow) -> Interaction:
    return Interaction(row.id, row.customer_id, row.at, row.call_id, row.agent, row.channel, row.result, row.notes)


def _ticket(row: TicketRow) -> Ticket:
    return Ticket(row.id, row.customer_id, row.title, row.description, TicketStatus(row.status), row.created_at,
                  row.updated_at, row.solved_at, row.created_by)


def _phone_rows(phones: Iterable[PhoneIn]) -> list[PhoneRow]:
    rows = []
    for phone in phones:
        normalized = normalise(phone.number)
        assert normalized is not None  # PhoneIn refuses what does not normalise
        rows.append(PhoneRow(number=phone.number, normalized=normalized, label=phone.label or None))
    return rows


_CUSTOMER_FIELDS = ("reference", "name", "company", "address", "segment", "vip", "value", "notes")
_REQUIRED = ("reference", "name", "vip")


class CustomerService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 clock: Clock = lambda: datetime.now(UTC)) -> None:
        self._sessions = sessions
        self.clock = clock

    # -- lookups for the screen pop -------------------------------------------------------------

    async def find_by_phone(self, number: str) -> Customer | None:
        """The customer with this phone number (any format, see `phones.normalise`), or None."""
        normalized = normalise(number)
        if normalized is None:
            return None
        async with self._sessions() as session:
            row = await session.scalar(select(CustomerRow).join(PhoneRow)
                                       .where(PhoneRow.normalized == normalized))
            return None if row is None else _customer(row)

    async def find_by_reference(self, reference: str) -> Customer | None:
        async with self._sessions() as session:
            row = await session.scalar(select(CustomerRow).where(CustomerRow.reference == reference.strip()))
            return None if row is None else _customer(row)

    async def customer_summary(self, customer_id: int, last: int = SUMMARY_INTERACTIONS) -> CustomerSummary:
        async with self._sessions() as session:
            return await self._summary(session, await self._row(session, customer_id), last)

    async def summary_by_phone(self, number: str, last: int = SUMMARY_INTERACTIONS) -> CustomerSummary | None:
        """The screen pop's lookup by the calling number (any format): `find_by_phone` and
        `customer_summary` in one session, the fewest round trips to the database."""
        normalized = normalise(number)
        if normalized is None:
            return None
        async with self._sessions() as session:
            row = (await session.scalars(
                select(CustomerRow).join(PhoneRow).where(PhoneRow.normalized == normalized).limit(1)
                .options(joinedload(CustomerRow.phones)))).unique().one_or_none()
            return None if row is None else await self._summary(session, row, last)

    async def summary_by_reference(self, reference: str,
                                   last: int = SUMMARY_INTERACTIONS) -> CustomerSummary | None:
        """The screen pop's lookup of the customer the IVR identified (its reference, CC_CUSTOMER)."""
        async with self._sessions() as session:
            row = (await session.scalars(
                select(CustomerRow).where(CustomerRow.reference == reference.strip())
                .options(joinedload(CustomerRow.phones)))).unique().one_or_none()
            return None if row is None else await self._summary(session, row, last)

    @staticmethod
    async def _summary(session: AsyncSession, row: CustomerRow, last: int) -> CustomerSummary:
        interactions = (await session.scalars(
            select(InteractionRow).where(InteractionRow.customer_id == row.id)
            .order_by(InteractionRow.at.desc(), InteractionRow.id.desc()).limit(last))).all()
        tickets = (await session.scalars(
            select(TicketRow).where(TicketRow.customer_id == row.id, TicketRow.status == TicketStatus.OPEN.value)
            .order_by(TicketRow.created_at, TicketRow.id))).all()
        return CustomerSummary(_customer(row), tuple(map(_interaction, interactions)), tuple(map(_ticket, tickets)))

    # -- customers ------------------------------------------------------------------------------

    async def _row(self, session: AsyncSession, customer_id: int) -> CustomerRow:
        row = await session.get(CustomerRow, customer_id)
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        return row

    async def get(self, customer_id: int) -> Customer:
        async with self._sessions() as session:
            return _customer(await self._row(session, customer_id))

    async def search(self, text: str | None = None, *, limit: int = 50, offset: int = 0) -> list[Customer]:
        """Customers whose reference, name or company contains `text` (any case), by name."""
        query = select(CustomerRow)
        if text:
            pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(or_(*(func.lower(column).like(pattern, escape="\\") for column in
                                      (CustomerRow.reference, CustomerRow.name, CustomerRow.company))))
        query = query.order_by(CustomerRow.name, CustomerRow.id).limit(limit).offset(offset)
        async with self._sessions() as session:
            return [_customer(row) for row in (await session.scalars(query)).all()]

    async def create(self, data: CustomerIn) -> Customer:
        async with self._sessions() as session:
            async with session.begin():
                row = await self._insert(session, data)
            return _customer(row)

    async def _insert(self, session: AsyncSession, data: CustomerIn) -> CustomerRow:
        await self._check_reference(session, data.reference)
        await self._check_phones(session, data.phones)
        now = self.clock()
        row = CustomerRow(**{name: getattr(data, name) for name in _CUSTOMER_FIELDS},
                          created_at=now, updated_at=now, phones=_phone_rows(data.phones))
        session.add(row)
        await self._flush(session)
        return row

    async def _flush(self, session: AsyncSession) -> None:
        try:
            await session.flush()
        except IntegrityError:  # a concurrent writer took the reference or a number first
            raise Conflict("another change took this customer reference or phone number first; "
                           "nothing was written") from None

    async def _check_reference(self, session: AsyncSession, reference: str, *, other_than: int | None = None) -> None:
        query = select(CustomerRow.id).where(CustomerRow.reference == reference)
        if other_than is not None:
            query = query.where(CustomerRow.id != other_than)
        if await session.scalar(query) is not None:
            raise Conflict(f"customer reference {reference!r} exists")

    async def _check_phones(self, session: AsyncSession, phones: Sequence[PhoneIn], *,
                            other_than: int | None = None) -> None:
        owners = await self._phone_owners(session, [p.number for p in phones], other_than=other_than)
        for phone in phones:
            owner = owners.get(normalise(phone.number) or "")
            if owner is not None:
                raise Conflict(f"phone number {phone.number!r} belongs to customer {owner!r}")

    async def _phone_owners(self, session: AsyncSession, numbers: Iterable[str], *,
                            other_than: int | None = None) -> dict[str, str]:
        """Normalised number -> reference of the customer who has it."""
        normalized = {n for n in map(normalise, numbers) if n is not None}
        if not normalized:
            return {}
        owners: dict[str, str] = {}
        unique = sorted(normalized)
        for start in range(0, len(unique), _IN_CHUNK):
            query = (select(PhoneRow.normalized, CustomerRow.reference).join(CustomerRow)
                     .where(PhoneRow.normalized.in_(unique[start:start + _IN_CHUNK])))
            if other_than is not None:
                query = query.where(CustomerRow.id != other_than)
            owners.update({row[0]: row[1] for row in await session.execute(query)})
        return owners

    async def update(self, customer_id: int, patch: CustomerPatchIn) -> Customer:
        given = patch.model_fields_set
        for name in _REQUIRED:
            if name in given and getattr(patch, name) is None:
                raise Invalid(f"{name} cannot be null")
        async with self._sessions() as session:
            async with session.begin():
                row = await self._row(session, customer_id)
                if patch.reference is not None and patch.reference != row.reference:
                    await self._check_reference(session, patch.reference, other_than=row.id)
                for name in _CUSTOMER_FIELDS:
                    if name in given:
                        setattr(row, name, getattr(patch, name))
                if patch.phones is not None:
                    await self._check_phones(session, patch.phones, other_than=row.id)
                    await self._replace_phones(session, row, patch.phones)
                row.updated_at = self.clock()
                await self._flush(session)
            return _customer(row)

    async def _replace_phones(self, session: AsyncSession, row: CustomerRow, phones: Sequence[PhoneIn]) -> None:
        # delete first and flush: a number kept in the new list must not meet its old row in the index
        row.phones.clear()
        await session.flush()
        row.phones.extend(_phone_rows(phones))

    async def delete(self, customer_id: int) -> None:
        """Delete a customer with their phones, interactions and tickets."""
        async with self._sessions.begin() as session:
            await self._row(session, customer_id)
            await session.execute(delete(CustomerRow).where(CustomerRow.id == customer_id))

    # -- interactions and tickets ---------------------------------------------------------------

    async def interactions(self, customer_id: int, *, limit: int = 100) -> list[Interaction]:
        """Newest first."""
        async with self._sessions() as session:
            await self._row(session, customer_id)
            rows = (await session.scalars(
                select(InteractionRow).where(InteractionRow.customer_id == customer_id)
                .order_by(InteractionRow.at.desc(), InteractionRow.id.desc()).limit(limit))).all()
            return [_interaction(r) for r in rows]

    async def add_interaction(self, customer_id: int, data: InteractionIn, *, agent: str,
                              channel: str = "call") -> Interaction:
        async with self._sessions() as session:
            async with session.begin():
                await self._row(session, customer_id)
                row = InteractionRow(customer_id=customer_id, at=self.clock(), call_id=data.call_id, agent=agent,
                                     channel=channel, result=data.result, notes=data.notes or None)
                session.add(row)
            return _interaction(row)

    async def tickets(self, customer_id: int, status: TicketStatus | None = None) -> list[Ticket]:
        """Oldest first."""
        query = select(TicketRow).where(TicketRow.customer_id == customer_id)
        if status is not None:
            query = query.where(TicketRow.status == status.value)
        async with self._sessions() as session:
            await self._row(session, customer_id)
            rows = (await session.scalars(query.order_by(TicketRow.created_at, TicketRow.id))).all()
            return [_ticket(r) for r in rows]

    async def add_ticket(self, customer_id: int, data: TicketIn, *, created_by: str) -> Ticket:
        now = self.clock()
        async with self._sessions() as session:
            async with session.begin():
                await self._row(session, customer_id)
                row = TicketRow(customer_id=customer_id, title=data.title, description=data.description or None,
                                status=TicketStatus.OPEN.value, created_at=now, updated_at=now, solved_at=None,
                                created_by=created_by)
                session.add(row)
            return _ticket(row)

    async def _ticket_row(self, session: AsyncSession, ticket_id: int) -> TicketRow:
        row = await session.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"no ticket with id {ticket_id}")
        return row

    async def ticket(self, ticket_id: int) -> Ticket:
        async with self._sessions() as session:
            return _ticket(await self._ticket_row(session, ticket_id))

    async def update_ticket(self, ticket_id: int, patch: TicketPatchIn) -> Ticket:
        """Edit a ticket; solving sets `solved_at`, reopening clears it."""
        given = patch.model_fields_set
        for name in ("title", "status"):
            if name in given and getattr(patch, name) is None:
                raise Invalid(f"{name} cannot be null")
        now = self.clock()
        async with self._sessions() as session:
            async with session.begin():
                row = await self._ticket_row(session, ticket_id)
                if patch.title is not None:
                    row.title = patch.title
                if "description" in given:
                    row.description = patch.description or None
                if patch.status is not None and patch.status.value != row.status:
                    row.status = patch.status.value
                    row.solved_at = now if patch.status == TicketStatus.SOLVED else None
                row.updated_at = now
            return _ticket(row)

    async def delete_ticket(self, ticket_id: int) -> None:
        async with self._sessions.begin() as session:
            await self._ticket_row(session, ticket_id)
            await session.execute(delete(TicketRow).where(TicketRow.id == ticket_id))

    # -- CSV import -----------------------------------------------------------------------------

    async def import_rows(self, rows: Sequence[CsvRow], rejected: Sequence[Rejected] = (), *,
                          upsert: bool = False) -> ImportReport:
        """Store the checked rows of a CSV file in one transaction; a row whose reference or phone number
        is taken (by a customer in the database, or by an earlier row of the file) is rejected instead.
        With `upsert`, a row whose reference exists updates that customer (its phone list replaced)."""
        rejects = list(rejected)
        created = updated = 0
        async with self._sessions() as session, session.begin():
            existing = await self._by_reference(session, [r.customer.reference for r in rows])
            owners = await self._phone_owners(session, [p.number for r in rows for p in r.customer.phones])
            reference_row: dict[str, int] = {}
            phone_row: dict[str, int] = {}
            for row in rows:
                data = row.customer
                reason = self._import_conflict(data, row.row, existing, owners, reference_row, phone_row,
                                               upsert=upsert)
                if reason is not None:
                    rejects.append(Rejected(row.row, data.reference, reason))
                    continue
                reference_row[data.reference] = row.row
                phone_row.update({normalise(p.number) or "": row.row for p in data.phones})
                now = self.clock()
                current = existing.get(data.reference)
                if current is None:
                    session.add(CustomerRow(**{n: getattr(data, n) for n in _CUSTOMER_FIELDS}, created_at=now,
                                            updated_at=now, phones=_phone_rows(data.phones)))
                    created += 1
                else:
                    for name in _CUSTOMER_FIELDS:
                        setattr(current, name, getattr(data, name))
                    current.updated_at = now
                    await self._replace_phones(session, current, data.phones)
                    updated += 1
            await self._flush(session)
        return ImportReport(created, updated, tuple(sorted(rejects, key=lambda r: r.row)))

    @staticmethod
    def _import_conflict(data: CustomerIn, row: int, existing: dict[str, CustomerRow], owners: dict[str, str],
                         reference_row: dict[str, int], phone_row: dict[str, int], *, upsert: bool) -> str | None:
        if data.reference in reference_row:
            return f"duplicate reference {data.reference!r} (also in row {reference_row[data.reference]})"
        if data.reference in existing and not upsert:
            return f"customer reference {data.reference!r} exists (import with upsert to update it)"
        for phone in data.phones:
            normalized = normalise(phone.number) or ""
            if normalized in phone_row:
                return f"duplicate phone number {phone.number!r} (also in row {phone_row[normalized]})"
            owner = owners.get(normalized)
            if owner is not None and owner != data.reference:
                return f"duplicate phone number {phone.number!r}: it belongs to customer {owner!r}"
        return None

    async def _by_reference(self, session: AsyncSession, references: Sequence[str]) -> dict[str, CustomerRow]:
        found: dict[str, CustomerRow] = {}
        unique = sorted(set(references))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start:start + _IN_CHUNK]
            rows = (await session.scalars(select(CustomerRow).where(CustomerRow.reference.in_(chunk)))).all()
            found.update((row.reference, row) for row in rows)
        return found
