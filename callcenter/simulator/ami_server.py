"""The simulated PBX's Asterisk Manager Interface: a TCP server that speaks AMI as Asterisk 22 does.

Sessions see exactly what a real Asterisk's would: the banner, Login with the configured user
(`Authentication accepted` / `Authentication failed`), the per-login FullyBooted and SuccessfulAuth,
the PBX's events (when the session asked for them), the answers of `actions.py`, Logoff's Goodbye.
A restart follows v-restart: Shutdown, EOF 13 ms later, refused connections for about half a second,
then logins succeed before the new process has booted and a broadcast FullyBooted follows.

Fault injection for the CTI core's reliability tests and the demo: `drop()` (a crash: every
connection reset), `go_silent()` (half-open: the socket stays, nothing moves), `restart()`,
`read_slowly(pause)` and `send_garbage(data)`, each on command; `FaultSchedule` runs
them on a timetable.

Not covered by any trace, so only plausible: the answer to an action before Login (`Permission
denied`, as Asterisk's manager.c words it) and a session that stays open after a failed Login.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from callcenter.simulator.actions import Actions
from callcenter.simulator.channels import Event
from callcenter.simulator.pbx import Pbx
from cti.protocol import AmiParser, encode_message

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
# A session that reads nothing while events pile up is dropped, as Asterisk's writetimeout does.
MAX_UNSENT_BYTES = 16 * 1024 * 1024
SHUTDOWN_EOF_DELAY = 0.013  # v: EOF 13 ms after the Shutdown event
RESTART_DOWN_SECONDS = 0.5  # v: connects refused for about half a second
RESTART_BOOT_DELAY = 0.017  # v: the broadcast FullyBooted 17 ms after the first login


class Session(asyncio.Protocol):
    def __init__(self, server: AmiServer) -> None:
        self.server = server
        self.parser = AmiParser(kinds=("Action",), expect_banner=False)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.authenticated = False
        self.events_on = True
        self.silent = False

    # ---- asyncio.Protocol ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.server.sessions.append(self)
        transport.write(BANNER)

    def data_received(self, data: bytes) -> None:
        for action in self.parser.feed(data):
            self.server.handle(self, action)
        for error in self.parser.take_errors():
            log.info("simulated AMI: bad input from %s: %s", self.peer, error)

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.server.sessions:
            self.server.sessions.remove(self)

    # ---- writing -------------------------------------------------------------------------------------
    def send(self, *packets: Mapping[str, str | Sequence[str]]) -> None:
        self.send_raw(b"".join(encode_message(p) for p in packets))

    def send_raw(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self.silent:
            return
        if transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
            log.warning("simulated AMI: %s reads nothing (%d bytes unsent): session dropped", self.peer,
                        transport.get_write_buffer_size())
            transport.abort()
            return
        transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class AmiServer:
    """One listening socket for one PBX; every logged-in session gets the PBX's events."""

    def __init__(self, pbx: Pbx, *, host: str = "127.0.0.1", port: int = 5038, username: str = "callcenter",
                 secret: str = "") -> None:
        self.pbx = pbx
        self.actions = Actions(pbx)
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.sessions: list[Session] = []
        self.booted = True
        self.logins = self.failed_logins = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # owned: cancelled by stop()
        self._read_pause: float | None = None
        pbx.listeners.append(self._on_event)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Session(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("simulated PBX: AMI listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.abort()
        await self._close_listener()

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulated AMI: background step failed", exc_info=task.exception())

    # ---- events --------------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        for session in list(self.sessions):
            if session.authenticated and session.events_on:
                session.send(event)
        if event.get("Event") == "Shutdown":
            self._spawn(self._after_shutdown())

    async def _after_shutdown(self) -> None:
        """v: EOF shortly after Shutdown, the port closed for a while, then logins before boot ends."""
        await asyncio.sleep(SHUTDOWN_EOF_DELAY)
        for session in list(self.sessions):
            session.close()
        self.booted = False
        await self._close_listener()
        await asyncio.sleep(RESTART_DOWN_SECONDS)
        await self.start()

    # ---- actions -------------------------------------------------------------------------------------
    def handle(self, session: Session, action: Mapping[str, Any]) -> None:
        name = str(action.get("Action", ""))
        action_id = action.get("ActionID")
        aid = action_id if isinstance(action_id, str) else None
        lowered = name.lower()
        if lowered == "login":
            self._login(session, action, aid)
            return
        if lowered == "logoff":
            session.send(_response("Goodbye", aid, Message="Thanks for all the fish."))
            session.close()
            return
        if not session.authenticated:
            session.send(_response("Error", aid, Message="Permission denied"))
            return
        if lowered == "events":
            mask = str(action.get("EventMask", "on")).lower()
            session.events_on = mask not in ("off", "none", "0")
            session.send(_response("Success", aid, Events="On" if session.events_on else "Off"))
            return
        try:
            packets = self.actions.answer(dict(action))
        except Exception:  # never let one bad action take the PBX down: answer as Asterisk would
            log.exception("simulated AMI: action %s failed", name)
            packets = [_response("Error", aid, Message=f"Internal error handling {name}")]
        session.send(*packets)

    def _login(self, session: Session, action: Mapping[str, Any], aid: str | None) -> None:
        if action.get("Username") != self.username or action.get("Secret") != self.secret:
            self.failed_logins += 1
            log.warning("simulated AMI: failed login for %r from %s", action.get("Username"), session.peer)
            session.send(_response("Error", aid, Message="Authentication failed"))
            return
        self.logins += 1
        session.authenticated = True
        session.events_on = str(action.get("Events", "on")).lower() not in ("off", "none", "0")
        packets: list[Mapping[str, Any]] = [_response("Success", aid, Message="Authentication accepted")]
        if session.events_on and self.booted:
            uptime = str(self.pbx.uptime())
            packets.append({"Event": "FullyBooted", "Privilege": "system,all", "Uptime": uptime,
                            "LastReload": uptime, "Status": "Fully Booted"})
        session.send(*packets)
        self._on_event(self._successful_auth(session))  # every session sees a login (t-resync.1)
        if not self.booted:
            asyncio.get_running_loop().call_later(RESTART_BOOT_DELAY, self._finish_boot)

    def _finish_boot(self) -> None:
        if self.booted:
            return
        self.booted = True
        self._on_event({"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted",
                        "Uptime": str(self.pbx.uptime()), "LastReload": str(self.pbx.uptime())})

    def _successful_auth(self, session: Session) -> Event:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        local = f"IPV4/TCP/{self.host}/{self.port}"
        return {"Event": "SuccessfulAuth", "Privilege": "security,all", "EventTV": now,
                "Severity": "Informational", "Service": "AMI", "EventVersion": "1", "AccountID": self.username,
                "SessionID": f"0x{id(session):x}", "LocalAddress": local,
                "RemoteAddress": f"IPV4/TCP/{session.peer.replace(':', '/')}", "UsingPassword": "0",
                "SessionTV": now}

    # ---- fault injection -----------------------------------------------------------------------------
    def drop(self) -> None:
        """A crash as the client sees it: every connection reset."""
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.abort()

    def go_silent(self) -> None:
        """Half-open: sockets stay open, nothing is read or sent, until `wake_up()`."""
        for session in self.sessions:
            session.silent = True
            if session.transport is not None:
                session.transport.pause_reading()

    def wake_up(self) -> None:
        for session in self.sessions:
            session.silent = False
            if session.transport is not None and not session.transport.is_closing():
                session.transport.resume_reading()

    def restart(self) -> None:
        """`core restart now`: calls torn down, Shutdown, EOF, port closed, back before boot ends."""
        self.pbx.restart()

    def send_garbage(self, data: bytes | None = None) -> None:
        """Bytes that are no AMI message, to every logged-in session; the default ends in a blank line, as
        a damaged message would, so a client that resynchronises there loses nothing else."""
        garbage = data if data is not None else (b"\x00\xff garbage \x81\r\nNot-A-Header\r\n\r\n"
                                                 + os.urandom(64).replace(b"\r\n\r\n", b"") + b"\r\n\r\n")
        for session in self.sessions:
            if session.authenticated:
                session.send_raw(garbage)

    def read_slowly(self, pause: float | None) -> None:
        """Read actions in bursts with `pause` seconds between them (None: read at full speed again)."""
        self._read_pause = pause
        if pause is not None:
            self._spawn(self._throttle())

    async def _throttle(self) -> None:
        while self._read_pause is not None:
            self._set_reading(False)
            await asyncio.sleep(self._read_pause)
            self._set_reading(True)
            await asyncio.sleep(0.001)
        self._set_reading(True)

    def _set_reading(self, reading: bool) -> None:
        for session in self.sessions:
            transport = session.transport
            if transport is None or session.silent or transport.is_closing():
                continue
            if reading:
                transport.resume_reading()
            else:
                transport.pause_reading()


def _response(kind: str, action_id: str | None, **fields: str) -> dict[str, str]:
    packet = {"Response": kind}
    if action_id is not None:
        packet["ActionID"] = action_id
    packet.update(fields)
    return packet
