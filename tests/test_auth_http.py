"""Sign-in over HTTP (httpx ASGI transport): the cookie, sign-out, 401 / 403 / 429, every route's role,
an agent's view of calls, users administration, bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from auth_support import PASSWORD, START, SteppingClock, call_center, client, signed_in
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from callcenter.api import create_app
from callcenter.app import CallCenter
from callcenter.auth.service import Role
from callcenter.db.cdr import store_call
from cti.records import CallOutcome, CallRecord, Direction, LiveCall

AGENT, SUPERVISOR, ADMIN = Role.AGENT, Role.SUPERVISOR, Role.ADMIN
EVERYONE = frozenset(Role)
EDITORS = frozenset({SUPERVISOR, ADMIN})
ADMINS = frozenset({ADMIN})
AGENTS = frozenset({AGENT})

# Routes anyone may call: the probes, signing in, the login page, the API description.
OPEN = {
    ("GET", "/api/health"), ("GET", "/api/ready"), ("POST", "/api/auth/login"), ("GET", "/login"),
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
    # the desktop pages and their files are shells: every datum comes over the API and /ws
    ("GET", "/agent"), ("GET", "/supervisor"), ("GET", "/admin/ivr"), ("GET", "/static/{path}"),
}
# Every other route and the roles that may call it. A new route must be added here, or the walk fails.
ROLES = {
    ("GET", "/api/status"): EVERYONE,
    ("GET", "/api/calls/live"): EVERYONE,
    ("GET", "/api/calls"): EVERYONE,
    ("GET", "/api/auth/me"): EVERYONE,
    ("POST", "/api/auth/password"): EVERYONE,
    ("GET", "/api/auth/sign-ins"): ADMINS,
    ("GET", "/api/users"): ADMINS,
    ("POST", "/api/users"): ADMINS,
    ("GET", "/api/users/{user_id}"): ADMINS,
    ("PATCH", "/api/users/{user_id}"): ADMINS,
    ("POST", "/api/users/{user_id}/password"): ADMINS,
    ("GET", "/api/customers"): EVERYONE,
    ("POST", "/api/customers"): EDITORS,
    ("GET", "/api/customers/lookup"): EVERYONE,
    ("POST", "/api/customers/import"): ADMINS,
    ("GET", "/api/customers/{customer_id}"): EVERYONE,
    ("PATCH", "/api/customers/{customer_id}"): EDITORS,
    ("DELETE", "/api/customers/{customer_id}"): EDITORS,
    ("GET", "/api/customers/{customer_id}/summary"): EVERYONE,
    ("GET", "/api/customers/{customer_id}/interactions"): EVERYONE,
    ("POST", "/api/customers/{customer_id}/interactions"): EVERYONE,
    ("GET", "/api/customers/{customer_id}/tickets"): EVERYONE,
    ("POST", "/api/customers/{customer_id}/tickets"): EVERYONE,
    ("GET", "/api/tickets/{ticket_id}"): EVERYONE,
    ("PATCH", "/api/tickets/{ticket_id}"): EDITORS,
    ("DELETE", "/api/tickets/{ticket_id}"): EDITORS,
    ("GET", "/api/agents"): EVERYONE,
    ("PATCH", "/api/agents/{agent_id}"): EDITORS,
    ("POST", "/api/agents/{agent_id}/login"): EVERYONE,  # an agent: only their own (tested in test_routing_http)
    ("POST", "/api/agents/{agent_id}/logout"): EVERYONE,
    ("PUT", "/api/agents/{agent_id}/queues"): EVERYONE,
    ("POST", "/api/agents/{agent_id}/pause"): EVERYONE,
    ("POST", "/api/agents/{agent_id}/ready"): EVERYONE,
    ("POST", "/api/agents/{agent_id}/wrap-up/end"): EVERYONE,
    ("POST", "/api/agents/{agent_id}/wrap-up/extend"): EVERYONE,
    ("GET", "/api/agents/{agent_id}/states"): EVERYONE,
    ("GET", "/api/queues"): EDITORS,
    ("POST", "/api/calls/{call_id}/callback"): EDITORS,
    ("GET", "/api/ivr/flows"): EDITORS,
    ("GET", "/api/ivr/flows/{name}"): EDITORS,
    ("GET", "/api/ivr/flows/{name}/graph"): EDITORS,
    ("GET", "/api/ivr/flows/{name}/diagram"): EDITORS,
    ("PUT", "/api/ivr/flows/{name}"): ADMINS,
    ("GET", "/api/ivr/prompts"): EDITORS,
    ("POST", "/api/ivr/prompts"): ADMINS,
    ("DELETE", "/api/ivr/prompts/{name}"): ADMINS,
    ("POST", "/api/auth/logout"): EVERYONE,
    ("POST", "/api/auth/logout-all"): EVERYONE,
    ("GET", "/api/desktop/config"): EVERYONE,
    ("POST", "/api/calls/{call_id}/hangup"): EVERYONE,  # an agent: only calls they are on (test_desktop_api)
    ("POST", "/api/calls/{call_id}/hold"): EVERYONE,
    ("POST", "/api/calls/{call_id}/resume"): EVERYONE,
    ("POST", "/api/calls/{call_id}/transfer"): EVERYONE,
    ("POST", "/api/calls/{call_id}/transfer/complete"): EVERYONE,  # an agent: only a consultation of theirs
    ("POST", "/api/calls/{call_id}/transfer/cancel"): EVERYONE,
    ("POST", "/api/calls/{call_id}/disposition"): EVERYONE,
    ("POST", "/api/sim/phone/{endpoint}/answer"): AGENTS,  # and only their own endpoint
    ("POST", "/api/sim/phone/{endpoint}/hangup"): AGENTS,
    ("POST", "/api/sim/phone/{endpoint}/hold"): AGENTS,
    ("POST", "/api/sim/phone/{endpoint}/resume"): AGENTS,
    ("POST", "/api/sim/phone/{endpoint}/dtmf"): AGENTS,
    # websocket routes: the handshake is checked (close 4401 without a session), see _websocket
    ("WS", "/ws"): EVERYONE,
}
LOGIN_OF = {AGENT: "ada", SUPERVISOR: "sue", ADMIN: "root"}


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
async def center(tmp_path: Path, clock: SteppingClock) -> AsyncIterator[CallCenter]:
    async with call_center(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", tmp_path, clock) as center:
        yield center


def _app_routes(center: CallCenter) -> set[tuple[str, str]]:
    return _walk(create_app(center).routes, "")


def _walk(routes: Sequence[BaseRoute], prefix: str) -> set[tuple[str, str]]:
    found = set()
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI 0.16x keeps included routers whole
        if included is not None:
            found |= _walk(included.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
            continue
        if isinstance(route, WebSocketRoute):
            found.add(("WS", prefix + route.path))
            continue
        if isinstance(route, Mount):  # static files: GET of any path below
            found.add(("GET", prefix + route.path + "/{path}"))
            continue
        assert isinstance(route, APIRoute | Route), f"unchecked kind of route: {route!r}"
        found.update((method, prefix + route.path) for method in route.methods or () if method != "HEAD")
    return found


def _url(path: str) -> str:
    return (path.replace("{user_id}", "1").replace("{customer_id}", "1").replace("{ticket_id}", "1")
            .replace("{agent_id}", "agent1001").replace("{endpoint}", "agent1001")  # the agent ada's own
            .replace("{call_id}", "1"))


async def _websocket(app: FastAPI, path: str, cookie: str | None) -> tuple[str, int | None]:
    """Open a websocket on the ASGI app, send hello: ("snapshot", None) or ("closed", close code)."""
    headers = [(b"host", b"testserver")] + ([(b"cookie", f"cc_session={cookie}".encode())] if cookie else [])
    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "headers": headers, "subprotocols": [],
             "client": ("192.0.2.10", 50000), "server": ("testserver", 80)}
    incoming: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    incoming.put_nowait({"type": "websocket.connect"})
    outcome: list[tuple[str, int | None]] = []

    async def receive() -> dict[str, object]:
        return await incoming.get()

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "websocket.accept":
            incoming.put_nowait({"type": "websocket.receive", "text": json.dumps({"type": "hello"})})
        elif message["type"] == "websocket.close":
            outcome.append(("closed", int(message.get("code", 1000))))  # type: ignore[call-overload]
        elif message["type"] == "websocket.send" and not outcome:
            outcome.append((json.loads(str(message["text"]))["type"], None))
            incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})

    await asyncio.wait_for(app(scope, receive, send), 10)  # type: ignore[arg-type]
    return outcome[0]


async def test_every_route_is_open_or_listed_with_its_roles(center: CallCenter) -> None:
    assert _app_routes(center) == OPEN | set(ROLES)


async def test_anonymous_requests_get_401_on_every_protected_route(center: CallCenter) -> None:
    app = create_app(center)
    async with client(center) as http:
        for method, path in ROLES:
            if method == "WS":
                assert await _websocket(app, path, None) == ("closed", 4401), path
                continue
            response = await http.request(method, _url(path))
            assert (response.status_code, response.json()) == (401, {"detail": "sign in first"}), (method, path)
        assert (await http.get("/api/health")).status_code == 200
        assert (await http.get("/api/ready")).status_code == 503  # open, not ready: no PBX here
        assert (await http.get("/openapi.json")).status_code == 200


async def test_each_role_gets_403_exactly_where_it_is_not_allowed(center: CallCenter) -> None:
    for role, login in LOGIN_OF.items():
        async with signed_in(center, login) as http:
            # logout-all ends every session of the user, `http`'s too: it goes last
            for (method, path), allowed in sorted(ROLES.items(), key=lambda item: item[0][1].endswith("/logout-all")):
                if method == "WS":
                    outcome = await _websocket(create_app(center), path, http.cookies.get("cc_session"))
                    assert outcome == (("snapshot", None) if role in allowed else ("closed", 4403)), (role, path)
                    continue
                if path.endswith(("/logout", "/logout-all")):  # each ends the session: a fresh one for each
                    async with signed_in(center, login) as fresh:
                        response = await fresh.request(method, _url(path))
                else:
                    response = await http.request(method, _url(path))
                if role in allowed:
                    assert response.status_code not in (401, 403), (role, method, path, response.text)
                else:
                    assert response.status_code == 403, (role, method, path, response.text)
                    assert response.json()["detail"].startswith("needs the role ")


async def test_login_sets_a_strict_httponly_cookie(center: CallCenter) -> None:
    async with client(center) as http:
        response = await http.post("/api/auth/login", json={"login": "ada", "password": PASSWORD})
        assert response.status_code == 200
        assert response.json()["user"] == {
            "id": 1, "login": "ada", "display_name": "Ada", "role": "agent", "endpoint": "agent1001",
            "disabled": False, "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T09:00:00Z"}
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("cc_session=")
        assert {"HttpOnly", "SameSite=strict", "Path=/", "Max-Age=43200"} <= {p.strip() for p in cookie.split(";")}
        assert "Secure" not in cookie  # plain http and cookie_secure: auto
        assert "password_hash" not in response.text
        me = (await http.get("/api/auth/me")).json()
        assert (me["user"]["login"], me["expires_at"]) == ("ada", "2026-11-22T21:00:00Z")


@pytest.mark.parametrize(("setting", "base_url", "secure"), [
    ("auto", "https://cc.example", True), ("always", "http://testserver", True),
    ("never", "https://cc.example", False),
])
async def test_secure_cookie_setting(tmp_path: Path, setting: str, base_url: str, secure: bool) -> None:
    async with call_center(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", tmp_path,
                           cookie_secure=setting) as center:
        transport = httpx.ASGITransport(app=create_app(center))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            response = await http.post("/api/auth/login", json={"login": "ada", "password": PASSWORD})
            assert ("Secure" in response.headers["set-cookie"]) == secure


async def test_wrong_password_then_rate_limit(center: CallCenter, clock: SteppingClock) -> None:
    async with client(center) as http:
        for _ in range(5):
            response = await http.post("/api/auth/login", json={"login": "ada", "password": "guess"})
            assert (response.status_code, response.json()) == (401, {"detail": "wrong login name or password"})
            assert "set-cookie" not in response.headers
        clock.advance(100)
        response = await http.post("/api/auth/login", json={"login": "ada", "password": PASSWORD})
        assert response.status_code == 429
        assert response.headers["retry-after"] == "200"
        assert response.json() == {"detail": "too many failed sign-ins: try again in 200 s"}
        clock.advance(200)
        assert (await http.post("/api/auth/login", json={"login": "ada", "password": PASSWORD})).status_code == 200
    async with signed_in(center, "root") as admin:
        trail = (await admin.get("/api/auth/sign-ins", params={"limit": 3})).json()
        assert [(a["login"], a["reason"], a["ip"]) for a in trail] == [
            ("root", "ok", "192.0.2.10"), ("ada", "ok", "192.0.2.10"), ("ada", "rate_limited", "192.0.2.10")]


async def test_logout_and_logout_everywhere(center: CallCenter) -> None:
    async with signed_in(center, "ada") as desk, signed_in(center, "ada") as laptop, \
            signed_in(center, "bob") as other:
        response = await desk.post("/api/auth/logout")
        assert response.status_code == 204 and 'cc_session=""' in response.headers["set-cookie"]
        assert (await desk.get("/api/auth/me")).status_code == 401
        assert (await laptop.get("/api/auth/me")).status_code == 200
        async with signed_in(center, "ada") as phone:
            assert (await phone.post("/api/auth/logout-all")).json() == {"ended": 2}
            assert (await phone.get("/api/auth/me")).status_code == 401
        response = await laptop.get("/api/auth/me")
        assert (response.status_code, response.json()) == (401, {"detail": "signed out: sign in again"})
        assert (await other.get("/api/auth/me")).status_code == 200


async def test_an_idle_session_expires(center: CallCenter, clock: SteppingClock) -> None:
    async with signed_in(center, "ada") as http:
        clock.advance(1800)
        response = await http.get("/api/calls/live")
        assert (response.status_code, response.json()["detail"]) == (
            401, "session expired after inactivity: sign in again")


def _call(call_id: str, agent: str | None, minute: int) -> CallRecord:
    at = (START + timedelta(minutes=minute)).timestamp()
    return CallRecord(call_id=call_id, direction=Direction.INBOUND, caller="5551007", dnis="support",
                      queue="support", agent=agent, agents_rung=(agent,) if agent else (),
                      outcome=CallOutcome.ANSWERED if agent else CallOutcome.ABANDONED, started_at=at,
                      answered_at=at + 5 if agent else None, ended_at=at + 60, wait_seconds=5, talk_seconds=55,
                      hold_seconds=0)


async def test_an_agent_reads_only_their_own_calls(center: CallCenter) -> None:
    for n, agent in enumerate(["agent1001", "agent1002", None, "agent1001"]):
        await store_call(center.sessions, _call(f"c.{n}", agent, n))
    window = {"start": START.isoformat(), "end": (START + timedelta(hours=1)).isoformat()}
    async with signed_in(center, "ada") as ada, signed_in(center, "sue") as sue:
        assert [c["call_id"] for c in (await ada.get("/api/calls", params=window)).json()] == ["c.0", "c.3"]
        same = await ada.get("/api/calls", params={**window, "agent": "agent1001"})
        assert [c["call_id"] for c in same.json()] == ["c.0", "c.3"]
        other = await ada.get("/api/calls", params={**window, "agent": "agent1002"})
        assert (other.status_code, other.json()) == (
            403, {"detail": "an agent reads only their own calls (agent1001)"})
        assert [c["call_id"] for c in (await sue.get("/api/calls", params=window)).json()] == [
            "c.0", "c.1", "c.2", "c.3"]
        bobs = await sue.get("/api/calls", params={**window, "agent": "agent1002"})
        assert [c["call_id"] for c in bobs.json()] == ["c.1"]


async def test_an_agent_sees_only_the_live_calls_they_talk_in(center: CallCenter,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    live = [LiveCall(f"l.{n}", Direction.INBOUND, "5551007", "support", "support", "talking", agents, 0.0, False)
            for n, agents in enumerate([("agent1001",), ("agent1002",), (), ("agent1002", "agent1001")])]
    monkeypatch.setattr(center.tracker, "live_calls", lambda: live)
    async with signed_in(center, "ada") as ada, signed_in(center, "sue") as sue:
        assert [c["call_id"] for c in (await ada.get("/api/calls/live")).json()] == ["l.0", "l.3"]
        assert len((await sue.get("/api/calls/live")).json()) == 4


async def test_users_administration(center: CallCenter) -> None:
    async with signed_in(center, "root") as admin:
        created = await admin.post("/api/users", json={
            "login": "Eve", "display_name": "Eve", "role": "agent", "endpoint": "agent1003",
            "password": "eve's password"})
        assert created.status_code == 201
        eve = created.json()
        assert (eve["login"], eve["role"], eve["endpoint"]) == ("eve", "agent", "agent1003")
        assert [u["login"] for u in (await admin.get("/api/users")).json()] == ["ada", "bob", "eve", "root", "sue"]
        again = await admin.post("/api/users", json={"login": "eve", "display_name": "E", "role": "supervisor",
                                                     "password": "eve's password"})
        assert (again.status_code, again.json()) == (409, {"detail": "a user with login name 'eve' exists"})

        async with signed_in(center, "eve", "eve's password") as eves:
            changed = await eves.post("/api/auth/password", json={"current_password": "eve's password",
                                                                   "new_password": "a better password"})
            assert changed.status_code == 204
            assert (await eves.get("/api/auth/me")).status_code == 200
            disabled = await admin.patch(f"/api/users/{eve['id']}", json={"disabled": True})
            assert disabled.json()["disabled"] is True
            assert (await eves.get("/api/auth/me")).json() == {"detail": "signed out: sign in again"}

        await admin.patch(f"/api/users/{eve['id']}", json={"disabled": False})
        reset = await admin.post(f"/api/users/{eve['id']}/password", json={"new_password": "from the admin"})
        assert reset.status_code == 204
        async with signed_in(center, "eve", "from the admin") as eves:
            assert (await eves.get("/api/auth/me")).json()["user"]["login"] == "eve"

        no_endpoint = await admin.patch(f"/api/users/{eve['id']}", json={"endpoint": None})
        assert (no_endpoint.status_code, no_endpoint.json()["detail"]) == (
            422, "an agent needs an endpoint (the PJSIP endpoint of their phone, e.g. agent1001)")
        last = await admin.patch("/api/users/4", json={"role": "supervisor"})
        assert (last.status_code, last.json()["detail"]) == (
            409, "the last enabled admin cannot be disabled or lose the admin role")
        missing = await admin.get("/api/users/99")
        assert (missing.status_code, missing.json()) == (404, {"detail": "no user with id 99"})


@pytest.mark.parametrize(("body", "status", "where", "message"), [
    ('{"login": "ada", "password": ', 422, ["body", 29], "JSON decode error"),
    ('{"login": "ada", "password": "x", "remember": true}', 422, ["body", "remember"],
     "Extra inputs are not permitted"),
    ('{"login": "ada"}', 422, ["body", "password"], "Field required"),
    ('{"login": "' + "a" * 65 + '", "password": "x"}', 422, ["body", "login"],
     "String should have at most 64 characters"),
    ('{"login": 5, "password": "x"}', 422, ["body", "login"], "Input should be a valid string"),
    ('["ada", "x"]', 422, ["body"], "Input should be a valid dictionary or object to extract fields from"),
])
async def test_bad_login_bodies_are_named(center: CallCenter, body: str, status: int, where: list[object],
                                          message: str) -> None:
    async with client(center) as http:
        response = await http.post("/api/auth/login", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    [error] = response.json()["detail"]
    assert (error["loc"], error["msg"]) == (where, message)


async def test_bad_user_bodies_are_named(center: CallCenter) -> None:
    async with signed_in(center, "root") as admin:
        response = await admin.post("/api/users", json={"login": "eve", "display_name": "Eve", "role": "boss",
                                                        "password": "long enough!"})
        [error] = response.json()["detail"]
        assert (response.status_code, error["loc"], error["msg"]) == (
            422, ["body", "role"], "Input should be 'agent', 'supervisor' or 'admin'")
        response = await admin.patch("/api/users/1", json={"disabld": True})
        [error] = response.json()["detail"]
        assert (response.status_code, error["loc"]) == (422, ["body", "disabld"])
        short = await admin.post("/api/users/1/password", json={"new_password": "short"})
        assert (short.status_code, short.json()) == (422, {"detail": "the password must have at least 10 characters"})


async def test_login_page(center: CallCenter) -> None:
    async with client(center) as http:
        page = await http.get("/login")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'fetch("/api/auth/login"' in page.text and "http" not in page.text.split("<script>")[1].split("fetch")[0]
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy and "unsafe-inline" not in policy
