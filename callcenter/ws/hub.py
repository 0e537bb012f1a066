"""The websocket hub: who receives which message, in which order, and how a client catches up.

Messages go to *audiences*: one per agent (`agent:agent1001`, what that agent may see) and one for the
staff (supervisors and admins, who see everyone). `AUDIENCES` says, per message type, which audiences a
message of that type may reach; `publish` refuses a type that is not listed, so a new message type
cannot leak by default.

Each audience numbers its messages (`seq`, 1, 2, 3 ...) and keeps the last `replay` of them. A client
that reconnects says the last `seq` it saw (`hello` with `resume_from`) and gets the missed ones, or a
fresh `snapshot` when they are gone from the buffer (or the server restarted: `stream` differs). Every
connection of one audience sees the same numbers, so a page can resume on another connection.

A frame is encoded once per audience, then queued on each connection of it. The queues are bounded: a
client that falls `send_queue` frames behind is dropped (close 4409) and comes back with a `hello`;
publishing never waits for a client.

A screen pop does not wait behind other clients' frames (`URGENT`): while one is queued and unsent, every
other connection's writer steps aside once (one turn of the event loop) before its next send, so that a
burst of background frames to many agents is sent after the pop, not before it. A connection's own frames
keep their order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)


class Scope(StrEnum):
    OWN = "own"      # the agents the message is about, and the staff
    STAFF = "staff"  # supervisors and admins only
    ALL = "all"      # every signed-in user


# Every sequenced server -> client message type, and who may receive it (docs/websocket.md).
AUDIENCES: dict[str, Scope] = {
    "screen_pop": Scope.OWN,
    "call": Scope.OWN,
    "agent_state": Scope.OWN,
    "figures": Scope.OWN,
    "queue_stats": Scope.STAFF,
    "pbx": Scope.ALL,
}
# Message types sent before the other connections' frames queued with them (see the module docstring).
URGENT = frozenset({"screen_pop"})
# Messages outside the numbered stream: answers to this connection only.
UNSEQUENCED = ("snapshot", "resumed", "heartbeat", "pong")

STAFF = "staff"

# Close codes (4000-4999 are the application's).
CLOSE_NOT_SIGNED_IN = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_MESSAGE = 4400
CLOSE_NO_HELLO = 4408
CLOSE_TOO_SLOW = 4409


def agent_audience(agent_id: str) -> str:
    return f"agent:{agent_id}"


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


@dataclass
class HubStats:
    connections: int = 0
    connected_total: int = 0
    published: int = 0
    frames_queued: int = 0
    dropped_slow: int = 0
    snapshots: int = 0
    resumes: int = 0


class Urgency:
    """How many urgent frames are queued and not yet taken by their writers, over all connections."""

    def __init__(self) -> None:
        self.pending = 0


class Connection:
    """One client's bounded send queue. The endpoint's writer takes frames with `next()`; None means:
    close with `close_code`."""

    def __init__(self, label: str, maxsize: int, urgency: Urgency | None = None) -> None:
        self.label = label
        # (frame, urgent); + 1: room for the closing None
        self.queue: asyncio.Queue[tuple[str, bool] | None] = asyncio.Queue(maxsize + 1)
        self._maxsize = maxsize
        self._urgency = urgency or Urgency()
        self._urgent = 0  # urgent frames in this queue
        self.close_code: int | None = None
        self.close_reason = ""

    def offer(self, text: str, urgent: bool = False) -> bool:
        if self.close_code is not None:
            return False
        if self.queue.qsize() >= self._maxsize:
            self.close(CLOSE_TOO_SLOW, "too far behind: reconnect and catch up")
            return False
        self.queue.put_nowait((text, urgent))
        if urgent:
            self._urgent += 1
            self._urgency.pending += 1
        return True

    async def next(self) -> str | None:
        """The next frame to send, once it is this connection's turn; None: close."""
        item = await self.queue.get()
        if item is None:
            return None
        text, urgent = item
        if urgent:
            self._urgent -= 1
            self._urgency.pending -= 1
        elif self._urgency.pending > self._urgent:
            await asyncio.sleep(0)  # a screen pop is queued on another connection: its writer goes first
        return text

    def get_nowait(self) -> str | None:
        """The next frame without waiting (QueueEmpty if there is none)."""
        item = self.queue.get_nowait()
        if item is not None and item[1]:
            self._urgent -= 1
            self._urgency.pending -= 1
        return None if item is None else item[0]

    def clear(self) -> None:
        """Drop what is queued (its urgent frames count no more)."""
        while not self.queue.empty():
            self.get_nowait()

    def close(self, code: int, reason: str) -> None:
        """Drop what is queued and ask the writer to close."""
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = code, reason
        self.clear()
        self.queue.put_nowait(None)


class Stream:
    """One audience's numbered messages, the replay buffer and its live connections."""

    def __init__(self, name: str, replay: int) -> None:
        self.name = name
        self.seq = 0
        self.buffer: deque[tuple[int, str]] = deque(maxlen=replay)
        self.connections: set[Connection] = set()

    def push(self, body: str, urgent: bool = False) -> int:
        """`body` is an encoded JSON object without its opening brace; returns the frames queued."""
        self.seq += 1
        text = f'{{"seq":{self.seq},{body}'
        self.buffer.append((self.seq, text))
        queued = 0
        for connection in self.connections:
            queued += connection.offer(text, urgent)
        return queued

    def since(self, seq: int) -> list[str] | None:
        """The frames after `seq`, or None when some of them are no longer kept."""
        if seq > self.seq or seq < 0:
            return None
        if seq == self.seq:
            return []
        if not self.buffer or self.buffer[0][0] > seq + 1:
            return None
        return [text for n, text in self.buffer if n > seq]


@dataclass(frozen=True, slots=True)
class Hello:
    """The client's first message: `resume_from` the last seq it saw on `stream` (None: a fresh start)."""

    resume_from: int | None = None
    stream: str | None = None

    @classmethod
    def parse(cls, message: Any) -> Hello:
        if not isinstance(message, dict) or message.get("type") != "hello":
            raise ValueError('the first message must be {"type": "hello"}')
        resume, stream = message.get("resume_from"), message.get("stream")
        if resume is not None and (isinstance(resume, bool) or not isinstance(resume, int)):
            raise ValueError("resume_from must be an integer or null")
        if stream is not None and (not isinstance(stream, str) or len(stream) > 64):
            raise ValueError("stream must be a short string or null")
        return cls(resume, stream)


class Hub:
    def __init__(self, *, replay: int = 500, send_queue: int = 1000) -> None:
        self.stream_id = secrets.token_hex(8)  # a new one on every start: old seqs mean nothing then
        self.replay = replay
        self.send_queue = send_queue
        self.streams: dict[str, Stream] = {STAFF: Stream(STAFF, replay)}
        self.stats = HubStats()
        self.urgency = Urgency()  # shared by the connections (`connection()`)

    def connection(self, label: str) -> Connection:
        return Connection(label, self.send_queue + self.replay, self.urgency)

    def publish(self, kind: str, payload: dict[str, Any], agents: Iterable[str] = ()) -> None:
        """Send a message of type `kind` to the audiences `AUDIENCES[kind]` allows: for OWN, the staff and
        the given agents (an agent stream exists once that agent has connected)."""
        scope = AUDIENCES[kind]  # a KeyError here is a message type nobody decided the audience of
        self.stats.published += 1
        body = encode({"type": kind, **payload})[1:]
        if scope is Scope.ALL:
            targets: Iterable[Stream] = list(self.streams.values())
        else:
            targets = [self.streams[STAFF]]
            if scope is Scope.OWN:
                targets += [s for a in set(agents) if (s := self.streams.get(agent_audience(a))) is not None]
        urgent = kind in URGENT
        for stream in targets:
            self.stats.frames_queued += stream.push(body, urgent)

    def attach(self, connection: Connection, audience: str, hello: Hello,
               snapshot: Callable[[], dict[str, Any]]) -> None:
        """Start a connection: the missed frames or a snapshot, then everything published from now on.
        Synchronous on purpose: nothing can be published between the snapshot and the subscription."""
        stream = self.streams.get(audience)
        if stream is None:
            stream = self.streams[audience] = Stream(audience, self.replay)
        missed = None
        if hello.resume_from is not None and hello.stream == self.stream_id:
            missed = stream.since(hello.resume_from)
        if missed is None:
            self.stats.snapshots += 1
            connection.offer(encode({"type": "snapshot", "seq": stream.seq, "stream": self.stream_id,
                                     **snapshot()}))
        else:
            self.stats.resumes += 1
            connection.offer(encode({"type": "resumed", "seq": hello.resume_from, "stream": self.stream_id,
                                     "missed": len(missed)}))
            for text in missed:
                connection.offer(text)
        stream.connections.add(connection)
        self.stats.connections += 1
        self.stats.connected_total += 1

    def detach(self, connection: Connection, audience: str) -> None:
        stream = self.streams.get(audience)
        connection.clear()  # its writer is gone: what it did not send counts no more
        if stream is not None and connection in stream.connections:
            stream.connections.discard(connection)
            self.stats.connections -= 1
            if connection.close_code == CLOSE_TOO_SLOW:
                self.stats.dropped_slow += 1
                log.warning("websocket %s dropped: %s", connection.label, connection.close_reason)

    def close_all(self, code: int, reason: str) -> None:
        for stream in self.streams.values():
            for connection in stream.connections:
                connection.close(code, reason)
