"""Asterisk `queue_log` rows from our domain events, so that queue-reporting tools read us unchanged.

Line format (Asterisk's): `epoch|callid|queuename|agent|event|data1|data2|...`, with Asterisk's event
names and parameters:

    ENTERQUEUE      url|callerid|position
    RINGNOANSWER    ringtime (ms)
    RINGCANCELED    ringtime (ms)                        (the caller hung up while the agent rang)
    CONNECT         holdtime|bridged channel uniqueid|ringtime
    COMPLETEAGENT   holdtime|calltime|origposition      (the agent hung up)
    COMPLETECALLER  holdtime|calltime|origposition      (the caller hung up)
    BLINDTRANSFER   extension|context|holdtime|calltime|origposition
    ATTENDEDTRANSFER BRIDGE|target|holdtime|calltime|origposition
    ABANDON         position|origposition|waittime

Times are whole seconds as Asterisk writes them. Only calls that entered a queue produce rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.events import (
    AgentDisconnected,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallOffered,
    CallQueued,
    CallStarted,
    CallTransferred,
    DisconnectReason,
    DomainEvent,
    OfferUnanswered,
)
from cti.records import TransferKind


@dataclass(frozen=True, slots=True)
class QueueLogRow:
    time: float
    callid: str
    queuename: str
    agent: str
    event: str
    data: tuple[str, ...] = ()

    def line(self) -> str:
        fields = (str(int(self.time)), self.callid, self.queuename, self.agent, self.event, *self.data)
        return "|".join(fields)


@dataclass(slots=True)
class _QueuedCall:
    caller: str
    queue: str = "NONE"
    entered_at: float = 0.0
    position: int = 1
    connected_at: float | None = None
    offered_at: dict[str, float] = field(default_factory=dict)
    transferred: bool = False


class QueueLogBuilder:
    """Feed domain events in order; `feed` returns the queue_log rows they produce."""

    def __init__(self) -> None:
        self._callers: dict[str, str] = {}
        self._calls: dict[str, _QueuedCall] = {}

    def feed(self, event: DomainEvent) -> list[QueueLogRow]:
        if isinstance(event, CallStarted):
            self._callers[event.call_id] = event.caller or ""
            return []
        if isinstance(event, CallQueued):
            return self._queued(event)
        call_id = getattr(event, "call_id", None)
        call = self._calls.get(call_id) if isinstance(call_id, str) else None
        if isinstance(event, CallEnded):
            self._calls.pop(event.call_id, None)
            self._callers.pop(event.call_id, None)
            return []
        if call is None:
            return []
        if isinstance(event, CallOffered):
            call.offered_at[event.uniqueid] = event.at
            return []
        if isinstance(event, OfferUnanswered):
            ring_ms = round(event.ring_seconds * 1000)
            name = "RINGCANCELED" if event.dial_status == "CANCEL" else "RINGNOANSWER"
            return [self._row(event.at, event.call_id, call, event.agent, name, ring_ms)]
        if isinstance(event, CallConnected):
            return self._connected(event, call)
        if isinstance(event, CallTransferred):
            return self._transferred(event, call)
        if isinstance(event, AgentDisconnected):
            return self._disconnected(event, call)
        if isinstance(event, CallAbandoned):
            del self._calls[event.call_id]
            return [self._row(event.at, event.call_id, call, "NONE", "ABANDON", call.position, call.position,
                              _secs(event.at - call.entered_at))]
        return []

    def _queued(self, event: CallQueued) -> list[QueueLogRow]:
        call = self._calls.get(event.call_id)
        if call is not None and call.connected_at is None and call.queue == (event.queue or "NONE"):
            return []  # still the same stay in the same queue (e.g. back after a ring-no-answer)
        call = _QueuedCall(caller=self._callers.get(event.call_id, ""), queue=event.queue or "NONE",
                           entered_at=event.at, position=event.position or 1)
        self._calls[event.call_id] = call
        return [
            self._row(event.at, event.call_id, call, "NONE", "ENTERQUEUE", "", call.caller, call.position)
        ]

    def _connected(self, event: CallConnected, call: _QueuedCall) -> list[QueueLogRow]:
        if call.connected_at is not None:
            return []  # a transfer target is not a new queue connection
        call.connected_at = event.at
        ring = event.at - call.offered_at.get(event.uniqueid, event.at)
        return [self._row(event.at, event.call_id, call, event.agent, "CONNECT",
                          _secs(event.at - call.entered_at), event.uniqueid, _secs(ring))]

    def _transferred(self, event: CallTransferred, call: _QueuedCall) -> list[QueueLogRow]:
        if call.connected_at is None or call.transferred:
            return []
        call.transferred = True
        hold = _secs(call.connected_at - call.entered_at)
        talk = _secs(event.at - call.connected_at)
        agent = event.by_agent or "NONE"
        if event.kind is TransferKind.ATTENDED:
            return [self._row(event.at, event.call_id, call, agent, "ATTENDEDTRANSFER", "BRIDGE",
                              event.to or "", hold, talk, call.position)]
        exten, context = event.to or "", ""
        if event.kind is TransferKind.REDIRECT:  # a redirect names "context,exten"
            context, _, exten = exten.partition(",")
        return [self._row(event.at, event.call_id, call, agent, "BLINDTRANSFER", exten, context, hold, talk,
                          call.position)]

    def _disconnected(self, event: AgentDisconnected, call: _QueuedCall) -> list[QueueLogRow]:
        if call.connected_at is None or call.transferred or event.reason is DisconnectReason.MOVED:
            return []
        kind = "COMPLETEAGENT" if event.reason is DisconnectReason.AGENT_HANGUP else "COMPLETECALLER"
        row = self._row(event.at, event.call_id, call, event.agent, kind,
                        _secs(call.connected_at - call.entered_at), _secs(event.at - call.connected_at),
                        call.position)
        del self._calls[event.call_id]
        return [row]

    @staticmethod
    def _row(at: float, call_id: str, call: _QueuedCall, agent: str, name: str, *data: object) -> QueueLogRow:
        return QueueLogRow(time=at, callid=call_id, queuename=call.queue, agent=agent, event=name,
                           data=tuple(str(d) for d in data))


def _secs(seconds: float) -> int:
    return max(0, round(seconds))
