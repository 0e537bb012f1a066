"""The simulated PBX: channels, bridges and hangups as Asterisk 22 makes them, with its AMI event stream.

It runs the real dialplan (`extensions.conf`, see `dialplan_runner.py`), so what it does is what our
shipped configuration makes a real Asterisk do. The people around it are outside: a trunk brings
callers (`inbound_call`), phones answer or not (`Phone`), the ACD moves calls with AMI actions
(`redirect`, `originate`, `bridge`, `hangup`, served by `ami_server.py`).

Every event shape and order here is taken from the recorded traces (../shared/asterisk-traces);
`tests/test_simulator_fidelity.py` replays each contract scenario through this class and compares.
Where two channels act "at once" in Asterisk (two threads), the order between their events varies
from run to run in the traces too; this class picks one of the recorded orders.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from callcenter.asterisk.dialplan import Dialplan
from callcenter.simulator.channels import (
    CAUSE_TEXT,
    STATE_DOWN,
    STATE_RING,
    STATE_UP,
    UNKNOWN,
    Bridge,
    Channel,
    Event,
)
from callcenter.simulator.clock import Scheduler, Timer
from callcenter.simulator.recording import Recorder
from cti import contract

if TYPE_CHECKING:
    from callcenter.simulator.agi import AgiConnector
    from callcenter.simulator.transfer import Features

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class Phone(Protocol):
    """A SIP phone behind an endpoint: told when it rings or stops ringing; it answers through the PBX."""

    def ringing(self, pbx: Pbx, channel: Channel) -> None: ...

    def stopped_ringing(self, pbx: Pbx, channel: Channel) -> None: ...


@dataclass
class Endpoint:
    """A PJSIP endpoint: its name (`agent1001`), context and caller id, and the phone registered to it."""

    name: str
    context: str
    cid_num: str
    cid_name: str
    phone: Phone | None = None  # None: no contact registered (Dial gives CHANUNAVAIL)


class ActionError(Exception):
    """An AMI action Asterisk refuses; the message is Asterisk's own."""


@dataclass
class Dialling:
    """An outgoing leg being rung: by a Dial() of `caller`, or by an Originate (caller None)."""

    leg: Channel
    caller: Channel | None
    timer: Timer | None = None
    answered: bool = False
    on_answer: Callable[[], None] | None = None
    on_fail: Callable[[int, int | None], None] | None = None  # (reason, tech_cause)
    callee_may_transfer: bool = False  # Dial's t: the bridge lets the dialled party transfer (Atxfer)


class Pbx:
    def __init__(self, dialplan: Dialplan, scheduler: Scheduler, *, trunk: str = contract.TRUNK_ENDPOINT,
                 sip_domain: str = "127.0.0.1", features: Features | None = None) -> None:
        from callcenter.simulator.dialplan_runner import DialplanRunner
        from callcenter.simulator.transfer import Features, Transfers

        self.dialplan = dialplan
        self.clock = scheduler
        self.trunk = trunk
        self.sip_domain = sip_domain
        self.endpoints: dict[str, Endpoint] = {}
        self.channels: dict[str, Channel] = {}  # by Uniqueid, creation order
        self.bridges: dict[str, Bridge] = {}
        self.listeners: list[Listener] = []
        self.runner = DialplanRunner(self)
        self.agi_connector: AgiConnector | None = None  # None: no FastAGI server (AGISTATUS=FAILURE)
        self.recorder = Recorder(None)  # MixMonitor: events always, WAV files when given a folder
        self.transfers = Transfers(self, features or Features())  # AMI Atxfer / CancelAtxfer (transfer.py)
        self.booted_at = scheduler.now()
        self._channel_numbers = itertools.count()
        self._uniqueid_numbers = itertools.count()
        self._local_numbers = itertools.count()

    # ---- events --------------------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        for listener in list(self.listeners):
            listener(event)

    def channel_event(self, name: str, channel: Channel, privilege: str = "call,all", **extra: str) -> None:
        self.emit({"Event": name, "Privilege": privilege, **channel.block(), **extra})

    def var_set(self, channel: Channel, name: str, value: str) -> None:
        channel.set_variable(name, value)
        self.channel_event("VarSet", channel, "dialplan,all", Variable=name, Value=value)

    # ---- channels ------------------------------------------------------------------------------------
    def new_channel(self, endpoint: str, *, context: str, exten: str, state: int, cid_num: str = UNKNOWN,
                    cid_name: str = UNKNOWN, linkedid: str | None = None, uniqueid: str | None = None) -> Channel:
        number = next(self._channel_numbers)
        sequence = next(self._uniqueid_numbers)
        uid = uniqueid or f"{int(self.clock.now())}.{sequence}"
        channel = Channel(name=f"PJSIP/{endpoint}-{number:08x}", uniqueid=uid, linkedid=linkedid or uid,
                          endpoint=endpoint, context=context, exten=exten, state=state, cid_num=cid_num,
                          cid_name=cid_name, created_at=self.clock.now())
        self.channels[uid] = channel
        self.channel_event("Newchannel", channel)
        return channel

    def new_local_pair(self, exten: str, context: str, *, linkedid: str) -> tuple[Channel, Channel]:
        """A Local channel pair, as an attended transfer makes one (e-atxfer): `;1` down, `;2` ringing, both at
        exten@context, numbered apart from the PJSIP channels, with the next two Uniqueids."""
        number = next(self._local_numbers)
        halves = []
        for half, state in ((1, STATE_DOWN), (2, STATE_RING)):
            uid = f"{int(self.clock.now())}.{next(self._uniqueid_numbers)}"
            halves.append(Channel(name=f"Local/{exten}@{context}-{number:08x};{half}", uniqueid=uid, linkedid=linkedid,
                                  endpoint="", context=context, exten=exten, state=state, created_at=self.clock.now()))
        for channel in halves:
            self.channels[channel.uniqueid] = channel
            self.channel_event("Newchannel", channel)
        return halves[0], halves[1]

    def find_channel(self, name_or_uniqueid: str) -> Channel | None:
        """By channel name or Uniqueid (AMI's Hangup accepts either, as t-resync shows)."""
        found = self.channels.get(name_or_uniqueid)
        if found is not None:
            return found
        return next((c for c in self.channels.values() if c.name == name_or_uniqueid), None)

    def set_state(self, channel: Channel, state: int) -> None:
        if channel.state != state:
            channel.state = state
            if state == STATE_UP and channel.answered_at is None:
                channel.answered_at = self.clock.now()
            self.channel_event("Newstate", channel)

    def set_connected(self, channel: Channel, num: str, name: str) -> None:
        channel.connected_num, channel.connected_name = num, name
        self.channel_event("NewConnectedLine", channel)

    # ---- the trunk: callers arrive and leave ---------------------------------------------------------
    def inbound_call(self, dnis: str, ani: str, name: str = "", *,
                     context: str = contract.INBOUND_CONTEXT) -> Channel:
        """A call from the trunk: a ringing channel in the inbound context, its dialplan started."""
        channel = self.new_channel(self.trunk, context=context, exten=dnis, state=STATE_RING, cid_num=ani,
                                   cid_name=name or UNKNOWN)
        channel.dnid = dnis
        self.var_set(channel, "SIPDOMAIN", self.sip_domain)
        self.runner.start(channel)
        return channel

    def remote_hangup(self, channel: Channel, cause: int = 16, *, with_cause: bool = True) -> None:
        """The far end hung up (a SIP BYE): Asterisk's HangupRequest, then the channel goes."""
        if channel.gone:
            return
        # p.3: a BYE from a channel that the Bridge action pulled in shows no Cause at all; e-atxfer: nor does
        # the BYE of a transferer talking to the transfer target
        moved = self.runner.in_action_bridge(channel) or self.transfers.consulting(channel)
        extra = {"Cause": str(cause)} if with_cause and not moved else {}
        self.channel_event("HangupRequest", channel, **extra)
        self.runner.far_end_gone(channel, cause)

    # ---- phones --------------------------------------------------------------------------------------
    def answer(self, channel: Channel) -> None:
        """The phone of an outgoing leg answered (200 OK)."""
        dialling = channel.dialled_by
        if channel.gone or not isinstance(dialling, Dialling) or dialling.answered:
            return
        dialling.answered = True
        if dialling.timer is not None:
            dialling.timer.cancel()
        self.set_state(channel, STATE_UP)
        if dialling.on_answer is not None:
            dialling.on_answer()

    def dtmf_begin(self, channel: Channel, digit: str) -> None:
        """The caller starts pressing a key (RFC 4733): s shows Begin, then End ~100 ms later."""
        self.channel_event("DTMFBegin", channel, "dtmf,all", Digit=digit, Direction="Received")

    def dtmf_end(self, channel: Channel, digit: str, duration_ms: int = 160) -> None:
        """The key is released: the digit reaches whatever listens (an AGI GET DATA)."""
        self.channel_event("DTMFEnd", channel, "dtmf,all", Digit=digit, DurationMs=str(duration_ms),
                           Direction="Received")
        self.runner.digit(channel, digit)

    def hold(self, channel: Channel, music_class: str = "default") -> None:
        """The phone put the call on hold (re-INVITE sendonly), w: Hold, BRIDGEPEER set again, then
        music for the peer."""
        self.channel_event("Hold", channel, MusicClass=music_class)
        self._peers_again(channel)
        for peer in self._bridge_peers_of(channel):
            self.channel_event("MusicOnHoldStart", peer, Class=music_class)

    def unhold(self, channel: Channel) -> None:
        self.channel_event("Unhold", channel)
        self._peers_again(channel)
        for peer in self._bridge_peers_of(channel):
            self.channel_event("MusicOnHoldStop", peer)

    def _peers_again(self, channel: Channel) -> None:
        bridge = channel.bridge
        if bridge is not None and len(bridge.channels) == 2:
            holder = bridge.channels.index(channel)
            self.bridge_peers(bridge, 1, order=(1 - holder, holder))

    def _bridge_peers_of(self, channel: Channel) -> list[Channel]:
        return [c for c in channel.bridge.channels if c is not channel] if channel.bridge else []

    def ring_endpoint(self, leg: Channel) -> None:
        endpoint = self.endpoints.get(leg.endpoint)
        if endpoint is not None and endpoint.phone is not None:
            endpoint.phone.ringing(self, leg)

    def stop_ringing(self, leg: Channel) -> None:
        endpoint = self.endpoints.get(leg.endpoint)
        if endpoint is not None and endpoint.phone is not None:
            endpoint.phone.stopped_ringing(self, leg)

    # ---- bridges -------------------------------------------------------------------------------------
    def new_bridge(self) -> Bridge:
        bridge = Bridge(str(uuid.uuid4()))
        self.bridges[bridge.uniqueid] = bridge
        self.emit({"Event": "BridgeCreate", "Privilege": "call,all", **bridge.block()})
        return bridge

    def enter_bridge(self, bridge: Bridge, channel: Channel, *, swapping: Channel | None = None) -> None:
        """`swapping`: the channel this one takes the place of (Local channel optimisation: SwapUniqueid)."""
        bridge.channels.append(channel)
        channel.bridge = bridge
        extra = {"SwapUniqueid": swapping.uniqueid} if swapping is not None else {}
        self.emit({"Event": "BridgeEnter", "Privilege": "call,all", **bridge.block(), **channel.block(), **extra})
        self.recorder.bridged(channel, self.clock.now())

    def bridge_peers(self, bridge: Bridge, rounds: int, order: tuple[int, int] = (0, 1)) -> None:
        """BRIDGEPEER / BRIDGEPVTCALLID, which Asterisk sets again at each bridge technology change."""
        if len(bridge.channels) != 2:
            return
        for _ in range(rounds):
            for index in order:
                self.set_peer(bridge.channels[index], bridge.channels[1 - index])

    def set_peer(self, channel: Channel, peer: Channel) -> None:
        """BRIDGEPEER, then BRIDGEPVTCALLID: the SIP Call-ID of the peer's dialog. A Local peer has none; then
        e-atxfer sets it to '' only on a channel that had one (a first peer that is Local sets nothing)."""
        self.var_set(channel, "BRIDGEPEER", peer.name)
        call_id = "" if peer.is_local else str(uuid.uuid5(uuid.NAMESPACE_URL, peer.name))
        if call_id or channel.variables.get("BRIDGEPVTCALLID"):
            self.var_set(channel, "BRIDGEPVTCALLID", call_id)

    def clear_peer(self, channel: Channel) -> None:
        """Leaving a two-party bridge: BRIDGEPEER '' and, if it had one, BRIDGEPVTCALLID '' (e-atxfer)."""
        self.var_set(channel, "BRIDGEPEER", "")
        if channel.variables.get("BRIDGEPVTCALLID"):
            self.var_set(channel, "BRIDGEPVTCALLID", "")

    def clear_bridge_peers(self, first: Channel) -> None:
        bridge = first.bridge
        if bridge is None or len(bridge.channels) != 2:
            return
        for channel in sorted(bridge.channels, key=lambda c: c is not first):
            self.clear_peer(channel)

    def leave_bridge(self, channel: Channel) -> Bridge | None:
        bridge = channel.bridge
        if bridge is None:
            return None
        bridge.channels.remove(channel)
        channel.bridge = None
        self.recorder.unbridged(channel, self.clock.now())
        self.emit({"Event": "BridgeLeave", "Privilege": "call,all", **bridge.block(), **channel.block()})
        return bridge

    def destroy_bridge(self, bridge: Bridge) -> None:
        if bridge.uniqueid in self.bridges:
            del self.bridges[bridge.uniqueid]
            self.emit({"Event": "BridgeDestroy", "Privilege": "call,all", **bridge.block()})

    # ---- the end of a channel ------------------------------------------------------------------------
    def destroy(self, channel: Channel, cause: int, *, tech_cause: int | None = None) -> None:
        """Asterisk's Hangup event; the channel is gone from every list."""
        if channel.gone:
            return
        channel.gone = True
        if channel.running is not None:
            channel.running.cancel()
            channel.running = None
        self.recorder.stop(self, channel, by_action=False)  # ended by the hangup: no MixMonitorStop
        self.runner.spyee_gone(channel)
        self.transfers.channel_gone(channel)
        extra = {"Cause": str(cause), "Cause-txt": CAUSE_TEXT.get(cause, "Unknown")}
        if tech_cause is not None:
            extra["TechCause"] = str(tech_cause)
        self.channel_event("Hangup", channel, **extra)
        self.channels.pop(channel.uniqueid, None)

    # ---- AMI actions ---------------------------------------------------------------------------------
    # Each action checks what Asterisk checks before answering, then acts just after its response, as
    # Asterisk's events follow the response (m: Redirect successful, then MusicOnHoldStop).
    def redirect(self, channel_name: str, context: str, exten: str, priority: str) -> None:
        channel = self.find_channel(channel_name)
        if channel is None:
            raise ActionError(f"Channel does not exist: {channel_name}")
        if not priority.isdigit():
            found = self.dialplan.resolve(context, exten, priority)
            if found is None:
                raise ActionError("Invalid priority")
            priority = str(found[2])
        self.clock.call_later(0, lambda: self.runner.redirect(channel, context, exten, int(priority)))

    def bridge(self, first_name: str, second_name: str) -> None:
        first, second = self.find_channel(first_name), self.find_channel(second_name)
        if first is None:
            raise ActionError(f"Channel1 does not exist: {first_name}")
        if second is None:
            raise ActionError(f"Channel2 does not exist: {second_name}")
        def join() -> None:
            self.runner.bridge_channels(first, second, kind="bridge-action")

        self.clock.call_later(0, join)

    def hangup(self, name_or_uniqueid: str, cause: int | None = None) -> None:
        channel = self.find_channel(name_or_uniqueid)
        if channel is None:
            raise ActionError("No such channel")
        self.clock.call_later(0, lambda: self.runner.hangup_requested(channel, cause))

    def atxfer(self, channel_name: str, exten: str, context: str) -> None:
        """The AMI Atxfer action: manager.c's checks and answers, then the feature code and the digits."""
        if not channel_name:
            raise ActionError("No channel specified")
        if not exten:
            raise ActionError("No extension specified")
        channel = self.find_channel(channel_name)
        if channel is None:
            raise ActionError("Channel specified does not exist")
        if not self.transfers.features.atxfer:
            raise ActionError("No attended transfer feature code found")
        self.clock.call_later(0, lambda: self.transfers.atxfer(channel, exten, context))

    def cancel_atxfer(self, channel_name: str) -> None:
        """The AMI CancelAtxfer action: the `atxferabort` feature code, queued on the transferer's channel."""
        if not channel_name:
            raise ActionError("No channel specified")
        channel = self.find_channel(channel_name)
        if channel is None:
            raise ActionError("Channel specified does not exist")
        if not self.transfers.features.atxferabort:
            raise ActionError("No disconnect feature code found")  # manager.c's words for this action too
        self.clock.call_later(0, lambda: self.transfers.cancel(channel))

    def mix_monitor(self, channel_name: str, file: str, options: str) -> None:
        channel = self.find_channel(channel_name)
        if channel is None:
            raise ActionError("No such channel")
        if not file:
            raise ActionError("No file specified")
        self.recorder.start(self, channel, file, options)

    def stop_mix_monitor(self, channel_name: str) -> None:
        channel = self.find_channel(channel_name)
        if channel is None:
            raise ActionError("No such channel")
        if not self.recorder.stop(self, channel, by_action=True):
            raise ActionError("Could not stop MixMonitor")

    def getvar(self, channel_name: str | None, name: str) -> str:
        if not channel_name:
            return self.dialplan.globals.get(name, "")
        channel = self.find_channel(channel_name)
        if channel is None:
            raise ActionError(f"Channel does not exist: {channel_name}")
        return self.runner.variable(channel, name)

    def setvar(self, channel_name: str | None, name: str, value: str) -> None:
        if not channel_name:
            self.dialplan.globals[name] = value
            return
        channel = self.find_channel(channel_name)
        if channel is None:
            raise ActionError(f"Channel does not exist: {channel_name}")
        self.var_set(channel, name, value)

    # ---- shutdown ------------------------------------------------------------------------------------
    def restart(self) -> None:
        """`core restart now`, as v-restart shows: ~10 ms later every channel is torn down (SoftHangupRequest
        4, then 16, music stops, Hangup 0); ~1.1 s later one Shutdown event; then a new process boots
        (`reboot`). The AMI server closes its sessions on the Shutdown event."""
        self.clock.call_later(0.01, self._tear_down)
        self.clock.call_later(1.1, self._shut_down)

    def _tear_down(self) -> None:
        for channel in list(self.channels.values()):
            if channel.gone:
                continue
            self.channel_event("SoftHangupRequest", channel, Cause="4")
            if channel.running is not None:
                channel.running.stop_for_hangup()
                channel.running = None
            self.channel_event("SoftHangupRequest", channel, Cause="16")
            if channel.bridge is not None:
                bridge = self.leave_bridge(channel)
                if bridge is not None and not bridge.channels:
                    self.destroy_bridge(bridge)
            self.destroy(channel, 0)

    def _shut_down(self) -> None:
        self.emit({"Event": "Shutdown", "Privilege": "system,all", "Shutdown": "Cleanly", "Restart": "True"})
        self.reboot()

    def reboot(self) -> None:
        """The new Asterisk process after a restart: no channels, counters from zero, uptime from now."""
        self.channels.clear()
        self.bridges.clear()
        self.transfers.clear()
        self.booted_at = self.clock.now()
        self._channel_numbers = itertools.count()
        self._uniqueid_numbers = itertools.count()
        self._local_numbers = itertools.count()

    def uptime(self) -> int:
        return int(self.clock.now() - self.booted_at)
