"""AMI ingest: a long stream built from the real traces, over loopback TCP, through our whole CTI path
(connection + parser + tracker + bus), against panoramisk's own parser alone on the same bytes.

    python bench/ami_ingest.py [--events 200000]

Prints name=value lines, the ratio last. Target: ours / panoramisk >= 1.5.

Our connection runs with the tracker's event filter, as the server does: events the tracker does not
read (most VarSet, RTCP reports, DeviceStateChange, Cdr ...) are counted but never become dicts.
`ours_nofilter_events_per_s` is the same path with every event parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from panoramisk_baseline import panoramisk_parse  # noqa: E402

from callcenter.bus import EventBus  # noqa: E402
from cti.connection import AmiConnection  # noqa: E402
from cti.events import DomainEvent  # noqa: E402
from cti.pipeline import CtiPipeline  # noqa: E402
from cti.protocol import encode_message, event_filter  # noqa: E402
from cti.trace import read_trace  # noqa: E402
from cti.tracker import Tracker  # noqa: E402

CHUNK = 64 * 1024
SENTINEL = b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: BenchEnd\r\n\r\n"
ID_SUFFIXES = ("Uniqueid", "Linkedid", "UniqueId", "BridgeUniqueid")


def build_stream(target_events: int) -> tuple[bytes, int]:
    """All recorded events of every trace, repeated with fresh ids per round until `target_events`."""
    traces = sorted(p for p in (ROOT / "tests" / "traces").glob("*/*.jsonl")
                    if not p.name.endswith((".sim.jsonl", ".session2.jsonl")))
    # Shutdown (v-restart) would end the connection of both clients: it is left out.
    base = [entry.packet for path in traces for entry in read_trace(path)
            if entry.is_event and entry.packet.get("Event") != "Shutdown"]
    parts: list[bytes] = []
    count = 0
    round_no = 0
    while count < target_events:
        for packet in base:
            renamed = {
                k: (f"r{round_no}.{v}" if isinstance(v, str) and v and k.endswith(ID_SUFFIXES) else v)
                for k, v in packet.items()
            }
            if renamed.get("Variable") == "CC_CALL":
                renamed["Value"] = f"r{round_no}.{renamed['Value']}"
            parts.append(encode_message(renamed))
            count += 1
            if count == target_events:
                break
        round_no += 1
    parts.append(SENTINEL)
    return b"".join(parts), count


async def _serve(stream: bytes, started: asyncio.Future[float]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        sent_stream = False
        while True:
            try:
                block = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                return
            fields = dict(
                line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
            )
            action, action_id = fields.get("Action", ""), fields.get("ActionID", "")
            if action == "Login":
                writer.write(f"Response: Success\r\nActionID: {action_id}\r\n"
                             "Message: Authentication accepted\r\n\r\n".encode())
                writer.write(b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 5\r\n"
                             b"LastReload: 5\r\nStatus: Fully Booted\r\n\r\n")
            elif action in ("CoreShowChannels", "Status", "BridgeList"):
                complete = {"CoreShowChannels": "CoreShowChannelsComplete", "Status": "StatusComplete",
                            "BridgeList": "BridgeListComplete"}[action]
                writer.write(f"Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\n"
                             f"Message: will follow\r\n\r\nEvent: {complete}\r\nActionID: {action_id}\r\n"
                             "EventList: Complete\r\nListItems: 0\r\n\r\n".encode())
                if action == "BridgeList" and not sent_stream:
                    sent_stream = True
                    await writer.drain()
                    started.set_result(time.perf_counter())
                    for offset in range(0, len(stream), CHUNK):
                        writer.write(stream[offset:offset + CHUNK])
                        await writer.drain()
            elif action == "Ping":
                writer.write(f"Response: Success\r\nActionID: {action_id}\r\nPing: Pong\r\n"
                             "Timestamp: 1795354604.437716\r\n\r\n".encode())
            elif action == "Logoff":
                writer.write(f"Response: Goodbye\r\nActionID: {action_id}\r\n\r\n".encode())
            await writer.drain()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def ours(stream: bytes, expected: int, filtered: bool) -> float:
    """Seconds from the first byte sent to the last event through tracker and bus."""
    started: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()
    server = await _serve(stream, started)
    port = server.sockets[0].getsockname()[1]
    bus: EventBus[DomainEvent] = EventBus(default_maxsize=1_000_000)
    delivered = 0

    async def consumer(event: DomainEvent) -> None:
        nonlocal delivered
        delivered += 1

    bus.subscribe("bench", consumer)
    tracker = Tracker()
    pipeline = CtiPipeline(tracker, bus.publish_all)

    def on_event(packet: Any) -> None:
        pipeline.on_event(packet)
        if packet.get("UserEvent") == "BenchEnd":
            done.set()

    keep = event_filter(tracker.handled_events, tracker.tracked_variables) if filtered else None
    connection = AmiConnection("127.0.0.1", port, "bench", "bench", on_event=on_event,
                               on_ready=pipeline.on_ready, keepalive_interval=30, keepalive_timeout=30,
                               event_filter=keep)
    async with asyncio.TaskGroup() as group:
        bus_task = group.create_task(bus.run())
        conn_task = group.create_task(connection.run())
        await asyncio.wait_for(done.wait(), 300)
        await bus.drain()
        finished = time.perf_counter()
        await connection.close()
        conn_task.cancel()
        bus_task.cancel()
    server.close()
    await server.wait_closed()
    # every streamed event was delivered or skipped; + the per-login FullyBooted and the sentinel
    seen = pipeline.stats.events + connection.stats.events_skipped
    assert seen == expected + 2, seen
    return finished - started.result()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    stream, count = build_stream(args.events)
    gc.collect()
    baseline_s, baseline_events, _ = panoramisk_parse(stream, CHUNK)
    gc.collect()
    ours_nofilter_s = asyncio.run(ours(stream, count, filtered=False))
    gc.collect()
    ours_s = asyncio.run(ours(stream, count, filtered=True))
    ours_rate = count / ours_s
    baseline_rate = baseline_events / baseline_s
    print(f"events={count}")
    print(f"stream_mib={len(stream) / 2**20:.1f}")
    print(f"ours_nofilter_events_per_s={count / ours_nofilter_s:.0f}")
    print(f"ours_events_per_s={ours_rate:.0f}")
    print(f"panoramisk_parse_events_per_s={baseline_rate:.0f}")
    print(f"panoramisk_events_counted={baseline_events}")
    print(f"ratio_ours_over_panoramisk_parse={ours_rate / baseline_rate:.2f}")


if __name__ == "__main__":
    main()
