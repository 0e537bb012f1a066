"""AMI wire format: parser and encoder, against the exact bytes of a real Asterisk 22 (raw-actions.*)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.protocol import (
    AmiPacket,
    AmiParser,
    ErrorReason,
    ProtocolError,
    encode_action,
    header,
    is_event,
    is_response,
)

TRACES = Path(__file__).parent / "traces"
RAW_JSON = TRACES / "app-queue" / "raw-actions.json"
RAW_TXT = TRACES / "app-queue" / "raw-actions.txt"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def _exchanges() -> list[dict[str, str]]:
    exchanges: list[dict[str, str]] = json.loads(RAW_JSON.read_text(encoding="utf-8"))
    for exchange in exchanges:
        # The JSON recording lost the final blank line of the Getvar response; raw-actions.txt has it
        # (`Value: /var/lib/asterisk/lab` then an empty line), as has every other response.
        if not exchange["received"].endswith("\r\n"):
            exchange["received"] += "\r\n\r\n"
    return exchanges


def _reference_parse(stream: str) -> list[AmiPacket]:
    """The obvious slow parser, for CRLF streams without oddities."""
    packets: list[AmiPacket] = []
    for block in stream.split("\r\n\r\n"):
        if not block:
            continue
        packet: AmiPacket = {}
        for line in block.split("\r\n"):
            name, _, value = line.partition(": ")
            old = packet.get(name)
            if old is None:
                packet[name] = value
            elif isinstance(old, list):
                old.append(value)
            else:
                packet[name] = [old, value]
        packets.append(packet)
    return packets


def _txt_received_blocks() -> list[str]:
    """The RECEIVED parts of raw-actions.txt: same bytes as the JSON, but stored with bare LF."""
    text = RAW_TXT.read_text(encoding="utf-8")
    blocks = []
    for part in text.split("<<< RECEIVED\n")[1:]:
        body = part.split("\n##### ", 1)[0]
        if body.endswith("\n\n\n"):  # the last exchange: file ends with the annotation's blank line
            body = body[:-1]
        blocks.append(body)
    return blocks


EXCHANGES = _exchanges()
FULL_STREAM = "".join(x["received"] for x in EXCHANGES).encode("utf-8")
EXPECTED = _reference_parse("".join(x["received"] for x in EXCHANGES[1:]))


def _parse_all(chunks: list[bytes], parser: AmiParser | None = None) -> list[AmiPacket]:
    parser = parser or AmiParser()
    packets: list[AmiPacket] = []
    for chunk in chunks:
        packets.extend(parser.feed(chunk))
    return packets


# ---- the real bytes ------------------------------------------------------------------------------


def test_raw_actions_has_23_exchanges_and_banner_first() -> None:
    assert len(EXCHANGES) == 23
    assert EXCHANGES[0]["received"].encode() == BANNER


@pytest.mark.parametrize("exchange", EXCHANGES[1:], ids=[x["title"] for x in EXCHANGES[1:]])
def test_every_exchange_parses_to_its_packets(exchange: dict[str, str]) -> None:
    parser = AmiParser()
    packets = _parse_all([BANNER, exchange["received"].encode()], parser)
    assert packets == _reference_parse(exchange["received"])
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert parser.version == "11.0.0"
    assert parser.take_errors() == []
    assert parser.buffered == 0
    assert all(is_event(p) or is_response(p) for p in packets)


def test_whole_session_as_one_stream() -> None:
    parser = AmiParser()
    assert parser.feed(FULL_STREAM) == EXPECTED
    assert parser.error_count == 0
    assert len(EXPECTED) == FULL_STREAM.count(b"\r\n\r\n")


def test_list_shapes_and_repeated_headers() -> None:
    by_id: dict[str, list[AmiPacket]] = {}
    for packet in EXPECTED:
        by_id.setdefault(header(packet, "ActionID"), []).append(packet)
    # QueueStatus for one queue: response, QueueParams, QueueMember, QueueEntry, QueueStatusComplete.
    assert [header(p, "Event") or header(p, "Response") for p in by_id["raw-3"]] == [
        "Success", "QueueParams", "QueueMember", "QueueEntry", "QueueStatusComplete"]
    assert by_id["raw-3"][2]["PausedReason"] == ""  # `PausedReason: ` keeps its empty value
    status_complete = by_id["raw-7"][-1]
    assert status_complete["ListItems"] == status_complete["Items"] == "3"
    # Command output in Asterisk 22: one `Output:` header per line, no `--END COMMAND--` body.
    command = by_id["raw-10"][0]
    assert command["Message"] == "Command output follows"
    assert command["Output"].startswith("Asterisk 22.10.1 built by root")
    # A value that itself contains ": ".
    assert by_id["raw-11"][0]["Message"] == (
        "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands.")
    endpoint = by_id["raw-18"][1]
    assert endpoint["CodecPrefsIncomingAnswer"] == (
        "prefer:pending, operation:intersect, keep:all, transcode:allow")
    # Ping without ActionID has no ActionID header at all.
    assert [p for p in EXPECTED if p.get("Ping") == "Pong" and "ActionID" not in p]


def test_status_items_keep_variables_as_a_list_in_wire_order() -> None:
    raw = (TRACES / "contract" / "t-resync.session2.jsonl").read_text(encoding="utf-8").splitlines()
    recorded = [json.loads(line) for line in raw]
    stream = BANNER + b"".join(
        "".join(f"{k}: {v}\r\n" for k, vs in rec.items() if not k.startswith("_")
                for v in (vs if isinstance(vs, list) else [vs])).encode() + b"\r\n"
        for rec in recorded if rec["_dir"] == "in")
    packets = AmiParser().feed(stream)
    expected = [{k: v for k, v in rec.items() if not k.startswith("_")}
                for rec in recorded if rec["_dir"] == "in"]
    assert packets == expected
    waiting = next(p for p in packets if p.get("Event") == "Status" and p.get("Context") == "cc-wait")
    assert waiting["Variable"] == ["CC_STATE=waiting", "CC_QUEUE=support", "CC_DNIS=8005550100",
                                   "SIPDOMAIN=127.0.0.1"]
    assert list(waiting)[-1] == "ActionID"  # ActionID comes last in Status items


def test_bare_lf_stream_from_the_txt_file_parses_the_same() -> None:
    blocks = _txt_received_blocks()
    assert len(blocks) == 23
    assert blocks[0] == "Asterisk Call Manager/11.0.0\n"
    for block, exchange in zip(blocks, EXCHANGES, strict=True):
        assert block.replace("\n", "\r\n") == exchange["received"]
    parser = AmiParser()
    assert parser.feed("".join(blocks).encode()) == EXPECTED
    assert parser.banner == "Asterisk Call Manager/11.0.0"


def test_getvar_without_its_blank_line_stays_pending() -> None:
    raw = next(x for x in json.loads(RAW_JSON.read_text()) if x["title"] == "Getvar global")["received"]
    parser = AmiParser(expect_banner=False)
    assert parser.feed(raw.encode()) == []
    assert parser.feed(b"\r\n") == []
    assert parser.feed(b"\r\n") == [{"Response": "Success", "ActionID": "raw-17", "Variable": "RECDIR",
                                     "Value": "/var/lib/asterisk/lab"}]


def test_banner_split_across_reads_and_no_banner() -> None:
    parser = AmiParser()
    assert parser.feed(b"Aster") == []
    assert parser.feed(b"isk Call Manager/11.0.0\r") == []
    assert parser.feed(b"\nResponse: Success\r\n\r\n") == [{"Response": "Success"}]
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    plain = AmiParser()
    assert plain.feed(b"Event: X\r\n\r\n") == [{"Event": "X"}]
    assert plain.banner is None


def test_classification_event_first() -> None:
    originate = {"Event": "OriginateResponse", "Response": "Failure", "ActionID": "a"}
    assert is_event(originate) and not is_response(originate)
    assert is_response({"Response": "Success"}) and not is_event({"Response": "Success"})


# ---- chunking and UTF-8 --------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(FULL_STREAM)), max_size=60),
       st.sampled_from([64 * 1024, 64, 7, 1]))
def test_any_chunking_yields_the_same_packets(cuts: list[int], line_batch: int) -> None:
    # A small line_batch makes the parser take the lines of every unfinished message early, as it
    # does for a large Command response.
    points = [0, *sorted(cuts), len(FULL_STREAM)]
    chunks = [FULL_STREAM[a:b] for a, b in itertools.pairwise(points)]
    parser = AmiParser(line_batch=line_batch)
    assert _parse_all(chunks, parser) == EXPECTED
    assert parser.error_count == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(FULL_STREAM)), max_size=30))
def test_chunking_of_a_bare_lf_stream(cuts: list[int]) -> None:
    stream = "".join(_txt_received_blocks()).encode()
    points = [0, *sorted(min(c, len(stream)) for c in cuts), len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    assert _parse_all(chunks, AmiParser(line_batch=16)) == EXPECTED


def test_multibyte_utf8_split_at_every_offset() -> None:
    value = "Zoë Ångström — 電話 📞"
    raw = f"Event: Newchannel\r\nCallerIDName: {value}\r\n\r\n".encode()
    for offset in range(len(raw) + 1):
        for line_batch in (64 * 1024, 1):
            parser = AmiParser(expect_banner=False, line_batch=line_batch)
            packets = parser.feed(raw[:offset]) + parser.feed(raw[offset:])
            assert packets == [{"Event": "Newchannel", "CallerIDName": value}], offset
            assert parser.error_count == 0


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
               max_size=30),
       st.data())
def test_any_text_value_survives_any_split(value: str, data: st.DataObject) -> None:
    raw = f"Event: UserEvent\r\nName: {value}\r\n\r\n".encode()
    offset = data.draw(st.integers(min_value=0, max_value=len(raw)))
    parser = AmiParser(expect_banner=False)
    packets = parser.feed(raw[:offset]) + parser.feed(raw[offset:])
    assert packets == [{"Event": "UserEvent", "Name": value}]


# ---- garbage -------------------------------------------------------------------------------------

VALID = b"Event: Hangup\r\nUniqueid: 1795355292.27\r\nCause: 16\r\n\r\n"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64), st.sampled_from([64 * 1024, 8]))
def test_garbage_never_raises_and_the_stream_recovers(garbage: bytes, chunk: int, line_batch: int) -> None:
    stream = BANNER + garbage + b"\r\n\r\n" + VALID
    parser = AmiParser(max_message_size=256, line_batch=line_batch)
    packets = _parse_all([stream[i:i + chunk] for i in range(0, len(stream), chunk)], parser)
    assert packets and packets[-1] == {"Event": "Hangup", "Uniqueid": "1795355292.27", "Cause": "16"}
    errors = parser.take_errors()
    assert all(isinstance(e, ProtocolError) and isinstance(e.reason, ErrorReason) for e in errors)
    assert all(isinstance(e.excerpt, str) and len(e.excerpt) <= 80 for e in errors)
    assert parser.error_count == len(errors)


@pytest.mark.parametrize(
    ("garbage", "reasons"),
    [
        (b"hello world\r\nEvent: X\r\n\r\n", [ErrorReason.BAD_LINE]),
        (b"Foo: bar\r\nBaz: 1\r\n\r\n", [ErrorReason.NO_KIND]),
        (b"Event: X\r\nName: caf\xe9\r\n\r\n", [ErrorReason.BAD_UTF8]),
        (b"\x00\x01\x02\r\n\r\n", [ErrorReason.BAD_LINE]),
    ],
)
def test_garbage_is_reported_with_its_reason(garbage: bytes, reasons: list[ErrorReason]) -> None:
    parser = AmiParser()
    packets = parser.feed(BANNER + garbage + VALID)
    assert [e.reason for e in parser.take_errors()] == reasons
    assert packets[-1]["Event"] == "Hangup"
    assert parser.take_errors() == []


def test_invalid_utf8_keeps_the_event_with_replacement_characters() -> None:
    parser = AmiParser(expect_banner=False)
    assert parser.feed(b"Event: X\r\nName: caf\xe9\r\n\r\n") == [{"Event": "X", "Name": "caf\ufffd"}]


def test_oversized_message_is_skipped_up_to_the_next_blank_line() -> None:
    parser = AmiParser(max_message_size=1000, expect_banner=False)
    assert parser.feed(b"Event: Huge\r\n") == []
    for _ in range(50):
        assert parser.feed(b"Output: " + b"x" * 92 + b"\r\n") == []
        assert parser.buffered <= 1000 + 102
    assert [e.reason for e in parser.take_errors()] == [ErrorReason.TOO_LARGE]
    assert parser.feed(b"Output: tail\r\n\r\n" + VALID) == [
        {"Event": "Hangup", "Uniqueid": "1795355292.27", "Cause": "16"}]
    # A complete oversized message arriving in one read is dropped as well.
    big = b"Event: Huge\r\n" + b"Output: " + b"y" * 2000 + b"\r\n\r\n"
    assert parser.feed(big + VALID) == [{"Event": "Hangup", "Uniqueid": "1795355292.27", "Cause": "16"}]
    assert [e.reason for e in parser.take_errors()] == [ErrorReason.TOO_LARGE]


def test_blank_lines_between_messages_are_ignored() -> None:
    parser = AmiParser(expect_banner=False)
    assert parser.feed(b"\r\n\r\nEvent: A\r\n\r\n\r\n\r\nEvent: B\n\n\nEvent: C\r\n\n") == [
        {"Event": "A"}, {"Event": "B"}, {"Event": "C"}]
    assert parser.error_count == 0


def test_oversized_message_parsed_early_is_dropped_too() -> None:
    parser = AmiParser(max_message_size=1000, expect_banner=False, line_batch=100)
    for _ in range(30):
        assert parser.feed(b"Output: " + b"x" * 92 + b"\r\n") == []
        assert parser.buffered <= 1000 + 102
    assert parser.feed(b"\r\n" + VALID) == [{"Event": "Hangup", "Uniqueid": "1795355292.27", "Cause": "16"}]
    assert [e.reason for e in parser.take_errors()] == [ErrorReason.TOO_LARGE]


def test_large_message_in_small_chunks_is_linear() -> None:
    """A 4 MiB Command response in 4 KiB reads: a parser that rescans its buffer takes minutes."""
    line = b"Output: " + b"z" * 120 + b"\r\n"
    message = b"Response: Success\r\nActionID: big\r\nMessage: Command output follows\r\n"
    message += line * (4 * 1024 * 1024 // len(line)) + b"\r\n"
    parser = AmiParser(expect_banner=False)
    begin = time.perf_counter()
    packets = _parse_all([message[i:i + 4096] for i in range(0, len(message), 4096)], parser)
    elapsed = time.perf_counter() - begin
    assert len(packets) == 1 and len(packets[0]["Output"]) == 4 * 1024 * 1024 // len(line)
    assert elapsed < 2.0, elapsed  # a loose bound; bench/ami_large_message.py measures it
    assert packets[0]["Output"][0] == "z" * 120 and packets[0]["Message"] == "Command output follows"


# ---- encoder -------------------------------------------------------------------------------------


def test_encode_action_wire_form() -> None:
    action = {"ActionID": "acd-7", "Channel": "PJSIP/agent1001", "Action": "Originate",
              "Variable": ["CC_CALL=1795355292.27", "CC_QUEUE=support"], "Async": "true"}
    assert encode_action(action) == (
        b"Action: Originate\r\nActionID: acd-7\r\nChannel: PJSIP/agent1001\r\n"
        b"Variable: CC_CALL=1795355292.27\r\nVariable: CC_QUEUE=support\r\nAsync: true\r\n\r\n")


def test_encode_matches_what_the_traces_sent() -> None:
    for exchange in EXCHANGES[1:]:
        sent = _reference_parse(exchange["sent"])[0]
        assert encode_action(sent).decode() == exchange["sent"]


@pytest.mark.parametrize(
    "action",
    [
        {"Action": "Hangup", "Channel": "PJSIP/x\r\nAction: Originate"},
        {"Action": "Hangup", "Channel": "PJSIP/x\nFoo: bar"},
        {"Action": "Hangup", "Chan\rnel": "x"},
        {"Action": "Ping\r\n\r\nAction: Hangup"},
        {"Action": "Originate", "Variable": ["A=1", "B=2\r\nAction: Logoff"]},
        {"Action": "Ping", "Bad: name": "x"},
        {"Channel": "no action"},
    ],
)
def test_encode_rejects_injection(action: dict[str, str | list[str]]) -> None:
    with pytest.raises(ValueError):
        encode_action(action)


_names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_-]{0,15}\Z").filter(lambda n: n != "Action")
_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                  max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_names, st.one_of(_values, st.lists(_values, min_size=2, max_size=4)), max_size=8))
def test_encode_parse_round_trip(headers: dict[str, str | list[str]]) -> None:
    action: dict[str, str | list[str]] = {"Action": "Originate", **headers}
    parser = AmiParser(kinds=("Action",), expect_banner=False)
    assert parser.feed(encode_action(action)) == [action]
    assert parser.error_count == 0
