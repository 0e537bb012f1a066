"""AmiConnection against the scriptable fake AMI server (tests/fake_ami.py)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fake_ami import FakeAmi, FakeSession, replies_from_trace

from cti.connection import AmiBackpressure, AmiConnection, AmiDisconnected, AmiError
from cti.protocol import AmiPacket, encode_action

WAIT = 3.0  # bound of every wait for something that should happen promptly


class Client:
    """An AmiConnection whose callbacks feed queues the test can await."""

    def __init__(self, port: int, secret: str = "ccsecret", *,
                 on_event: Callable[[AmiPacket], None] | None = None, **options: Any) -> None:
        self.events: asyncio.Queue[AmiPacket] = asyncio.Queue()
        self.readies: asyncio.Queue[float] = asyncio.Queue()
        self.downs: asyncio.Queue[tuple[float, str]] = asyncio.Queue()
        self.conn = AmiConnection("127.0.0.1", port, "cc", secret,
                                  on_event=on_event or self.events.put_nowait,
                                  on_ready=self._on_ready, on_down=self._on_down, **options)

    async def _on_ready(self, conn: AmiConnection) -> None:
        self.readies.put_nowait(asyncio.get_running_loop().time())

    def _on_down(self, reason: str) -> None:
        self.downs.put_nowait((asyncio.get_running_loop().time(), reason))

    async def event(self, name: str) -> AmiPacket:
        """The next event called `name` (earlier ones are skipped)."""
        async def find() -> AmiPacket:
            while True:
                packet = await self.events.get()
                if packet.get("Event") == name:
                    return packet
        return await asyncio.wait_for(find(), WAIT)

    def drain_events(self) -> list[AmiPacket]:
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out


@asynccontextmanager
async def running(client: Client) -> AsyncIterator[Client]:
    task = asyncio.create_task(client.conn.run())
    try:
        yield client
    finally:
        await client.conn.close()
        await asyncio.wait_for(task, WAIT)


async def until(predicate: Callable[[], bool], bound: float = WAIT) -> None:
    """Poll a condition, failing after `bound` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    async with FakeAmi() as server:
        yield server


async def test_login_then_ready_after_fully_booted(fake: FakeAmi) -> None:
    async with running(Client(fake.port)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        assert client.conn.ready and client.conn.connected
        assert client.conn.banner == "Asterisk Call Manager/11.0.0"
        login = await asyncio.wait_for(fake.actions.get(), WAIT)
        assert login["Action"] == "Login" and login["Username"] == "cc" and login["Events"] == "on"
        assert (await client.event("FullyBooted"))["Status"] == "Fully Booted"
        await client.event("SuccessfulAuth")
        assert client.conn.stats.logins == 1 and client.conn.stats.reconnects == 0
    assert not client.conn.connected
    assert client.downs.empty()  # close() is not a loss
    assert (await asyncio.wait_for(fake.actions.get(), WAIT))["Action"] == "Logoff"


async def test_wrong_secret_logs_an_error_and_backs_off(fake: FakeAmi,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    attempts: list[float] = []
    client = Client(fake.port, "wrong", backoff_initial=0.05, backoff_max=0.4)
    async with running(client):
        while len(attempts) < 4:
            action = await asyncio.wait_for(fake.actions.get(), WAIT)
            assert action["Action"] == "Login"
            attempts.append(loop.time())
        assert not client.conn.ready and client.readies.empty()
    assert client.conn.stats.auth_failures >= 3
    assert "Authentication failed" in (client.conn.stats.last_error or "")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "refused: Authentication failed" in errors[0].getMessage()
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # jitter keeps each pause in [d/2, d], d doubling from backoff_initial: no tight loop
    for n, gap in enumerate(gaps, start=1):
        assert gap >= 0.05 * 2 ** (n - 1) / 2 * 0.9, gaps


async def test_send_matches_responses_by_action_id_with_events_interleaved(fake: FakeAmi) -> None:
    waiting: list[tuple[FakeSession, AmiPacket]] = []

    def originate(session: FakeSession, action: AmiPacket) -> None:
        waiting.append((session, action))
        if len(waiting) < 2:
            return
        (first_session, first), (_, second) = waiting
        # Answer the second action first; events around and between the responses; the async
        # Originate's OriginateResponse (an event with a Response header) after the next response.
        first_session.send(
            {"Event": "Newchannel", "Uniqueid": "1.1"},
            {"Response": "Success", "ActionID": str(second["ActionID"]),
             "Message": "Originate successfully queued"},
            {"Event": "OriginateResponse", "Privilege": "call,all", "ActionID": str(second["ActionID"]),
             "Response": "Failure", "Channel": "PJSIP/agent1004", "Reason": "0", "Uniqueid": "<unknown>"},
            {"Response": "Success", "ActionID": str(first["ActionID"]),
             "Message": "Originate successfully queued"},
            {"Event": "Hangup", "Uniqueid": "1.1"},
        )

    fake.handlers["Originate"] = originate
    async with running(Client(fake.port)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        client.drain_events()
        first = asyncio.create_task(client.conn.send({"Action": "Originate", "Channel": "PJSIP/agent1001"}))
        await until(lambda: len(waiting) == 1)
        second = client.conn.send({"Action": "Originate", "Channel": "PJSIP/agent1004", "ActionID": "mine-7"})
        second_response = await asyncio.wait_for(second, WAIT)
        first_response = await asyncio.wait_for(first, WAIT)
        assert second_response["ActionID"] == "mine-7"
        assert first_response["ActionID"] == waiting[0][1]["ActionID"] != "mine-7"
        await client.event("Hangup")
        # all three events went to on_event, in wire order; no response did
        assert client.conn.stats.events_received == 2 + 3  # FullyBooted, SuccessfulAuth + these

        with pytest.raises(AmiError) as failed:
            await client.conn.send({"Action": "NoSuchAction"})
        assert failed.value.response["Response"] == "Error"
        assert str(failed.value).startswith("Invalid/unknown command: NoSuchAction.")
        ping = await client.conn.send({"Action": "Ping"})
        assert ping["Ping"] == "Pong"


async def test_originate_response_reaches_on_event(fake: FakeAmi) -> None:
    def originate(session: FakeSession, action: AmiPacket) -> None:
        session.send({"Response": "Success", "ActionID": str(action["ActionID"]),
                      "Message": "Originate successfully queued"},
                     {"Event": "OriginateResponse", "Privilege": "call,all",
                      "ActionID": str(action["ActionID"]), "Response": "Success",
                      "Channel": "PJSIP/agent1001-0000000f", "Reason": "4"})

    fake.handlers["Originate"] = originate
    async with running(Client(fake.port)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        response = await client.conn.send(
            {"Action": "Originate", "Channel": "PJSIP/agent1001", "Async": "true"})
        event = await client.event("OriginateResponse")
        assert event["ActionID"] == response["ActionID"] and event["Response"] == "Success"


async def test_send_list_collects_items_while_live_events_flow(fake: FakeAmi) -> None:
    canned = replies_from_trace()["CoreShowChannels"]
    assert len(canned.items) == 5

    def core_show_channels(session: FakeSession, action: AmiPacket) -> None:
        packets = canned.packets(str(action["ActionID"]))
        live = [{"Event": "VarSet", "Uniqueid": f"9.{n}", "Variable": "X", "Value": str(n)} for n in range(3)]
        # response, item, live, item, item, live, item, item, live, Complete: one write each
        for packet in [packets[0], packets[1], live[0], *packets[2:4], live[1], *packets[4:6], live[2],
                       packets[6]]:
            session.send(packet)

    fake.handlers["CoreShowChannels"] = core_show_channels
    async with running(Client(fake.port)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        result = await asyncio.wait_for(client.conn.send_list({"Action": "CoreShowChannels"}), WAIT)
        assert result.response["Message"] == "Channels will follow"
        assert result.response["EventList"] == "start"
        assert [item["Event"] for item in result.items] == ["CoreShowChannel"] * 5
        assert [item["Channel"] for item in result.items] == [i["Channel"] for i in canned.items]
        assert all(item["ActionID"] == result.response["ActionID"] for item in result.items)
        assert result.complete is not None and result.complete["ListItems"] == "5"
        await client.event("VarSet")
        live = [e for e in client.drain_events() if e.get("Event") == "VarSet"]
        assert len(live) == 2  # the other two, after the first one awaited above
        assert client.conn.stats.list_items_received == 5

        # The three list actions of a resync, with the real shapes of t-resync.
        status = await client.conn.send_list({"Action": "Status", "AllVariables": "true"})
        assert status.complete is not None and status.complete["Items"] == "5"
        waiting = next(i for i in status.items if i["Context"] == "cc-wait")
        assert waiting["Variable"] == ["CC_STATE=waiting", "CC_QUEUE=support", "CC_DNIS=8005550100",
                                       "SIPDOMAIN=127.0.0.1"]
        bridges = await client.conn.send_list({"Action": "BridgeList"})
        assert [b["BridgeTechnology"] for b in bridges.items] == ["native_rtp"]
        with pytest.raises(AmiError):
            await client.conn.send_list({"Action": "NoSuchList"})


async def test_drop_fails_the_pending_action_then_reconnects_and_resyncs(fake: FakeAmi) -> None:
    fake.mute.add("Hangup")
    async with running(Client(fake.port)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        pending = asyncio.create_task(client.conn.send({"Action": "Hangup", "Channel": "1795355292.29"}))
        await until(lambda: any(s.parser.buffered == 0 for s in fake.sessions) and fake.actions.qsize() >= 2)
        fake.drop()
        with pytest.raises(AmiDisconnected):
            await asyncio.wait_for(pending, WAIT)
        _, reason = await asyncio.wait_for(client.downs.get(), WAIT)
        assert "EOF" in reason or "lost" in reason
        await asyncio.wait_for(client.readies.get(), WAIT)  # on_ready again on the new link
        assert client.conn.stats.reconnects == 1 and fake.logins == 2
        assert (await client.conn.send({"Action": "Ping"}))["Ping"] == "Pong"


async def test_half_open_peer_is_detected_within_3_seconds(fake: FakeAmi) -> None:
    loop = asyncio.get_running_loop()
    client = Client(fake.port)  # default keep-alive: Ping after 1 s idle, dead 2 s after the Ping
    async with running(client):
        await asyncio.wait_for(client.readies.get(), WAIT)
        # Detection is bounded from the last byte received (interval + timeout); the peer goes
        # silent some time after that byte, as a real one does.
        await until(lambda: loop.time() - (client.conn.stats.last_rx_at or 0) >= 0.2)
        silent_since = loop.time()
        fake.go_silent()
        pending = asyncio.create_task(client.conn.send({"Action": "Getvar", "Variable": "CC_QUEUE"}))
        down_at, reason = await asyncio.wait_for(client.downs.get(), 5.0)
        detection = down_at - silent_since
        assert detection < 3.0, detection
        assert "half-open" in reason
        with pytest.raises(AmiDisconnected):
            await asyncio.wait_for(pending, WAIT)
        assert client.conn.stats.keepalive_timeouts == 1
        await asyncio.wait_for(client.readies.get(), WAIT)  # reconnected to the (still listening) fake
        assert client.conn.ready


async def test_keepalive_pings_an_idle_link_and_keeps_it(fake: FakeAmi) -> None:
    client = Client(fake.port, keepalive_interval=0.05, keepalive_timeout=0.5)
    async with running(client):
        await asyncio.wait_for(client.readies.get(), WAIT)
        pings = 0
        while pings < 3:
            action = await asyncio.wait_for(fake.actions.get(), WAIT)
            pings += action["Action"] == "Ping"
        assert client.conn.ready and client.conn.stats.keepalive_timeouts == 0
        assert client.downs.empty()


async def test_shutdown_then_eof_reconnects_and_waits_for_a_late_fully_booted(fake: FakeAmi) -> None:
    """v-restart: Shutdown, EOF; a reconnect accepted then reset, one refused, then a Login that
    succeeds before boot has finished; the broadcast FullyBooted comes later."""
    async with running(Client(fake.port, backoff_initial=0.05)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        connections = fake.connections
        fake.reset_new_connections = True
        fake.shutdown(restart=True)
        shutdown = await client.event("Shutdown")
        assert shutdown["Restart"] == "True"
        _, reason = await asyncio.wait_for(client.downs.get(), WAIT)
        assert "shut down" in reason
        await until(lambda: fake.connections > connections)  # accepted, then reset
        await fake.refuse_connections()
        await until(lambda: "cannot connect" in (client.conn.stats.last_error or ""))
        fake.reset_new_connections = False
        await fake.accept_connections()
        await until(lambda: client.conn.connected)  # logged in, but Asterisk has not booted yet
        assert not client.conn.ready and client.readies.empty()
        fake.finish_boot()
        await asyncio.wait_for(client.readies.get(), WAIT)
        booted = await client.event("FullyBooted")
        assert booted["Uptime"] == "0" and client.conn.ready
        assert client.conn.stats.logins == 2 and client.downs.empty()  # failed attempts: no on_down


async def test_ready_anyway_when_fully_booted_never_comes(fake: FakeAmi,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    fake.booted = False
    async with running(Client(fake.port, boot_timeout=0.2)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        assert client.conn.ready
    assert any("no FullyBooted" in r.getMessage() for r in caplog.records)


async def test_garbage_is_counted_and_later_events_still_arrive(fake: FakeAmi) -> None:
    async with running(Client(fake.port)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        fake.send_raw(b"\x00\xffnot a header\r\nNoKind: here\r\n\r\n")
        fake.send_raw(b"Response: Success\r\nActionID: nobody\r\n\r\n")  # a response for no one
        fake.push_event({"Event": "Newchannel", "Uniqueid": "1795355292.27", "CallerIDName": "Zoë"})
        event = await client.event("Newchannel")
        assert event["CallerIDName"] == "Zoë"
        assert client.conn.stats.protocol_errors >= 2
        assert client.conn.ready and fake.logins == 1


async def test_on_event_raising_is_counted_and_the_connection_stays(fake: FakeAmi) -> None:
    delivered: asyncio.Queue[str] = asyncio.Queue()

    def on_event(packet: AmiPacket) -> None:
        if packet.get("Event") == "Boom":
            raise RuntimeError("handler bug")
        delivered.put_nowait(str(packet.get("Event")))

    async with running(Client(fake.port, on_event=on_event)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        fake.push_event({"Event": "Boom"}, {"Event": "After"})
        while await asyncio.wait_for(delivered.get(), WAIT) != "After":
            pass
        assert client.conn.stats.callback_errors == 1
        assert client.conn.ready and fake.logins == 1


async def test_send_needs_a_link_and_times_out(fake: FakeAmi) -> None:
    client = Client(fake.port, action_timeout=0.2)
    with pytest.raises(AmiDisconnected):
        await client.conn.send({"Action": "Ping"})
    fake.mute.add("Getvar")
    async with running(client):
        await asyncio.wait_for(client.readies.get(), WAIT)
        with pytest.raises(TimeoutError):
            await client.conn.send({"Action": "Getvar", "Variable": "CC_QUEUE"})
        assert (await client.conn.send({"Action": "Ping"}))["Ping"] == "Pong"  # link still fine


async def test_a_peer_that_never_reads_makes_send_fail_by_timeout(fake: FakeAmi) -> None:
    limit = 256 * 1024
    client = Client(fake.port, write_buffer_limit=limit, action_timeout=0.5,
                    keepalive_interval=30, keepalive_timeout=30)
    async with running(client):
        await asyncio.wait_for(client.readies.get(), WAIT)
        fake.go_silent()
        big = {"Action": "Originate", "Channel": "PJSIP/agent1001", "Variable": ["V=" + "x" * 1000] * 64}
        sends = [asyncio.create_task(client.conn.send(big)) for _ in range(1000)]  # 66 MB in all
        results = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), WAIT)
        # Written ones wait in vain for their Response; the rest were never written.
        assert all(isinstance(r, TimeoutError) for r in results), {type(r) for r in results}
        assert any(isinstance(r, AmiBackpressure) for r in results)
        assert client.conn.stats.write_buffer_peak <= limit + len(encode_action(big))
        assert client.conn.connected  # a slow reader is not a dead link


async def test_a_slow_reader_gets_every_action_once_it_reads_again(fake: FakeAmi) -> None:
    limit = 64 * 1024
    client = Client(fake.port, write_buffer_limit=limit, keepalive_interval=30, keepalive_timeout=30)
    async with running(client):
        await asyncio.wait_for(client.readies.get(), WAIT)
        fake.go_silent()
        big = {"Action": "Originate", "Channel": "PJSIP/agent1001", "Variable": ["V=" + "x" * 1000] * 64}
        sends = [asyncio.create_task(client.conn.send(big)) for _ in range(200)]  # 13 MB
        await until(lambda: client.conn.stats.write_buffer_peak >= limit)  # writers are now waiting
        fake.wake_up()
        responses = await asyncio.wait_for(asyncio.gather(*sends), WAIT)
        assert {r["Message"] for r in responses} == {"Originate successfully queued"}
        assert len({r["ActionID"] for r in responses}) == 200
        assert client.conn.stats.write_buffer_peak <= limit + len(encode_action(big))


async def test_list_items_of_a_plain_send_are_not_live_events(fake: FakeAmi) -> None:
    async with running(Client(fake.port)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        response = await client.conn.send({"Action": "CoreShowChannels"})
        assert response["EventList"] == "start"
        fake.push_event({"Event": "Hangup", "Uniqueid": "1795355292.27"})
        names = []
        while not names or names[-1] != "Hangup":
            names.append(str((await asyncio.wait_for(client.events.get(), WAIT)).get("Event")))
        assert not [n for n in names if n.startswith("CoreShowChannel")], names
        assert client.conn.stats.list_items_received == 5


async def test_a_server_that_drops_right_after_login_is_not_hammered(fake: FakeAmi) -> None:
    client = Client(fake.port, backoff_initial=0.05, backoff_max=0.4)
    readies = []
    async with running(client):
        for _ in range(4):
            readies.append(await asyncio.wait_for(client.readies.get(), WAIT))
            fake.drop()
    gaps = [b - a for a, b in itertools.pairwise(readies)]
    for n, gap in enumerate(gaps, start=1):  # each session was ready, but too briefly to reset
        assert gap >= 0.05 * 2 ** (n - 1) / 2 * 0.9, gaps


async def test_run_twice_is_refused_and_close_is_idempotent(fake: FakeAmi) -> None:
    async with running(Client(fake.port)) as client:
        await asyncio.wait_for(client.readies.get(), WAIT)
        with pytest.raises(RuntimeError):
            await client.conn.run()
    await client.conn.close()
