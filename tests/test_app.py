"""The whole server in one process: settings -> CallCenter (AMI, tracker, bus, history, HTTP API)
against the fake AMI, with SQLite. Scenario: attach during t-resync, the rest of the trace live, read by
a signed-in supervisor."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fake_ami import FakeAmi
from trace_support import TRACES
from waiting import until as _until

from callcenter.app import CallCenter
from callcenter.auth.service import Role
from callcenter.settings import load_settings
from cti.trace import read_trace

SECOND_LOGIN_SESSION = "0x7f84ac00d5f0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port



async def test_server_end_to_end(tmp_path: Path) -> None:
    events = [e.packet for e in read_trace(TRACES / "contract" / "t-resync.jsonl") if e.is_event]
    cut = next(i for i, p in enumerate(events) if p.get("SessionID") == SECOND_LOGIN_SESSION)
    port = _free_port()
    async with FakeAmi(secret="s3cret") as fake:
        settings = load_settings(Path("config/callcenter.yaml"), {
            "CALLCENTER__AMI__PORT": str(fake.port), "CALLCENTER__AMI__USERNAME": "cc",
            "CALLCENTER__AMI__SECRET": "s3cret", "CALLCENTER__HTTP__PORT": str(port),
            "CALLCENTER__DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
            "CALLCENTER__RECORDS__QUEUE_LOG_PATH": str(tmp_path / "queue_log"),
        })
        center = CallCenter(settings)
        server = asyncio.create_task(center.run())
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
                async def ready() -> bool:
                    try:
                        return (await http.get("/api/ready")).status_code == 200
                    except httpx.TransportError:
                        return False

                for _ in range(500):
                    if await ready():
                        break
                    assert not server.done(), server.exception()
                    await asyncio.sleep(0.02)
                assert (await http.get("/api/health")).json() == {"status": "ok"}
                for path in ("/api/status", "/api/calls/live", "/api/calls"):  # only the probes are open
                    assert (await http.get(path)).status_code == 401
                await center.auth.create_user("sue", "Sue", Role.SUPERVISOR, "supervisor's password")
                login = await http.post("/api/auth/login", json={"login": "sue", "password": "supervisor's password"})
                assert login.status_code == 200 and "cc_session" in http.cookies

                live = (await http.get("/api/calls/live")).json()
                assert [(c["caller"], c["state"], c["agents"]) for c in live] == [
                    ("5552009", "waiting", []), ("5552010", "talking", ["agent1001"])]

                fake.push_event(*events[cut + 1:])
                await _until(lambda: center.cdr.stored == 2)
                status = (await http.get("/api/status")).json()
                assert status["pbx"]["ready"] and status["tracker"]["resyncs"] == 1
                assert status["pbx"]["connection"]["events_skipped"] > 0  # the server parses only what it reads
                assert status["tracker"]["live_calls"] == 0
                assert {s["name"]: s["dropped"] for s in status["bus"]} == {"cdr": 0, "queue_log": 0, "desktop": 0}

                now = datetime.now(UTC)
                hour = timedelta(hours=1)
                window = {"start": (now - hour).isoformat(), "end": (now + hour).isoformat()}
                calls = (await http.get("/api/calls", params=window)).json()
                assert sorted((c["caller"], c["outcome"], c["agent"]) for c in calls) == [
                    ("5552009", "abandoned", None), ("5552010", "answered", "agent1001")]
                only = (await http.get("/api/calls", params={**window, "agent": "agent1001"})).json()
                assert [c["caller"] for c in only] == ["5552010"]

                bad = await http.get("/api/calls", params={"start": "yesterday", "end": window["end"]})
                assert bad.status_code == 422
                backwards = await http.get("/api/calls", params={"start": window["end"], "end": window["start"]})
                assert backwards.status_code == 422 and "end must be after start" in backwards.text
        finally:
            center.stop()
            await asyncio.wait_for(server, 15)

    # both calls were resynced into a queue / a talk: their queue_log rows are on disk
    lines = (tmp_path / "queue_log").read_text().splitlines()
    assert [line.split("|")[4] for line in lines] == ["ENTERQUEUE", "ABANDON"]
