"""The `/ws` endpoint: the session cookie checked at the handshake, `hello`, then the hub's frames.

The close codes (docs/websocket.md): 4401 not signed in (or the session ended while connected), 4403
forbidden (another site's page, an agent user without an agent endpoint, the user's role changed), 4400
a message the protocol does not allow, 4408 no `hello` in time, 4409 the client fell too far behind.
The connection is accepted before it is refused, so that the page reads the code and knows whether to
sign in again or to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from callcenter.auth.http import Guard
from callcenter.auth.service import AuthService, Role, SignedIn
from callcenter.errors import ServiceError
from callcenter.ws.hub import (
    CLOSE_BAD_MESSAGE,
    CLOSE_FORBIDDEN,
    CLOSE_NO_HELLO,
    CLOSE_NOT_SIGNED_IN,
    STAFF,
    Connection,
    Hello,
    Hub,
    agent_audience,
    encode,
)

log = logging.getLogger(__name__)

HELLO_WITHIN = 10.0  # seconds
MESSAGE_MAX = 4096   # characters of one client message


def audience_of(signed_in: SignedIn) -> str | None:
    """Agents see their own stream; supervisors and admins the staff's. None: nothing to see."""
    user = signed_in.user
    if user.role is Role.AGENT:
        return agent_audience(user.endpoint) if user.endpoint else None
    return STAFF


def _same_origin(websocket: WebSocket) -> bool:
    """A browser always sends Origin on a websocket handshake: it must be this server (no other site's
    page may open the agent's stream with the agent's cookie). Non-browser clients send none."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host", "")


class SessionWatch:
    """The sessions of every open websocket, checked together every `every` seconds (one query per 500
    of them, not one per connection): a signed-out, expired or disabled user's sockets are closed
    (4401), those of a user whose role or endpoint changed too (4403). A database that does not answer
    keeps everyone connected until the next check."""

    def __init__(self, auth: AuthService, every: float) -> None:
        self.auth, self.every = auth, every
        self.connections: dict[Connection, SignedIn] = {}
        self.checks = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self.check()

    async def check(self) -> None:
        watched = dict(self.connections)
        if not watched:
            return
        try:
            verdicts = await self.auth.check_sessions({s.session_id for s in watched.values()})
        except Exception:  # the database is away: nobody is thrown out for that
            log.warning("websocket sessions not checked: the database did not answer", exc_info=True)
            return
        self.checks += 1
        for connection, signed_in in watched.items():
            verdict = verdicts.get(signed_in.session_id, "unknown session")
            if isinstance(verdict, str):
                connection.close(CLOSE_NOT_SIGNED_IN, f"your session ended: {verdict}")
            elif (verdict.user.role, verdict.user.endpoint) != (signed_in.user.role, signed_in.user.endpoint):
                connection.close(CLOSE_FORBIDDEN, "your role or endpoint changed: reconnect")


def websocket_routes(hub: Hub, guard: Guard, watch: SessionWatch, snapshot: Callable[[SignedIn], dict[str, Any]],
                     clock: Callable[[], float], *, heartbeat: float) -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws")
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            signed_in = await guard.user(websocket)
        except ServiceError:
            await websocket.close(CLOSE_NOT_SIGNED_IN, "sign in first")
            return
        audience = audience_of(signed_in)
        if audience is None or not _same_origin(websocket):
            reason = "another site's page" if audience else "your user has no agent endpoint"
            await websocket.close(CLOSE_FORBIDDEN, reason)
            return
        try:
            first = await asyncio.wait_for(websocket.receive_text(), HELLO_WITHIN)
            hello = Hello.parse(json.loads(first[:MESSAGE_MAX]))
        except TimeoutError:
            await websocket.close(CLOSE_NO_HELLO, "no hello")
            return
        except WebSocketDisconnect:
            return
        except (ValueError, KeyError) as exc:
            await websocket.close(CLOSE_BAD_MESSAGE, str(exc)[:120])
            return
        label = f"{signed_in.user.login}@{websocket.client.host if websocket.client else '?'}"
        connection = hub.connection(label)
        hub.attach(connection, audience, hello, lambda: snapshot(signed_in))
        watch.connections[connection] = signed_in
        try:
            await _serve(websocket, connection, clock, heartbeat)
        finally:
            watch.connections.pop(connection, None)
            hub.detach(connection, audience)

    return router


async def _serve(websocket: WebSocket, connection: Connection, clock: Callable[[], float], heartbeat: float) -> None:
    """Writer, reader and heartbeat; when one ends (client gone, dropped, session over) the others stop."""
    jobs: list[Coroutine[Any, Any, None]] = [
        _write(websocket, connection), _read(websocket, connection), _beat(connection, clock, heartbeat),
    ]
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, WebSocketDisconnect | OSError | RuntimeError):
            log.error("websocket %s failed", connection.label, exc_info=result)
    if websocket.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(connection.close_code or 1000, connection.close_reason)


async def _write(websocket: WebSocket, connection: Connection) -> None:
    while True:
        text = await connection.next()
        if text is None:
            return  # closed by the hub (too slow) or by the reader / watchdog: _serve closes
        await websocket.send_text(text)


async def _read(websocket: WebSocket, connection: Connection) -> None:
    """After `hello`, a client may only `ping` (answered with `pong`): nothing it sends changes state."""
    while True:
        text = await websocket.receive_text()
        try:
            message = json.loads(text) if len(text) <= MESSAGE_MAX else None
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("type") != "ping":
            connection.close(CLOSE_BAD_MESSAGE, "after hello a client only sends ping")
            return
        connection.offer(encode({"type": "pong"}))


async def _beat(connection: Connection, clock: Callable[[], float], heartbeat: float) -> None:
    """A heartbeat now and then: the page's dead-connection detector."""
    # Connections made together (every page after a server restart) must not all beat in the same instant:
    # each starts its beat at its own point of the period.
    await asyncio.sleep(random.uniform(0, heartbeat))
    while True:
        connection.offer(encode({"type": "heartbeat", "now": round(clock(), 3)}))
        await asyncio.sleep(heartbeat)
