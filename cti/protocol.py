"""The AMI wire format: an incremental parser and an action encoder. Pure: no asyncio, no I/O.

What Asterisk 22 sends (tests/traces/app-queue/raw-actions.*, contract/t-resync.session2.raw.txt):

* The first line of a connection is the banner `Asterisk Call Manager/11.0.0\\r\\n`. It is a single
  line, not a message: the Login response follows it directly, with no blank line in between.
* Every message is `Name: value\\r\\n` lines ended by an empty line. Names are case-sensitive on our
  side and kept exactly as sent (`BridgeId` in CoreShowChannel, `BridgeID` in Status).
* Empty values keep their space: `PausedReason: \\r\\n`. A value may itself contain `: `.
* A header can repeat: `Variable: NAME=value` in Status items (newest first), and `Output:` once per
  line of a Command's output (raw-actions `core show version`: `Response: Success`, `Message: Command
  output follows`, `Output: ...`; no free-text body, no `--END COMMAND--`). Repeats become a list.
* `OriginateResponse` is an event that also carries a `Response:` header: `Event` decides.

Performance: the parser does linear work in the bytes fed however they are chunked. It searches for
the blank-line terminator only in the new bytes (plus two bytes of overlap), and decodes each run of
complete messages once, so a UTF-8 character split across two reads stays intact (a `\n` is never
inside a multi-byte character). The complete lines of a large unfinished message (a 2 MiB Command
output) are parsed as they arrive, so the read that completes it does not stall the event loop.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

AmiPacket = dict[str, str | list[str]]
EventFilter = Callable[[str], bool]  # the text of one complete event message -> keep it?

BANNER_PREFIX = b"Asterisk Call Manager/"
DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
LINE_BATCH = 64 * 1024  # an incomplete message this large has its complete lines parsed at once
MAX_KEPT_ERRORS = 1000  # errors beyond this are only counted until take_errors() drains them
_EXCERPT_LEN = 80


class ErrorReason(StrEnum):
    BAD_LINE = "line without ': '"
    NO_KIND = "message has none of the expected headers (Event, Response)"
    BAD_UTF8 = "invalid UTF-8 (replaced with U+FFFD)"
    TOO_LARGE = "message larger than the limit (skipped up to the next blank line)"


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """One piece of the stream that was not a well-formed AMI message: for the caller to log."""

    reason: ErrorReason
    excerpt: str


def _excerpt(data: bytes | bytearray | str) -> str:
    if isinstance(data, str):
        return data[:_EXCERPT_LEN]
    return bytes(data[:_EXCERPT_LEN]).decode("utf-8", "replace")


def _find_end(buf: bytearray, start: int) -> int:
    """End (exclusive) of the LAST blank-line terminator at or after `start`, or -1.

    A terminator is a line end followed by an empty line: `\\r\\n\\r\\n`, or with bare `\\n` line ends
    `\\n\\n` / `\\n\\r\\n`. All of them contain `\\n\\n` or `\\n\\r\\n`.
    """
    lf = buf.rfind(b"\n\n", start)
    crlf = buf.rfind(b"\n\r\n", start)
    end = max(lf + 2 if lf >= 0 else -1, crlf + 3 if crlf >= 0 else -1)
    return end


def _find_first_end(buf: bytearray, start: int) -> int:
    lf = buf.find(b"\n\n", start)
    crlf = buf.find(b"\n\r\n", start)
    ends = [pos + size for pos, size in ((lf, 2), (crlf, 3)) if pos >= 0]
    return min(ends) if ends else -1


class AmiParser:
    """Incremental AMI stream parser: `feed(bytes)` returns the messages completed by that chunk.

    Never raises on bad input: oddities are kept as `ProtocolError` records (`take_errors()`), counted
    in `error_count`, and the parser resynchronises at the next blank line.
    """

    def __init__(
        self,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        kinds: tuple[str, ...] = ("Event", "Response"),
        expect_banner: bool = True,
        line_batch: int = LINE_BATCH,
        event_filter: EventFilter | None = None,
    ) -> None:
        self.max_message_size = max_message_size
        self.line_batch = line_batch
        self.event_filter = event_filter
        self.skipped = 0  # events the filter declined: never turned into packets
        self.kinds = kinds  # a message needs one of these headers (a server parsing actions: "Action")
        self.banner: str | None = None
        self.error_count = 0
        self._buf = bytearray()
        self._scan = 0  # bytes of _buf already searched for a terminator (minus the overlap)
        self._skipping = False  # inside an oversized message: drop bytes up to the next blank line
        self._banner_pending = expect_banner
        self._errors: list[ProtocolError] = []
        self._partial: AmiPacket | None = None  # headers of a large message whose end has not come
        self._partial_size = 0
        self._sep, self._one = itertools.repeat(": "), itertools.repeat(1)  # str.split arguments

    @property
    def version(self) -> str | None:
        """AMI version from the banner (`11.0.0` on Asterisk 22), if one was seen."""
        if self.banner is None:
            return None
        return self.banner.partition("/")[2].strip() or None

    @property
    def awaiting_banner(self) -> bool:
        """True until the first line has shown whether the stream starts with a banner."""
        return self._banner_pending

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete message (its lines parsed so far included)."""
        return len(self._buf) + self._partial_size

    def take_errors(self) -> list[ProtocolError]:
        errors, self._errors = self._errors, []
        return errors

    def feed(self, data: bytes | bytearray | memoryview) -> list[AmiPacket]:
        if not data:
            return []
        buf = self._buf
        buf += data
        fresh = len(buf) - len(data)  # where this chunk starts in the buffer
        if self._banner_pending:
            if not self._take_banner():
                return []
            fresh = 0
        packets: list[AmiPacket] = []
        while True:
            start = max(self._scan - 2, 0)  # a terminator is at most 3 bytes long
            if self._skipping:
                end = _find_first_end(buf, start)
                if end < 0:
                    del buf[: max(len(buf) - 2, 0)]
                    self._scan = len(buf)
                    return packets
                del buf[:end]
                self._scan = 0
                self._skipping = False
                continue
            end = _find_end(buf, start)
            if end >= 0:
                block = bytes(buf[:end])
                del buf[:end]
                fresh = 0
                self._parse_block(block, packets)
            # What is left has no terminator (`end` was the last one): the next feed searches
            # only its own bytes.
            self._scan = len(buf)
            if len(buf) >= self.line_batch:
                self._take_lines(fresh)
            if self._partial_size + len(buf) <= self.max_message_size:
                return packets
            self._error(ErrorReason.TOO_LARGE, buf)
            self._partial, self._partial_size = None, 0
            self._skipping = True

    def _take_banner(self) -> bool:
        """Consume the banner line if the stream starts with one; False while undecided."""
        buf = self._buf
        head = bytes(buf[: len(BANNER_PREFIX)])
        if not BANNER_PREFIX.startswith(head):
            self._banner_pending = False  # no banner (e.g. a server reading actions): plain messages
            return True
        if len(head) < len(BANNER_PREFIX):
            return False
        eol = buf.find(b"\n", self._scan)
        if eol < 0:
            self._scan = len(buf)
            if len(buf) > self.max_message_size:
                self._error(ErrorReason.TOO_LARGE, buf)
                self._banner_pending = False
                self._skipping = True
                self._scan = 0
                return True
            return False
        self.banner = bytes(buf[:eol]).decode("utf-8", "replace").rstrip("\r")
        del buf[: eol + 1]
        self._scan = 0
        self._banner_pending = False
        return True

    def _take_lines(self, fresh: int) -> None:
        """Parse the complete lines of a large message still in progress.

        Without this, a 2 MiB Command response would be decoded and split in the read that completes
        it: one long stall of the event loop. The last line end stays in the buffer so that a
        terminator split across reads (`...\\r\\n` + `\\r\\n`) is still found.
        """
        buf = self._buf
        eol = buf.rfind(b"\n", max(fresh - 1, 1))  # only the new bytes: a huge line stays linear
        if eol <= 0:
            return
        stop = eol - 1 if buf[eol - 1] == 0x0D else eol  # drop the CR of that last CRLF
        text = self._decode(bytes(buf[:stop]))
        del buf[:eol]
        self._scan = len(buf)
        if self._partial is None:
            self._partial = {}
        self._partial_size += eol
        self._fill(self._partial, text.replace("\r\n", "\n") if "\r" in text else text)

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self._error(ErrorReason.BAD_UTF8, raw)
            return raw.decode("utf-8", "replace")

    def _parse_block(self, block: bytes, packets: list[AmiPacket]) -> None:
        """Parse one or more complete messages. Fast path: one decode and one split for all of them."""
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            # Isolate the message(s) with bad bytes; the others parse normally.
            for index, raw in enumerate(block.replace(b"\r\n", b"\n").split(b"\n\n")):
                self._parse_message(self._decode(raw), index, packets)
            return
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        messages = text.split("\n\n")
        first = 0
        if self._partial is not None:
            self._parse_message(messages[0], 0, packets)
            first = 1
        kinds, limit, split, sep, one = self.kinds, self.max_message_size, str.split, self._sep, self._one
        keep = self.event_filter
        for index in range(first, len(messages)):
            message = messages[index]
            if not message:
                continue
            if keep is not None and message.startswith("Event: ") and not keep(message):
                self.skipped += 1
                continue
            # Fast path, most events: every line is `Name: value`, no name repeats. dict() raises
            # ValueError on a line without ": "; a repeated name makes the dict shorter than the lines.
            lines = message.split("\n")
            try:
                packet = cast(AmiPacket, dict(map(split, lines, sep, one)))
            except ValueError:
                packet = {}
            if len(packet) != len(lines) or len(message) > limit:
                self._parse_message(message, index, packets)
                continue
            for kind in kinds:
                if kind in packet:
                    packets.append(packet)
                    break
            else:
                self._error(ErrorReason.NO_KIND, message)

    def _parse_message(self, message: str, index: int, packets: list[AmiPacket]) -> None:
        if index == 0 and self._partial is not None:  # the end of a message whose lines came earlier
            packet, size = self._partial, self._partial_size + len(message)
            self._partial, self._partial_size = None, 0
        elif not message or message == "\n":
            return  # extra blank lines between messages
        else:
            packet, size = {}, len(message)
        if size > self.max_message_size:
            self._error(ErrorReason.TOO_LARGE, message)
            return
        self._fill(packet, message)
        if not packet:
            return
        if not any(kind in packet for kind in self.kinds):
            self._error(ErrorReason.NO_KIND, message)
            return
        packets.append(packet)

    def _fill(self, packet: AmiPacket, text: str) -> None:
        for line in text.split("\n"):
            name, sep, value = line.partition(": ")
            if not sep:
                if line:
                    self._error(ErrorReason.BAD_LINE, line)
                continue
            old = packet.get(name)
            if old is None:
                packet[name] = value
            elif isinstance(old, list):
                old.append(value)
            else:
                packet[name] = [old, value]

    def _error(self, reason: ErrorReason, data: bytes | bytearray | str) -> None:
        self.error_count += 1
        if len(self._errors) < MAX_KEPT_ERRORS:
            self._errors.append(ProtocolError(reason, _excerpt(data)))


# Events the connection itself acts on: never filtered out.
CONNECTION_EVENTS = frozenset({"FullyBooted", "Shutdown"})


def event_filter(events: Collection[str], varset_variables: Collection[str] = ()) -> EventFilter:
    """A filter that keeps only the named events (and VarSet only for the named variables).

    Half of what Asterisk sends is VarSet, and much of the rest (RTCP reports, DeviceStateChange,
    Cdr, NewConnectedLine ...) is of no use to a consumer that says what it wants; skipping those
    before a message becomes a dict is most of the parse cost saved. It works on the raw text of a
    complete message: list items and action-related events (anything with an ActionID, e.g.
    CoreShowChannel, OriginateResponse) are always kept, and so are FullyBooted and Shutdown.
    """
    wanted = frozenset(events) | CONNECTION_EVENTS
    variables = tuple(f"\nVariable: {name}\n" for name in varset_variables)

    def keep(message: str) -> bool:
        end = message.find("\n")
        name = message[7:end] if end >= 0 else message[7:]
        if name == "VarSet":
            return any(v in message for v in variables) or "\nActionID: " in message
        return name in wanted or "\nActionID: " in message

    return keep


def _check(text: str, what: str) -> str:
    if "\r" in text or "\n" in text:
        raise ValueError(f"AMI {what} must not contain CR or LF: {text!r}")
    return text


def encode_message(packet: Mapping[str, str | Sequence[str]]) -> bytes:
    """Wire form of any AMI message, headers in the given order, a list value as repeated headers.

    CR or LF inside a name or value would let a caller inject headers or whole messages: ValueError.
    """
    lines = []
    for key, value in packet.items():
        if not key or ":" in key:
            raise ValueError(f"bad AMI header name: {key!r}")
        _check(key, "header name")
        values = [value] if isinstance(value, str) else value
        for item in values:
            if not isinstance(item, str):
                raise ValueError(f"AMI header {key!r}: values must be strings, got {type(item).__name__}")
            lines.append(f"{key}: {_check(item, 'value')}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")


def encode_action(action: Mapping[str, str | Sequence[str]]) -> bytes:
    """Wire form of an action: `Action` first (Asterisk reads it to know what follows)."""
    name = action.get("Action")
    if not isinstance(name, str) or not name:
        raise ValueError("an AMI action needs an 'Action' header")
    return encode_message({"Action": name, **{k: v for k, v in action.items() if k != "Action"}})


def is_event(packet: Mapping[str, object]) -> bool:
    """An event, including OriginateResponse (which also carries a `Response:` header)."""
    return "Event" in packet


def is_response(packet: Mapping[str, object]) -> bool:
    """The response to an action. Checked after Event: OriginateResponse is not a response."""
    return "Event" not in packet and "Response" in packet


def header(packet: Mapping[str, str | list[str]], name: str, default: str = "") -> str:
    """A header's value as one string; for a repeated header, the last occurrence."""
    value = packet.get(name, default)
    return value[-1] if isinstance(value, list) else value
