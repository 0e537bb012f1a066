"""Customer data on SQLite and PostgreSQL: records with phone numbers, lookup by calling number in any
format, the screen-pop summary, interactions, tickets, the CSV import report, migration 0002 down."""

from __future__ import annotations

import pytest
from alembic import command
from auth_support import START, SteppingClock
from pydantic import ValidationError
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.customers.importer import CsvError, Rejected, parse_csv
from callcenter.customers.models import CustomerRow, InteractionRow, PhoneRow, TicketRow
from callcenter.customers.phones import normalise
from callcenter.customers.schemas import (
    CustomerIn,
    CustomerPatchIn,
    InteractionIn,
    TicketIn,
    TicketPatchIn,
    TicketStatus,
)
from callcenter.customers.service import CustomerService
from callcenter.db.engine import create_sessionmaker
from callcenter.errors import Conflict, Invalid, NotFound
from callcenter.migrations import alembic_config, migrate

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def service(sessions: Sessions, clock: SteppingClock) -> CustomerService:
    return CustomerService(sessions, clock=clock)


def _ada(**changes: object) -> CustomerIn:
    data: dict[str, object] = {
        "reference": "C-1001", "name": "Ada Lovelace", "company": "Analytical Ltd",
        "address": "1 Engine Road\nLondon", "segment": "gold", "vip": True, "value": 900,
        "phones": [{"number": "+44 20 7946 0001", "label": "office"}, {"number": "07700 900123"}],
    }
    return CustomerIn.model_validate(data | changes)


async def _count(sessions: Sessions, model: type) -> int | None:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(("number", "normalized"), [
    ("+44 20 7946 0001", "442079460001"), ("0044 20 7946 0001", "442079460001"),
    ("+44 (20) 7946-0001", "442079460001"), ("44.20.7946.0001", "442079460001"),
    ("5551007", "5551007"), ("030 1234567", "0301234567"), ("112", "112"),
    ("12", None), ("anonymous", None), ("", None), ("+", None), ("555 1007 ext 3", None), ("1" * 21, None),
])
def test_phone_normalisation(number: str, normalized: str | None) -> None:
    assert normalise(number) == normalized


async def test_create_and_find_by_phone_in_any_format(service: CustomerService) -> None:
    created = await service.create(_ada())
    assert (created.reference, created.vip, created.value, created.created_at) == ("C-1001", True, 900, START)
    assert [(p.number, p.normalized, p.label) for p in created.phones] == [
        ("+44 20 7946 0001", "442079460001", "office"), ("07700 900123", "07700900123", None)]
    for ani in ("+442079460001", "00442079460001", "+44 20 7946 0001", "07700900123"):
        found = await service.find_by_phone(ani)
        assert found is not None and found.id == created.id, ani
    assert await service.find_by_phone("442079460002") is None
    assert await service.find_by_phone("anonymous") is None
    assert await service.find_by_reference(" C-1001 ") == created
    assert await service.find_by_reference("C-1002") is None


async def test_references_and_numbers_are_unique(service: CustomerService, sessions: Sessions) -> None:
    await service.create(_ada())
    with pytest.raises(Conflict, match="customer reference 'C-1001' exists"):
        await service.create(_ada(phones=[]))
    with pytest.raises(Conflict, match="phone number '0044 20 7946 0001' belongs to customer 'C-1001'"):
        await service.create(_ada(reference="C-1002", phones=[{"number": "0044 20 7946 0001"}]))
    assert await _count(sessions, CustomerRow) == 1 and await _count(sessions, PhoneRow) == 2


def test_customer_input_is_checked() -> None:
    with pytest.raises(ValidationError) as error:
        _ada(phones=[{"number": "+44 20 7946 0001"}, {"number": "0044 2079460001"}])
    assert "'0044 2079460001' is the same number as '+44 20 7946 0001'" in str(error.value)
    with pytest.raises(ValidationError, match="'call me' is not a phone number"):
        _ada(phones=[{"number": "call me"}])
    with pytest.raises(ValidationError, match="at most 200 characters"):
        _ada(name="x" * 201)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        _ada(email="ada@example.org")
    assert _ada(company="  ", name="  Ada  ").company is None and _ada(name="  Ada  ").name == "Ada"


async def test_update_and_delete(service: CustomerService, sessions: Sessions, clock: SteppingClock) -> None:
    ada = await service.create(_ada())
    await service.create(_ada(reference="C-1002", name="Bob", phones=[{"number": "5551007"}]))
    clock.advance(60)
    patch = CustomerPatchIn.model_validate({"name": "Ada King", "company": None,
                                            "phones": [{"number": "07700 900123"}, {"number": "5551008"}]})
    updated = await service.update(ada.id, patch)
    assert (updated.name, updated.company, updated.segment, updated.updated_at) == (
        "Ada King", None, "gold", clock.now)
    assert [p.normalized for p in updated.phones] == ["07700900123", "5551008"]
    assert await service.find_by_phone("+44 20 7946 0001") is None  # the replaced number is gone

    with pytest.raises(Conflict, match="belongs to customer 'C-1002'"):
        await service.update(ada.id, CustomerPatchIn.model_validate({"phones": [{"number": "555-1007"}]}))
    with pytest.raises(Conflict, match="'C-1002' exists"):
        await service.update(ada.id, CustomerPatchIn(reference="C-1002"))
    with pytest.raises(Invalid, match="name cannot be null"):
        await service.update(ada.id, CustomerPatchIn.model_validate({"name": None}))
    with pytest.raises(NotFound, match="no customer with id 99"):
        await service.update(99, CustomerPatchIn(name="x"))
    assert (await service.get(ada.id)).name == "Ada King"  # the refused changes left no trace

    await service.add_ticket(ada.id, TicketIn(title="Broken engine"), created_by="ada")
    await service.add_interaction(ada.id, InteractionIn(result="callback"), agent="ada")
    await service.delete(ada.id)
    with pytest.raises(NotFound):
        await service.get(ada.id)
    for model, left in ((CustomerRow, 1), (PhoneRow, 1), (TicketRow, 0), (InteractionRow, 0)):
        assert await _count(sessions, model) == left, model


async def test_search(service: CustomerService) -> None:
    await service.create(_ada())
    await service.create(_ada(reference="C-2000", name="Bob 100%", company=None, phones=[]))
    await service.create(_ada(reference="X_1", name="Carol", company="Bobcat Inc", phones=[]))
    assert [c.name for c in await service.search("bob")] == ["Bob 100%", "Carol"]
    assert [c.name for c in await service.search("100%")] == ["Bob 100%"]
    assert [c.reference for c in await service.search("x_")] == ["X_1"]  # _ is no wildcard
    assert [c.name for c in await service.search(None, limit=2, offset=1)] == ["Bob 100%", "Carol"]


async def test_summary_interactions_and_tickets(service: CustomerService, clock: SteppingClock) -> None:
    ada = await service.create(_ada())
    for n in range(12):
        clock.advance(60)
        await service.add_interaction(ada.id, InteractionIn(call_id=f"17953.{n}", result="solved",
                                                            notes=f"call {n}"), agent="ada")
    first = await service.add_ticket(ada.id, TicketIn(title="Invoice wrong", description="March"), created_by="ada")
    second = await service.add_ticket(ada.id, TicketIn(title="Engine noise"), created_by="bob")
    clock.advance(60)
    solved = await service.update_ticket(first.id, TicketPatchIn(status="solved"))
    assert (solved.status, solved.solved_at, solved.updated_at) == ("solved", clock.now, clock.now)

    summary = await service.customer_summary(ada.id)
    assert summary.customer == ada
    assert [i.notes for i in summary.interactions] == [f"call {n}" for n in range(11, 1, -1)]
    assert summary.interactions[0].call_id == "17953.11" and summary.interactions[0].channel == "call"
    assert [(t.title, t.status, t.created_by) for t in summary.open_tickets] == [("Engine noise", "open", "bob")]
    assert [t.title for t in await service.tickets(ada.id)] == ["Invoice wrong", "Engine noise"]
    assert [t.title for t in await service.tickets(ada.id, TicketStatus.SOLVED)] == ["Invoice wrong"]
    assert len(await service.interactions(ada.id, limit=5)) == 5

    reopened = await service.update_ticket(first.id, TicketPatchIn(status="open"))
    assert (reopened.status, reopened.solved_at) == ("open", None)
    await service.delete_ticket(second.id)
    with pytest.raises(NotFound, match=f"no ticket with id {second.id}"):
        await service.ticket(second.id)
    with pytest.raises(NotFound, match="no customer with id 99"):
        await service.add_ticket(99, TicketIn(title="x"), created_by="ada")
    with pytest.raises(NotFound):
        await service.customer_summary(99)

    # the screen pop's lookups: the same summary by the calling number (any format) or the IVR's reference
    expected = await service.customer_summary(ada.id)
    assert await service.summary_by_phone(ada.phones[0].number.replace(" ", "")) == expected
    assert await service.summary_by_reference(f" {ada.reference} ") == expected
    assert await service.summary_by_phone("+44 20 0000 0000") is None
    assert await service.summary_by_phone("anonymous") is None
    assert await service.summary_by_reference("NOBODY") is None


CSV = """reference,name,company,vip,value,phones,notes
C-1,Ada Lovelace,Analytical Ltd,yes,900,+44 20 7946 0001|07700 900123,
C-2,Bob,,no,,5551007,"a note, with a comma"
C-3,,Nameless Ltd,,,,
C-4,Carol,,maybe,,,
C-1,Ada again,,,,5551009,
C-5,Dan,,,,00442079460001,
C-6,Eve,,,,123;call me,
C-7,Frank,,,x1,,
C-8,Gina,,,,,
C-9,too,few
C-10,Hal,,,,5551010,
"""


def test_csv_parse_report() -> None:
    good, rejected = parse_csv(CSV.encode())
    assert [(r.row, r.customer.reference) for r in good] == [
        (2, "C-1"), (3, "C-2"), (6, "C-1"), (7, "C-5"), (10, "C-8"), (12, "C-10")]
    assert good[0].customer.vip is True and good[0].customer.value == 900
    assert [p.number for p in good[0].customer.phones] == ["+44 20 7946 0001", "07700 900123"]
    assert good[1].customer.notes == "a note, with a comma" and good[1].customer.company is None
    assert rejected == [
        Rejected(4, "C-3", "name: String should have at least 1 character"),
        Rejected(5, "C-4", "vip: Input should be a valid boolean, unable to interpret input"),
        Rejected(8, "C-6", "phones: 'call me' is not a phone number (3 to 20 digits, optionally + and separators)"),
        Rejected(9, "C-7", "value: Input should be a valid integer, unable to parse string as an integer"),
        Rejected(11, "C-9", "the row has 3 fields, the header has 7"),
    ]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty: expected a header row naming the columns"),
    (b"name,phones\nAda,123\n", "the header row must name the columns reference and name; missing: reference "
                                "(found: name, phones)"),
    (b"C-1,Ada\nC-2,Bob\n", "missing: reference, name (found: c-1, ada)"),
    (b"reference,name,email\n", "unknown column(s) 'email'; known: reference, name, company"),
    (b"reference,name,Name\n", "column(s) named twice: name"),
    ("reference,name\nC-1,Zoë\n".encode("latin-1"),
     "the file is not UTF-8 text (byte 0xeb at offset 21); save it as 'CSV UTF-8'"),
    (b'reference,name\nC-1,"Ada\n', "row 2: not valid CSV: unexpected end of data"),
    (b"reference,name\nC-1,A\x00da\n", "the file contains a NUL character (offset 20): it is not a CSV text file"),
])
def test_bad_csv_files_are_refused_whole(data: bytes, message: str) -> None:
    with pytest.raises(CsvError) as error:
        parse_csv(data)
    assert message in error.value.message and error.value.status == 422


def test_csv_variants() -> None:
    text = "\ufeffReference;Name;Phones\nC-1;Zoë;+49 30 1234567, 030 1234567\n\n"
    [row], rejected = parse_csv(text.encode())
    assert rejected == [] and row.customer.name == "Zoë"
    assert [p.number for p in row.customer.phones] == ["+49 30 1234567", "030 1234567"]


async def test_import_stores_the_good_rows_and_reports_the_rest(service: CustomerService,
                                                                sessions: Sessions) -> None:
    await service.create(_ada(reference="C-10", name="Hal before", phones=[]))
    await service.create(_ada(reference="OLD", name="Olga", phones=[{"number": "5551007"}]))
    good, rejected = parse_csv(CSV.encode())
    report = await service.import_rows(good, rejected)
    assert (report.created, report.updated) == (2, 0)
    assert [(r.row, r.reference, r.reason) for r in report.rejected if r.row in (3, 6, 7, 12)] == [
        (3, "C-2", "duplicate phone number '5551007': it belongs to customer 'OLD'"),
        (6, "C-1", "duplicate reference 'C-1' (also in row 2)"),
        (7, "C-5", "duplicate phone number '00442079460001' (also in row 2)"),
        (12, "C-10", "customer reference 'C-10' exists (import with upsert to update it)"),
    ]
    assert [r.row for r in report.rejected] == [3, 4, 5, 6, 7, 8, 9, 11, 12]
    assert sorted(c.reference for c in await service.search()) == ["C-1", "C-10", "C-8", "OLD"]
    found = await service.find_by_phone("07700900123")
    assert found is not None and found.reference == "C-1"


async def test_import_with_upsert_updates_by_reference(service: CustomerService) -> None:
    await service.create(_ada(reference="C-1", name="Ada old", phones=[{"number": "5550001"}]))
    data = "reference,name,phones\nC-1,Ada new,5550001|5550002\nC-2,Bob,5550003\n"
    report = await service.import_rows(*parse_csv(data.encode()), upsert=True)
    assert (report.created, report.updated, report.rejected) == (1, 1, ())
    ada = await service.find_by_reference("C-1")
    assert ada is not None and ada.name == "Ada new" and ada.company is None and ada.vip is False
    assert [p.normalized for p in ada.phones] == ["5550001", "5550002"]
    again = await service.import_rows(*parse_csv(data.encode()), upsert=True)
    assert (again.created, again.updated) == (0, 2)


async def test_a_failing_import_writes_nothing(service: CustomerService, sessions: Sessions,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    good, _ = parse_csv(b"reference,name,phones\nC-1,Ada,5550001\nC-2,Bob,5550002\n")

    async def owners_miss_a_concurrent_writer(*_args: object, **_kwargs: object) -> dict[str, str]:
        return {}

    await service.create(_ada(reference="C-9", phones=[{"number": "5550002"}]))
    # as if another writer added 5550002 after the import looked: the unique index refuses the batch
    monkeypatch.setattr(service, "_phone_owners", owners_miss_a_concurrent_writer)
    with pytest.raises(Conflict, match="nothing was written"):
        await service.import_rows(good)
    assert await _count(sessions, CustomerRow) == 1


async def test_migration_0002_downgrades_to_0001_keeping_call_history(database_url: str) -> None:
    await migrate(database_url)
    engine, _ = create_sessionmaker(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0001"))
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    assert tables == {"calls", "call_legs", "call_transfers", "call_recordings", "queue_log", "alembic_version"}
    await migrate(database_url)
