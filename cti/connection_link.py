"""One TCP link to Asterisk's AMI: parsing, routing of responses and list items, and the link's failure.

`AmiConnection` (cti/connection.py) creates one `AmiLink` per TCP connection and owns the lifecycle
(login, keep-alive, reconnect). The link routes every parsed packet synchronously, in wire order:

* a `Response` goes to the pending action with its ActionID;
* an `Event` carrying the ActionID of a pending *list* action is an item of that list (contract trace
  t-resync: list items go only to the requesting session and carry its ActionID); the event with
  `EventList: Complete` closes the list;
* every other event is live and goes to `on_event`, including `OriginateResponse`, whose ActionID is
  that of an Originate already completed by its own `Response: Success` ("Originate successfully
  queued"): events caused by an action can arrive after the next action's response.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cti.protocol import AmiPacket, AmiParser, EventFilter, encode_action, header

log = logging.getLogger(__name__)

MAX_LOGGED_PROTOCOL_ERRORS = 20  # per link; the rest are only counted


class AmiError(Exception):
    """Asterisk answered an action with `Response: Error`."""

    def __init__(self, response: AmiPacket) -> None:
        self.response = response
        super().__init__(header(response, "Message") or "AMI action failed")


class AmiDisconnected(ConnectionError):
    """The link is down (or dropped while the action was waiting for its response)."""


class AmiBackpressure(TimeoutError):
    """Asterisk is not reading: the write buffer stayed full for the whole timeout; nothing was sent."""


@dataclass(frozen=True, slots=True)
class AmiListResult:
    """A list action's answer: the `Response`, the items in wire order, and the `...Complete` event."""

    response: AmiPacket
    items: list[AmiPacket]
    complete: AmiPacket | None  # None when Asterisk answered without `EventList: start`


@dataclass(slots=True)
class ConnectionStats:
    """Live counters of one AmiConnection (all links). Read them; only the connection writes them."""

    connects: int = 0  # TCP connections established
    logins: int = 0
    reconnects: int = 0  # logins after the first one
    auth_failures: int = 0
    keepalive_timeouts: int = 0
    events_received: int = 0  # live events passed to on_event
    events_skipped: int = 0  # events the event filter declined before parsing
    list_items_received: int = 0
    bytes_received: int = 0
    actions_sent: int = 0
    protocol_errors: int = 0
    write_buffer_peak: int = 0  # largest transport write buffer seen after a write (bytes)
    callback_errors: int = 0  # on_event / on_ready / on_down raised
    last_error: str | None = None
    last_rx_at: float | None = None  # loop.time() of the last byte received


@dataclass(slots=True)
class _Pending:
    action: str
    future: asyncio.Future[AmiPacket] | None = None  # None: an internal Ping nobody waits for
    list_future: asyncio.Future[AmiListResult] | None = None
    response: AmiPacket | None = None
    items: list[AmiPacket] = field(default_factory=list)


class AmiLink(asyncio.Protocol):
    def __init__(
        self,
        *,
        on_event: Callable[[AmiPacket], None],
        stats: ConnectionStats,
        id_prefix: str,
        max_message_size: int,
        write_buffer_limit: int,
        event_filter: EventFilter | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_event = on_event
        self._stats = stats
        self._ids = (f"{id_prefix}-{n}" for n in itertools.count(1))
        self._write_buffer_limit = write_buffer_limit
        self._parser = AmiParser(max_message_size=max_message_size, event_filter=event_filter)
        self._transport: asyncio.Transport | None = None
        self._pending: dict[str, _Pending] = {}
        self._unwanted_lists: set[str] = set()  # ActionIDs whose list items are dropped until Complete
        self._writable = asyncio.Event()  # cleared while the transport says its buffer is too full
        self._writable.set()
        self._close_reason: str | None = None
        self._logged_errors = 0
        self._seen_errors = 0
        self._skipped_before = stats.events_skipped  # counted across links
        self.banner: asyncio.Future[str | None] = self._loop.create_future()
        self.booted: asyncio.Future[None] = self._loop.create_future()  # FullyBooted seen on this link
        self.closed: asyncio.Future[str] = self._loop.create_future()  # result: why it went down
        self.shutting_down = False
        self.last_rx = self._loop.time()
        self.rx = asyncio.Event()  # set on every read; the keep-alive clears it before a Ping

    # ---- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        # pause_writing() once this much is queued for Asterisk; a writer waits until it drains.
        transport.set_write_buffer_limits(high=self._write_buffer_limit, low=self._write_buffer_limit // 4)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        now = self._loop.time()
        self.last_rx = now
        self.rx.set()
        self._stats.bytes_received += len(data)
        self._stats.last_rx_at = now
        packets = self._parser.feed(data)
        self._stats.events_skipped = self._skipped_before + self._parser.skipped
        if self._parser.error_count != self._seen_errors:
            self._report_protocol_errors()
        if not self.banner.done() and not self._parser.awaiting_banner:
            self.banner.set_result(self._parser.banner)
        for packet in packets:
            if self._close_reason is not None:
                break  # aborted (Shutdown, close()) while handling this read: drop the rest
            self._route(packet)

    def eof_received(self) -> bool:
        if self._close_reason is None:
            self._close_reason = "EOF from Asterisk" + (" after Shutdown" if self.shutting_down else "")
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        reason = self._close_reason or (f"connection lost: {exc!r}" if exc else "connection closed")
        self._close_reason = reason
        self._writable.set()  # a writer waiting for room finds the link closed
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            for future in (entry.future, entry.list_future):
                if future is not None and not future.done():
                    future.set_exception(AmiDisconnected(f"{entry.action}: {reason}"))
        if not self.banner.done():
            self.banner.set_result(None)
        if not self.closed.done():
            self.closed.set_result(reason)

    # ---- used by AmiConnection -------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._transport is not None and self._close_reason is None

    @property
    def parser(self) -> AmiParser:
        return self._parser

    def abort(self, reason: str) -> None:
        """Close the link now; pending actions fail with AmiDisconnected(reason)."""
        if self._close_reason is None:
            self._close_reason = reason
        if self._transport is not None:
            self._transport.abort()

    async def wait_writable(self, action: Mapping[str, str | Sequence[str]], seconds: float) -> None:
        """Wait until the transport accepts writes again (Asterisk reads what we sent).

        A peer that stops reading must not make us buffer without bound: after `seconds` the action
        fails with AmiBackpressure (a TimeoutError) and is never written.
        """
        deadline = self._loop.time() + seconds
        # A loop: when the buffer drains every waiter wakes up, and the first ones to write may fill
        # it again before the others run.
        while not self._writable.is_set():
            try:
                await asyncio.wait_for(self._writable.wait(), max(deadline - self._loop.time(), 0.0))
            except TimeoutError:
                size = self._transport.get_write_buffer_size() if self._transport is not None else 0
                raise AmiBackpressure(f"{action.get('Action')}: Asterisk has not read the {size} bytes "
                                      f"already sent for {seconds:.1f} s") from None

    def submit(self, action: Mapping[str, str | Sequence[str]], *, is_list: bool = False,
               wait: bool = True) -> tuple[str, _Pending]:
        """Write one action; return its ActionID and the pending entry whose future completes.

        Raises AmiBackpressure at once while the transport's write buffer is above its limit (callers
        that can wait await wait_writable() first).
        """
        if not self.is_open or self._transport is None:
            raise AmiDisconnected(f"{action.get('Action')}: not connected")
        action_id = action.get("ActionID")
        if action_id is None:
            action_id = next(self._ids)
            action = {**action, "ActionID": action_id}
        if not isinstance(action_id, str):
            raise ValueError("ActionID must be a string")
        if action_id in self._pending:
            raise ValueError(f"ActionID {action_id!r} is already waiting for a response")
        data = encode_action(action)
        if not self._writable.is_set():
            raise AmiBackpressure(
                f"{action.get('Action')}: {self._transport.get_write_buffer_size()} bytes not yet read "
                "by Asterisk")
        entry = _Pending(action=str(action.get("Action")))
        if wait:
            if is_list:
                entry.list_future = self._loop.create_future()
            else:
                entry.future = self._loop.create_future()
        self._pending[action_id] = entry
        self._transport.write(data)  # may call pause_writing(): the buffer stays near the limit
        self._stats.actions_sent += 1
        self._stats.write_buffer_peak = max(self._stats.write_buffer_peak,
                                            self._transport.get_write_buffer_size())
        return action_id, entry

    def forget(self, action_id: str) -> None:
        """The caller stopped waiting (done, timed out or cancelled): a late response is dropped."""
        self._pending.pop(action_id, None)

    # ---- routing ---------------------------------------------------------------------------------

    def _route(self, packet: AmiPacket) -> None:
        if "Event" in packet:  # before Response: OriginateResponse carries both
            action_id = packet.get("ActionID")
            entry = self._pending.get(action_id) if isinstance(action_id, str) else None
            if entry is None and action_id in self._unwanted_lists and isinstance(action_id, str):
                self._list_item(action_id, None, packet)  # nobody collects them: dropped
            elif entry is not None and entry.list_future is not None and isinstance(action_id, str):
                self._list_item(action_id, entry, packet)
            else:
                self._live_event(packet)
        elif "Response" in packet:
            self._response(packet)

    def _live_event(self, packet: AmiPacket) -> None:
        self._stats.events_received += 1
        name = packet["Event"]
        if name == "FullyBooted" and not self.booted.done():
            self.booted.set_result(None)
        try:
            self._on_event(packet)
        except Exception:
            self._stats.callback_errors += 1
            log.exception("on_event failed for %s event; the connection goes on", name)
        if name == "Shutdown":
            # Asterisk is stopping or restarting (v-restart: `Shutdown: Cleanly`, `Restart: True`,
            # then EOF 13 ms later, no Goodbye). Go down now rather than wait for the EOF.
            self.shutting_down = True
            self.abort(f"Asterisk shut down (Shutdown: {header(packet, 'Shutdown')}, "
                       f"Restart: {header(packet, 'Restart')})")

    def _list_item(self, action_id: str, entry: _Pending | None, packet: AmiPacket) -> None:
        """An item of a list (entry None: of a list nobody collects), or the event that ends it."""
        if header(packet, "EventList").lower() == "complete":
            self._pending.pop(action_id, None)
            self._unwanted_lists.discard(action_id)
            if entry is not None and entry.list_future is not None and not entry.list_future.done():
                response = entry.response if entry.response is not None else {}
                entry.list_future.set_result(AmiListResult(response, entry.items, packet))
            return
        self._stats.list_items_received += 1
        if entry is not None:
            entry.items.append(packet)

    def _response(self, packet: AmiPacket) -> None:
        action_id = packet.get("ActionID")
        entry = self._pending.get(action_id) if isinstance(action_id, str) else None
        if entry is None or not isinstance(action_id, str):
            log.debug("response for no waiting action: %s", header(packet, "ActionID", "<none>"))
            return
        failed = header(packet, "Response") == "Error"
        if entry.list_future is not None:
            if not failed and header(packet, "EventList").lower() == "start":
                entry.response = packet  # items follow, then the Complete event
                return
            self._pending.pop(action_id, None)
            if not entry.list_future.done():
                if failed:
                    entry.list_future.set_exception(AmiError(packet))
                else:
                    entry.list_future.set_result(AmiListResult(packet, [], None))
            return
        self._pending.pop(action_id, None)
        if not failed and header(packet, "EventList").lower() == "start":
            # A list action sent with send(): its items are not live events either (use send_list()).
            log.debug("%s sent without send_list(): its list items are dropped", entry.action)
            self._unwanted_lists.add(action_id)
        if entry.future is not None and not entry.future.done():
            if failed:
                entry.future.set_exception(AmiError(packet))
            else:
                entry.future.set_result(packet)

    def _report_protocol_errors(self) -> None:
        errors = self._parser.take_errors()
        self._stats.protocol_errors += self._parser.error_count - self._seen_errors
        self._seen_errors = self._parser.error_count
        for error in errors:
            self._logged_errors += 1
            if self._logged_errors <= MAX_LOGGED_PROTOCOL_ERRORS:
                log.warning("AMI protocol error: %s: %r", error.reason, error.excerpt)
            elif self._logged_errors == MAX_LOGGED_PROTOCOL_ERRORS + 1:
                log.warning("AMI protocol errors: further errors on this link are only counted")
