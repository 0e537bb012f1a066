"""Large AMI responses through AmiConnection: linear time, no event-loop stall.

    python bench/ami_large_message.py [--repeat 7]

A loopback AMI server answers an action with a 1 MiB and then a 2 MiB response written in 4 KiB
chunks (each read by the client as one chunk: the server yields twice between writes). Shapes are
those of Asterisk 22 (raw-actions.txt): a `Command` response, one message with one `Output:` header
per line (the worst case for a parser that rescans its buffer), and a CoreShowChannels list.

Measured: wall time from send() to its result (median of --repeat runs), the longest gap of a 1 ms
ticker on the same event loop during all runs, and panoramisk's AMIProtocol.data_received on the same
1 MiB and 2 MiB Command responses in the same chunks as a baseline (parse only, no network; each stopped
after --panoramisk-budget seconds): it joins and re-splits its whole buffer on every read, so its time
grows with the square of the size. Prints name=value lines, the ratio last. Targets:
ratio_2mib_over_1mib <= 2.2, max_loop_stall_ms < 10.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from panoramisk_baseline import panoramisk_parse  # noqa: E402

from cti.connection import AmiConnection  # noqa: E402
from cti.protocol import AmiPacket, AmiParser  # noqa: E402

CHUNK = 4096
MIB = 1024 * 1024
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
OUTPUT_LINE = ("PJSIP/agent{n:04d}-{n:08x}  cc-connect  agent1001  3  Up  Dial(PJSIP/agent1001,8,g)"
               "  5552010  00:00:{s:02d}  1795355292.{n}")
CHANNEL_ITEM = (
    "Event: CoreShowChannel\r\nActionID: {aid}\r\nChannel: PJSIP/pstn-in-{n:08x}\r\nChannelState: 6\r\n"
    "ChannelStateDesc: Up\r\nCallerIDNum: 5552010\r\nCallerIDName: Tom Talking\r\nConnectedLineNum: 1001\r\n"
    "ConnectedLineName: Agent One\r\nLanguage: en\r\nAccountCode: \r\nContext: cc-connect\r\n"
    "Exten: agent1001\r\nPriority: 3\r\nUniqueid: 1795355292.{n}\r\nLinkedid: 1795355292.{n}\r\n"
    "Application: Dial\r\nApplicationData: PJSIP/agent1001,8,g\r\nDuration: 00:00:04\r\n"
    "BridgeId: fcad7539-76cd-49c2-8500-{n:012x}\r\n\r\n"
)


def command_response(action_id: str, size: int) -> bytes:
    head = (f"Response: Success\r\nActionID: {action_id}\r\nMessage: Command output follows\r\n").encode()
    lines = []
    total = len(head) + 2
    n = 0
    while total < size:
        line = f"Output: {OUTPUT_LINE.format(n=n, s=n % 60)}\r\n"
        lines.append(line)
        total += len(line)
        n += 1
    return head + "".join(lines).encode() + b"\r\n"


def list_response(action_id: str, size: int) -> bytes:
    parts = [f"Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\n"
             "Message: Channels will follow\r\n\r\n"]
    total = len(parts[0])
    n = 0
    while total < size - 100:
        item = CHANNEL_ITEM.format(aid=action_id, n=n)
        parts.append(item)
        total += len(item)
        n += 1
    parts.append(f"Event: CoreShowChannelsComplete\r\nActionID: {action_id}\r\nEventList: Complete\r\n"
                 f"ListItems: {n}\r\n\r\n")
    return "".join(parts).encode()


class Server:
    """Answers Login (+ FullyBooted), Ping, Logoff, and the prepared large responses by ActionID."""

    def __init__(self, payloads: dict[str, bytes]) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.payloads = payloads  # ActionID -> response bytes, built before the clock starts

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = AmiParser(kinds=("Action",), expect_banner=False)
        writer.write(BANNER)
        try:
            while data := await reader.read(65536):
                for action in parser.feed(data):
                    await self._answer(action, writer)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(self, action: AmiPacket, writer: asyncio.StreamWriter) -> None:
        name, aid = action.get("Action"), str(action.get("ActionID", ""))
        if name == "Login":
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nMessage: Authentication accepted\r\n\r\n"
                         "Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 93\r\nLastReload: 93\r\n"
                         "Status: Fully Booted\r\n\r\n".encode())
        elif name == "Ping":
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n"
                         f"Timestamp: {time.time():.6f}\r\n\r\n".encode())
        elif name == "Logoff":
            writer.write(f"Response: Goodbye\r\nActionID: {aid}\r\nMessage: Thanks for all the fish.\r\n\r\n"
                         .encode())
        elif aid in self.payloads:
            payload = self.payloads[aid]
            for offset in range(0, len(payload), CHUNK):
                writer.write(payload[offset:offset + CHUNK])
                # Two loop iterations: the client reads this chunk alone before the next is written.
                await asyncio.sleep(0)
                await asyncio.sleep(0)
        await writer.drain()


async def run_ours(repeat: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    plan = [(f"{shape}-{mib}-{n}", shape, mib) for n in range(repeat) for shape in ("command", "list")
            for mib in (1, 2)]
    server = Server({aid: (command_response if shape == "command" else list_response)(aid, mib * MIB)
                     for aid, shape, mib in plan})
    await server.start()
    ready = asyncio.Event()

    async def on_ready(_: AmiConnection) -> None:
        ready.set()

    conn = AmiConnection("127.0.0.1", server.port, "bench", "bench", on_event=lambda _: None,
                         on_ready=on_ready, keepalive_interval=30, keepalive_timeout=30, action_timeout=60)
    max_gap = 0.0
    ticking = True

    async def ticker() -> None:
        nonlocal max_gap
        last = loop.time()
        while ticking:
            await asyncio.sleep(0.001)
            now = loop.time()
            max_gap = max(max_gap, now - last)
            last = now

    results: dict[str, list[float]] = {}
    # The answers stay alive until the ticker stops: freeing 2 MiB of packets is the consumer's
    # cost, not the connection's (a few ms of deallocation).
    answers: list[object] = []
    async with asyncio.TaskGroup() as group:
        run_task = group.create_task(conn.run())
        await asyncio.wait_for(ready.wait(), 10)
        tick_task = group.create_task(ticker())
        for aid, shape, mib in plan:
            begin = time.perf_counter()
            if shape == "command":
                response = await conn.send({"Action": "Command", "ActionID": aid,
                                            "Command": "core show channels concise"})
                assert len(response["Output"]) > 1000
                answers.append(response)
            else:
                result = await conn.send_list({"Action": "CoreShowChannels", "ActionID": aid})
                assert len(result.items) > 1000
                answers.append(result)
            results.setdefault(f"{shape}_{mib}", []).append(time.perf_counter() - begin)
        ticking = False
        await tick_task
        answers.clear()
        await conn.close()
        await run_task
    await server.stop()
    out = {key: statistics.median(values) * 1000 for key, values in results.items()}
    out["max_gap"] = max_gap * 1000
    out["protocol_errors"] = conn.stats.protocol_errors
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--panoramisk-budget", type=float, default=60.0)
    args = parser.parse_args()
    ours = asyncio.run(run_ours(args.repeat))
    gc.collect()
    baseline_1mib_s, _, _ = panoramisk_parse(command_response("bench-1", MIB), CHUNK, args.panoramisk_budget)
    gc.collect()
    baseline_s, _, completed = panoramisk_parse(command_response("bench-2", 2 * MIB), CHUNK, args.panoramisk_budget)
    print(f"chunk_bytes={CHUNK}")
    print(f"list_parse_1mib_ms={ours['list_1']:.1f}")
    print(f"list_parse_2mib_ms={ours['list_2']:.1f}")
    print(f"list_ratio_2mib_over_1mib={ours['list_2'] / ours['list_1']:.2f}")
    print(f"protocol_errors={ours['protocol_errors']:.0f}")
    print(f"parse_1mib_ms={ours['command_1']:.1f}")
    print(f"parse_2mib_ms={ours['command_2']:.1f}")
    print(f"max_loop_stall_ms={ours['max_gap']:.1f}")
    print(f"panoramisk_completed={'yes' if completed else 'no (budget exhausted)'}")
    print(f"panoramisk_parse_1mib_ms={baseline_1mib_s * 1000:.1f}")
    print(f"panoramisk_parse_2mib_ms={baseline_s * 1000:.1f}")
    print(f"panoramisk_ratio_2mib_over_1mib={baseline_s / baseline_1mib_s:.2f}")
    print(f"ratio_2mib_over_1mib={ours['command_2'] / ours['command_1']:.2f}")


if __name__ == "__main__":
    main()
