"""The FastAGI server on a real socket: Asterisk's bytes (s-agi-ivr), a hangup mid-command, hostile
peers (half-open, silent, garbage), hot reload that never replaces a flow with a broken one, and a whole
call on the simulated PBX running the shipped dialplan: the IVR sets CC_QUEUE, the caller waits there."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from callcenter.asterisk.render import load_dialplan
from callcenter.settings import AsteriskSettings, Settings
from callcenter.simulator.agi import FastAgiConnector
from callcenter.simulator.clock import LoopClock
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.people import AgentBehaviour, CallerBehaviour, People, Span
from cti.events import CallQueued
from cti.tracker import Tracker
from ivr.fastagi import FastAgiServer
from ivr.prompts import ASTERISK_SOUNDS, PromptStore
from ivr.registry import FlowRegistry
from ivr.services import NoServices

ROOT = Path(__file__).resolve().parent.parent
ENV = [
    "agi_network: yes", "agi_network_script: ivr", "agi_request: agi://127.0.0.1:4573/ivr",
    "agi_channel: PJSIP/pstn-in-00000014", "agi_language: en", "agi_type: PJSIP", "agi_uniqueid: 1795355275.23",
    "agi_version: 22.10.1", "agi_callerid: 5552007", "agi_calleridname: Sam Ivr", "agi_callingpres: 0",
    "agi_callingani2: 0", "agi_callington: 0", "agi_callingtns: 0", "agi_dnid: 8015550100", "agi_rdnis: unknown",
    "agi_context: cc-inbound", "agi_extension: 8015550100", "agi_priority: 6", "agi_enhanced: 0.0",
    "agi_accountcode: ", "agi_threadid: 140207439615680",
]
MENU = """\
name: menu
dnis: ["8015550100"]
start: hello
nodes:
  hello: {type: play, prompts: [hello-world], next: ask}
  ask:
    type: menu
    prompt: beep
    timeout: 3
    options: {"1": sales, "2": support}
    on_failure: support
  sales: {type: queue, queue: sales}
  support: {type: queue, queue: support}
"""


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[FastAgiServer]:
    (tmp_path / "menu.yaml").write_text(MENU)
    registry = FlowRegistry(tmp_path, prompt_exists=PromptStore(tmp_path / "prompts", ASTERISK_SOUNDS).exists)
    agi = FastAgiServer(registry, NoServices(), port=0, environment_timeout=0.3, answer_timeout=0.5)
    await agi.start()
    try:
        yield agi
    finally:
        await agi.stop()


async def _open(agi: FastAgiServer, env: list[str] = ENV) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", agi.port)
    writer.write("".join(f"{line}\n" for line in env).encode() + b"\n")
    return reader, writer


async def _expect(reader: asyncio.StreamReader, line: bytes) -> None:
    assert await asyncio.wait_for(reader.readline(), 2) == line


async def _closed(reader: asyncio.StreamReader) -> None:
    assert await asyncio.wait_for(reader.read(), 2) == b""


async def _menu_call(server: FastAgiServer, digit: int, queue: bytes) -> None:
    """One call through the menu flow as Asterisk sends it: the caller presses `digit`, lands in `queue`."""
    reader, writer = await _open(server)
    await _expect(reader, b"ANSWER\n")
    writer.write(b"200 result=0\n")
    await _expect(reader, b'STREAM FILE hello-world ""\n')
    writer.write(b"200 result=0 endpos=11234\n")
    await _expect(reader, b"GET DATA beep 3000 1\n")
    writer.write(b"200 result=%d\n" % digit)
    for name, value in [(b"CC_QUEUE", queue), (b"CC_SKILLS", b'""'), (b"CC_PRIORITY", b"0"),
                        (b"CC_IVR_OUTCOME", b"queue"), (b"CC_IVR_PATH", b"hello,ask," + queue)]:
        await _expect(reader, b"SET VARIABLE " + name + b" " + value + b"\n")
        writer.write(b"200 result=1\n")
    await _closed(reader)
    writer.close()


async def test_a_call_as_asterisk_sends_it(server: FastAgiServer) -> None:
    await _menu_call(server, 1, b"sales")
    assert server.stats.outcomes == {"queue": 1}


async def test_the_caller_hangs_up_during_get_data(server: FastAgiServer) -> None:
    """s-agi-ivr call 2: `200 result=-1`, then the HANGUP line; SET VARIABLE still works; we close."""
    reader, writer = await _open(server)
    await _expect(reader, b"ANSWER\n")
    writer.write(b"200 result=0\n")
    await _expect(reader, b'STREAM FILE hello-world ""\n')
    writer.write(b"200 result=0 endpos=11234\n")
    await _expect(reader, b"GET DATA beep 3000 1\n")
    writer.write(b"200 result=-1\n")
    await _expect(reader, b"SET VARIABLE CC_IVR_OUTCOME caller-hangup\n")
    writer.write(b"HANGUP\n200 result=1\n")
    await _expect(reader, b"SET VARIABLE CC_IVR_PATH hello,ask\n")
    writer.write(b"200 result=1\n")
    await _closed(reader)
    writer.close()
    assert server.stats.hangups == 1


async def test_a_511_after_a_hangup_between_commands_ends_the_flow(server: FastAgiServer) -> None:
    reader, writer = await _open(server)
    await _expect(reader, b"ANSWER\n")
    writer.write(b"HANGUP\n")  # the caller left while we were about to speak
    writer.write(b"200 result=0\n")
    await _expect(reader, b'STREAM FILE hello-world ""\n')
    writer.write(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    await _expect(reader, b"SET VARIABLE CC_IVR_OUTCOME caller-hangup\n")
    writer.write(b"200 result=1\n")
    await _expect(reader, b"SET VARIABLE CC_IVR_PATH hello\n")
    writer.write(b"200 result=1\n")
    await _closed(reader)
    writer.close()


async def test_a_half_closed_peer_is_closed_at_once(server: FastAgiServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\n")
    writer.write_eof()
    await _closed(reader)
    writer.close()
    await _until(lambda: not server._connections)


async def test_a_half_closed_peer_mid_call_is_closed(server: FastAgiServer) -> None:
    reader, writer = await _open(server)
    await _expect(reader, b"ANSWER\n")
    writer.write_eof()
    await _closed(reader)
    writer.close()
    await _until(lambda: server.stats.active == 0)


async def test_a_silent_peer_is_dropped_after_the_environment_timeout(server: FastAgiServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    await _closed(reader)
    writer.close()
    assert server.stats.dropped == 1


async def test_a_peer_that_stops_answering_is_dropped(server: FastAgiServer) -> None:
    reader, writer = await _open(server)
    await _expect(reader, b"ANSWER\n")
    await _closed(reader)  # answer_timeout 0.5 s
    writer.close()


@pytest.mark.parametrize("garbage", [b"hello there\n", b"x" * 10000, b"\xff\xfe\n"])
async def test_garbage_in_place_of_a_result_closes(server: FastAgiServer, garbage: bytes) -> None:
    reader, writer = await _open(server)
    await _expect(reader, b"ANSWER\n")
    writer.write(garbage)
    await _closed(reader)
    writer.close()


async def test_garbage_in_place_of_the_environment_closes(server: FastAgiServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await _closed(reader)
    writer.close()


async def test_no_flow_for_the_number_closes_without_a_command(server: FastAgiServer) -> None:
    env = [line if not line.startswith(("agi_extension", "agi_dnid")) else line.split(":")[0] + ": 999"
           for line in ENV]
    reader, _writer = await _open(server, env)
    await _closed(reader)
    _writer.close()
    assert server.stats.no_flow == 1


async def test_a_broken_edit_never_replaces_the_flow_in_service(tmp_path: Path) -> None:
    (tmp_path / "menu.yaml").write_text(MENU)
    registry = FlowRegistry(tmp_path)
    assert registry.reload()
    served = registry.flow_for("8015550100")
    (tmp_path / "menu.yaml").write_text(MENU.replace("on_failure: support", "on_failure: nowhere") + "\n")
    assert registry.changed()
    assert not registry.reload()
    assert registry.flow_for("8015550100") is served
    assert [str(p) for p in registry.problems[str(tmp_path / "menu.yaml")]] == [
        f"{tmp_path / 'menu.yaml'}:11:17: node 'ask': field 'on_failure' names node 'nowhere', which does not exist"]
    (tmp_path / "menu.yaml").write_text(MENU.replace("queue: sales}", "queue: sales2}"))
    assert registry.reload()
    assert registry.problems == {}
    assert registry.flow_for("8015550100") is not served
    (tmp_path / "other.yaml").write_text(MENU.replace("name: menu", "name: other"))  # the same DNIS again
    registry.reload()
    assert [p.message for p in registry.problems[str(tmp_path / "other.yaml")]] == [
        "DNIS 8015550100 is already served by flow 'menu'"]
    assert set(registry.flows) == {"menu"}


async def test_the_running_server_picks_up_a_changed_file(tmp_path: Path) -> None:
    (tmp_path / "menu.yaml").write_text(MENU)
    registry = FlowRegistry(tmp_path)
    agi = FastAgiServer(registry, NoServices(), port=0, reload_interval=0.02)
    task = asyncio.get_running_loop().create_task(agi.run())
    try:
        await _until(lambda: registry.generation == 1)
        (tmp_path / "menu.yaml").write_text(MENU.replace("queue: sales}", "queue: sales2}") + "# edited\n")
        await _until(lambda: registry.generation == 2)
        assert registry.flows["menu"].nodes["sales"].queue == "sales2"  # type: ignore[attr-defined]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_call_on_the_simulated_pbx_is_queued_where_the_ivr_says() -> None:
    """The shipped dialplan (cc-inbound → AGI ivr → cc-wait) and the shipped main flow: a bot caller
    presses 3 (billing) when the menu asks; the IVR leaves CC_QUEUE=billing; CCWaiting says billing."""
    registry = FlowRegistry(ROOT / "config" / "ivr")
    agi = FastAgiServer(registry, NoServices(), port=0)
    await agi.start()
    try:
        settings = Settings(asterisk=AsteriskSettings(fastagi_port=agi.port))
        pbx = Pbx(load_dialplan(settings, ROOT / "config" / "asterisk" / "extensions.conf"), LoopClock(20.0))
        pbx.agi_connector = FastAgiConnector()
        events: list[dict[str, str]] = []
        pbx.listeners.append(lambda event: events.append(dict(event)))
        people = People(pbx, random.Random(5))
        people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(600, 600), 0.0, Span(600, 600)))
        people.call(CallerBehaviour(dnis="8005550100", calls_per_minute=0, patience=Span(600, 600), digits="3",
                                    numbers=("5551234",)))
        await _until(lambda: any(e.get("UserEvent") == "CCWaiting" for e in events))
        waiting = next(e for e in events if e.get("UserEvent") == "CCWaiting")
        assert waiting["Queue"] == "billing"
        commands = [e["Command"] for e in events if e.get("Event") == "AGIExecStart"]
        assert commands == ["ANSWER", "GET DATA hello-world 5000 1", "SET VARIABLE CC_QUEUE billing",
                            "SET VARIABLE CC_SKILLS billing:40", "SET VARIABLE CC_PRIORITY 0",
                            "SET VARIABLE CC_IVR_OUTCOME queue",
                            "SET VARIABLE CC_IVR_PATH identify,hours,menu,billing"]
        agistatus = [e["Value"] for e in events if e.get("Event") == "VarSet" and e.get("Variable") == "AGISTATUS"]
        assert agistatus == ["SUCCESS"]
        tracker = Tracker()
        queued = [d for e in events for d in tracker.feed(e, 0.0) if isinstance(d, CallQueued)]
        assert [q.queue for q in queued] == ["billing"]
    finally:
        await agi.stop()


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
async def test_an_environment_in_pieces_or_with_crlf_is_read_the_same(server: FastAgiServer, ending: str) -> None:
    """The whole block in one read takes a fast path; in pieces, or with CR LF, it is read line by line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    data = ("".join(f"{line}{ending}" for line in ENV) + ending).encode()
    for n in range(0, len(data), 37):
        writer.write(data[n:n + 37])
        await writer.drain()
    await _expect(reader, b"ANSWER\n")
    writer.write(b"200 result=0\r\n")
    await _expect(reader, b'STREAM FILE hello-world ""\n')
    writer.close()


async def test_the_answer_deadline_follows_each_command(tmp_path: Path) -> None:
    """One timer per connection, moved on each command: a peer answering every command in time is never
    dropped, however long the whole call takes; one that stops answering is."""
    (tmp_path / "menu.yaml").write_text(MENU.replace("timeout: 3", "timeout: 0.1"))
    agi = FastAgiServer(FlowRegistry(tmp_path), NoServices(), port=0, answer_timeout=0.2)
    await agi.start()
    try:
        reader, writer = await _open(agi)
        await _expect(reader, b"ANSWER\n")
        waited = asyncio.Event()
        asyncio.get_running_loop().call_later(0.15, waited.set)  # most of the answer timeout
        await waited.wait()
        writer.write(b"200 result=0\n")
        await _expect(reader, b'STREAM FILE hello-world ""\n')
        waited.clear()
        asyncio.get_running_loop().call_later(0.15, waited.set)  # 0.3 s since the call began: still in time
        await waited.wait()
        writer.write(b"200 result=0 endpos=100\n")
        await _expect(reader, b"GET DATA beep 100 1\n")
        await _closed(reader)  # no answer within GET DATA's own 0.1 s + 0.2 s
        writer.close()
        assert agi.stats.dropped == 1
    finally:
        await agi.stop()


async def test_calls_whose_input_waits_for_a_later_slice_run_the_same(tmp_path: Path) -> None:
    """With no time to spare in a loop iteration (slice_budget 0) one connection's input is taken per
    iteration and the rest is held for the next: every call still gets its commands, in order."""
    (tmp_path / "menu.yaml").write_text(MENU)
    agi = FastAgiServer(FlowRegistry(tmp_path), NoServices(), port=0, slice_budget=0.0)
    await agi.start()

    try:
        await asyncio.gather(*(_menu_call(agi, 2, b"support") for _ in range(20)))
        assert agi.stats.outcomes == {"queue": 20}
        assert agi.stats.dropped == 0
    finally:
        await agi.stop()


async def test_an_environment_with_an_odd_line_is_read_line_by_line(server: FastAgiServer) -> None:
    """Plain `agi_name: value` lines take one regex pass; a block with any other line (no colon, blanks
    around the name) is read line by line, as before: still a call."""
    reader, writer = await _open(server, [*ENV, "agi_enhanced", " agi_arg_1 :x"])
    await _expect(reader, b"ANSWER\n")
    writer.close()
