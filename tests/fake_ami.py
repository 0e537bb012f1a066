"""A small scriptable AMI server for tests: loopback, random port, answers shaped like Asterisk 22.

Shapes come from the real traces: the banner, Login (`Authentication accepted` / `Authentication
failed`), the per-login FullyBooted + SuccessfulAuth, Ping, Logoff, and the list actions of a resync
(CoreShowChannels, Status, BridgeList, BridgeInfo) replayed from contract/t-resync.session2.jsonl with
the ActionID of the request put where Asterisk puts it.

Fault switches: drop every connection, go silent (half-open: socket open, nothing read or answered),
send raw bytes (garbage), Shutdown then EOF (a restart: later logins get no FullyBooted until
finish_boot()), refuse connections for a while, leave chosen actions unanswered.

Not covered by any trace, so only plausible: the reply to an action before Login (`Permission denied`)
and the connection staying open after a failed Login.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cti.protocol import AmiPacket, AmiParser, encode_message

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
RESYNC_TRACE = Path(__file__).parent / "traces" / "contract" / "t-resync.session2.jsonl"


def with_action_id(packet: AmiPacket, action_id: str | None) -> AmiPacket:
    """The packet with its ActionID header set to `action_id`, in place (or dropped if None)."""
    if action_id is None:
        return {k: v for k, v in packet.items() if k != "ActionID"}
    return {k: (action_id if k == "ActionID" else v) for k, v in packet.items()}


@dataclass
class Reply:
    """A canned answer: the Response, then (for a list action) its items and closing event."""

    response: AmiPacket
    items: list[AmiPacket] = field(default_factory=list)
    complete: AmiPacket | None = None

    def packets(self, action_id: str | None) -> list[AmiPacket]:
        out = [with_action_id(self.response, action_id)]
        out += [with_action_id(item, action_id) for item in self.items]
        if self.complete is not None:
            out.append(with_action_id(self.complete, action_id))
        return out


def replies_from_trace(path: Path = RESYNC_TRACE) -> dict[str, Reply]:
    """Every action of a recorded session with the packets Asterisk sent back for its ActionID."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    replies: dict[str, Reply] = {}
    for record in records:
        if record["_dir"] != "out" or record["Action"] in ("Login", "Logoff"):
            continue
        answer = [{k: v for k, v in r.items() if not k.startswith("_")} for r in records
                  if r["_dir"] == "in" and r.get("ActionID") == record["ActionID"]]
        response, rest = answer[0], answer[1:]
        complete = rest.pop() if rest and str(rest[-1].get("EventList", "")).lower() == "complete" else None
        replies.setdefault(record["Action"], Reply(response, rest, complete))
    return replies


Handler = Callable[["FakeSession", AmiPacket], None]


class FakeSession(asyncio.Protocol):
    """One client connection to the fake."""

    def __init__(self, server: FakeAmi) -> None:
        self.server = server
        self.parser = AmiParser(kinds=("Action",), expect_banner=False)
        self.transport: asyncio.Transport | None = None
        self.authenticated = False
        self.events_on = True
        self.silent = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.server.reset_new_connections:
            transport.abort()  # accepted, then reset (v-restart: the first reconnect attempt)
            return
        self.server.sessions.append(self)
        transport.write(BANNER)

    def data_received(self, data: bytes) -> None:
        if self.silent:
            return
        for action in self.parser.feed(data):
            self.server.handle(self, action)

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.server.sessions:
            self.server.sessions.remove(self)

    def send(self, *packets: Mapping[str, str | list[str]]) -> None:
        self.send_raw(b"".join(encode_message(p) for p in packets))

    def send_raw(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing() and not self.silent:
            self.transport.write(data)

    def go_silent(self) -> None:
        """Half-open from the client's point of view: the socket stays open, nothing moves."""
        self.silent = True
        if self.transport is not None:
            self.transport.pause_reading()

    def wake_up(self) -> None:
        """Read and answer again (what was sent meanwhile is read now)."""
        self.silent = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()


class FakeAmi:
    def __init__(self, username: str = "cc", secret: str = "ccsecret", *, booted: bool = True) -> None:
        self.username = username
        self.secret = secret
        self.booted = booted  # False: logins succeed without FullyBooted until finish_boot()
        self.replies: dict[str, Reply] = replies_from_trace()
        self.replies["Originate"] = Reply({"Response": "Success", "ActionID": "",
                                           "Message": "Originate successfully queued"})
        self.handlers: dict[str, Handler] = {}  # custom behaviour per action name
        self.mute: set[str] = set()  # actions received but never answered
        self.actions: asyncio.Queue[AmiPacket] = asyncio.Queue()  # every action received
        self.sessions: list[FakeSession] = []
        self.logins = 0
        self.failed_logins = 0
        self.connections = 0
        self.reset_new_connections = False
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> FakeAmi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_session, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _new_session(self) -> FakeSession:
        self.connections += 1
        return FakeSession(self)

    # ---- fault switches --------------------------------------------------------------------------

    async def refuse_connections(self) -> None:
        """Stop listening: connects are refused (ECONNREFUSED) until accept_connections()."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def accept_connections(self) -> None:
        if self._server is None:
            await self.start()  # same port

    def drop(self) -> None:
        """Every connection is reset, as when Asterisk crashes."""
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.abort()

    def go_silent(self) -> None:
        for session in self.sessions:
            session.go_silent()

    def wake_up(self) -> None:
        for session in self.sessions:
            session.wake_up()

    def send_raw(self, data: bytes) -> None:
        for session in self.authenticated_sessions():
            session.send_raw(data)

    def shutdown(self, *, restart: bool = True) -> None:
        """`core restart now` (v-restart): Shutdown event, then EOF; Asterisk comes back not booted."""
        self.push_event({"Event": "Shutdown", "Privilege": "system,all", "Shutdown": "Cleanly",
                         "Restart": "True" if restart else "False"})
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        self.booted = False

    def finish_boot(self) -> None:
        """The broadcast FullyBooted of a restarted Asterisk (v-restart: this header order)."""
        self.booted = True
        self.push_event({"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted",
                         "Uptime": "0", "LastReload": "0"})

    # ---- events ----------------------------------------------------------------------------------

    def authenticated_sessions(self) -> list[FakeSession]:
        return [s for s in self.sessions if s.authenticated and not s.silent]

    def push_event(self, *packets: Mapping[str, str | list[str]]) -> None:
        """Broadcast events to every logged-in session with `Events: on`."""
        for session in self.authenticated_sessions():
            if session.events_on:
                session.send(*packets)

    # ---- actions ---------------------------------------------------------------------------------

    def handle(self, session: FakeSession, action: AmiPacket) -> None:
        name = str(action.get("Action", ""))
        action_id = action.get("ActionID")
        aid = action_id if isinstance(action_id, str) else None
        self.actions.put_nowait(action)
        if name == "Login":
            self._login(session, action, aid)
            return
        if not session.authenticated:
            session.send(self._response("Error", aid, Message="Permission denied"))
            return
        if name in self.mute:
            return
        if name in self.handlers:
            self.handlers[name](session, action)
        elif name == "Ping":
            session.send(self._response("Success", aid, Ping="Pong", Timestamp=f"{time.time():.6f}"))
        elif name == "Logoff":
            session.send(self._response("Goodbye", aid, Message="Thanks for all the fish."))
            if session.transport is not None:
                session.transport.close()
        elif name in self.replies:
            session.send(*self.replies[name].packets(aid))
        else:
            message = f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands."
            session.send(self._response("Error", aid, Message=message))

    def _login(self, session: FakeSession, action: AmiPacket, aid: str | None) -> None:
        if action.get("Username") != self.username or action.get("Secret") != self.secret:
            self.failed_logins += 1
            session.send(self._response("Error", aid, Message="Authentication failed"))
            return
        self.logins += 1
        session.authenticated = True
        session.events_on = str(action.get("Events", "on")).lower() != "off"
        packets: list[AmiPacket] = [self._response("Success", aid, Message="Authentication accepted")]
        if session.events_on:
            if self.booted:
                packets.append({"Event": "FullyBooted", "Privilege": "system,all", "Uptime": "93",
                                "LastReload": "93", "Status": "Fully Booted"})
            packets.append({"Event": "SuccessfulAuth", "Privilege": "security,all",
                            "Severity": "Informational", "Service": "AMI", "EventVersion": "1",
                            "AccountID": self.username,
                            "SessionID": f"0x{id(session):x}", "UsingPassword": "0"})
        session.send(*packets)

    @staticmethod
    def _response(kind: str, action_id: str | None, **fields: str) -> AmiPacket:
        packet: AmiPacket = {"Response": kind}
        if action_id is not None:
            packet["ActionID"] = action_id
        packet.update(fields)
        return packet
