"""Customer routes over HTTP: what each role may do, the screen-pop lookup, CSV upload and its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from auth_support import call_center, signed_in

from callcenter.app import CallCenter

ADA = {"reference": "C-1001", "name": "Ada Lovelace", "company": "Analytical Ltd", "vip": True,
       "phones": [{"number": "+44 20 7946 0001", "label": "office"}]}


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CallCenter]:
    async with call_center(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", tmp_path) as center:
        yield center


async def test_agents_read_and_add_supervisors_edit(center: CallCenter) -> None:
    async with signed_in(center, "ada") as agent, signed_in(center, "sue") as supervisor:
        refused = await agent.post("/api/customers", json=ADA)
        assert (refused.status_code, refused.json()) == (403, {"detail": "needs the role supervisor or admin "
                                                                          "(you are agent)"})
        created = await supervisor.post("/api/customers", json=ADA)
        assert created.status_code == 201
        customer = created.json()
        url = f"/api/customers/{customer['id']}"

        found = await agent.get("/api/customers/lookup", params={"phone": "0044 20 79460001"})
        assert (found.status_code, found.json()["reference"]) == (200, "C-1001")
        missing = await agent.get("/api/customers/lookup", params={"phone": "5551007"})
        assert (missing.status_code, missing.json()) == (404, {"detail": "no customer with phone number '5551007'"})
        both = await agent.get("/api/customers/lookup", params={"phone": "5551007", "reference": "C-1"})
        assert (both.status_code, both.json()) == (422, {"detail": "give exactly one of phone and reference"})
        assert (await agent.get("/api/customers/lookup", params={"reference": "C-1001"})).json()["id"] == customer["id"]

        note = await agent.post(f"{url}/interactions", json={"call_id": "1795354463.20", "result": "solved",
                                                             "notes": "explained the invoice"})
        assert note.status_code == 201 and note.json()["agent"] == "ada"
        ticket = await agent.post(f"{url}/tickets", json={"title": "Engine noise"})
        assert ticket.status_code == 201 and ticket.json()["created_by"] == "ada"
        ticket_url = f"/api/tickets/{ticket.json()['id']}"
        assert (await agent.patch(ticket_url, json={"status": "solved"})).status_code == 403
        summary = (await agent.get(f"{url}/summary")).json()
        assert summary["customer"]["name"] == "Ada Lovelace"
        assert [i["result"] for i in summary["interactions"]] == ["solved"]
        assert [t["title"] for t in summary["open_tickets"]] == ["Engine noise"]

        assert (await supervisor.patch(ticket_url, json={"status": "solved"})).json()["status"] == "solved"
        assert (await agent.get(f"{url}/summary")).json()["open_tickets"] == []
        assert (await agent.patch(url, json={"name": "Ada King"})).status_code == 403
        assert (await supervisor.patch(url, json={"name": "Ada King"})).json()["name"] == "Ada King"
        assert (await agent.delete(url)).status_code == 403
        assert (await supervisor.delete(url)).status_code == 204
        gone = await agent.get(url)
        assert (gone.status_code, gone.json()) == (404, {"detail": f"no customer with id {customer['id']}"})


@pytest.mark.parametrize(("body", "where", "message"), [
    ({**ADA, "email": "ada@example.org"}, ["body", "email"], "Extra inputs are not permitted"),
    ({**ADA, "name": "x" * 201}, ["body", "name"], "String should have at most 200 characters"),
    ({**ADA, "phones": [{"number": "call me"}]}, ["body", "phones", 0, "number"],
     "Value error, 'call me' is not a phone number (3 to 20 digits, optionally + and separators)"),
    ({**ADA, "value": -1}, ["body", "value"], "Input should be greater than or equal to 0"),
    ({**ADA, "notes": "a\x00b"}, ["body"], "Value error, text must not contain NUL characters (U+0000)"),
    ({"name": "Ada"}, ["body", "reference"], "Field required"),
])
async def test_bad_customer_bodies_are_named(center: CallCenter, body: dict[str, object], where: list[object],
                                             message: str) -> None:
    async with signed_in(center, "sue") as supervisor:
        response = await supervisor.post("/api/customers", json=body)
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert (error["loc"], error["msg"]) == (where, message)
        assert (await supervisor.get("/api/customers")).json() == []  # nothing half-written


async def test_duplicates_are_409(center: CallCenter) -> None:
    async with signed_in(center, "sue") as supervisor:
        await supervisor.post("/api/customers", json=ADA)
        again = await supervisor.post("/api/customers", json={**ADA, "reference": "C-2", "phones": [
            {"number": "+442079460001"}]})
        assert (again.status_code, again.json()) == (
            409, {"detail": "phone number '+442079460001' belongs to customer 'C-1001'"})


CSV = b"reference,name,phones\nC-1,Ada,5550001\nC-2,,5550002\nC-3,Bob,5550001\nC-4,short\n"


async def test_csv_import_as_upload_and_as_body(center: CallCenter) -> None:
    async with signed_in(center, "root") as admin, signed_in(center, "sue") as supervisor:
        refused = await supervisor.post("/api/customers/import", content=CSV, headers={"content-type": "text/csv"})
        assert refused.status_code == 403
        response = await admin.post("/api/customers/import", files={"file": ("customers.csv", CSV, "text/csv")})
        assert response.status_code == 200
        assert response.json() == {"created": 1, "updated": 0, "rejected": [
            {"row": 3, "reference": "C-2", "reason": "name: String should have at least 1 character"},
            {"row": 4, "reference": "C-3", "reason": "duplicate phone number '5550001' (also in row 2)"},
            {"row": 5, "reference": "C-4", "reason": "the row has 2 fields, the header has 3"},
        ]}
        upsert = await admin.post("/api/customers/import", params={"upsert": "true"},
                                  content=b"reference,name\nC-1,Ada King\n", headers={"content-type": "text/csv"})
        assert upsert.json() == {"created": 0, "updated": 1, "rejected": []}
        assert [c["name"] for c in (await admin.get("/api/customers")).json()] == ["Ada King"]


@pytest.mark.parametrize(("request_kwargs", "status", "detail"), [
    ({"content": "reference,name\nC-1,Zoë\n".encode("latin-1"), "headers": {"content-type": "text/csv"}}, 422,
     "the file is not UTF-8 text (byte 0xeb at offset 21); save it as 'CSV UTF-8'"),
    ({"content": b"name\nAda\n", "headers": {"content-type": "text/csv"}}, 422,
     "the header row must name the columns reference and name; missing: reference (found: name)"),
    ({"files": {"upload": ("c.csv", b"reference,name\n", "text/csv")}}, 422,
     "send the CSV file in the multipart form field 'file'"),
    ({"json": {"reference": "C-1"}}, 415,
     "send the CSV as text/csv or as multipart/form-data, not 'application/json'"),
])
async def test_bad_csv_uploads_are_named(center: CallCenter, request_kwargs: dict[str, object], status: int,
                                         detail: str) -> None:
    async with signed_in(center, "root") as admin:
        response = await admin.post("/api/customers/import", **request_kwargs)  # type: ignore[arg-type]
        assert (response.status_code, response.json()) == (status, {"detail": detail})
        assert (await admin.get("/api/customers")).json() == []
