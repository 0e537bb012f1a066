"""The call tracker: AMI events in, domain events out. Pure: no I/O, no clock (`now` is passed in).

Channels are keyed by Uniqueid and calls by Linkedid, never by channel name (names change on
masquerade and Local-channel optimisation). The rules below come from recorded Asterisk 22 traces
(tests/traces); each quirk they rely on is named where it is handled.

A call is "connected" while its caller leg shares a bridge with an agent leg, directly or through a
Local channel pair; it is "held" while the caller hears music on hold inside a bridge. Talk and hold
times integrate those two states over time, so every path that changes them (hold, consultation,
attended transfer, redirect) is measured the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePosixPath

from cti import contract
from cti.bridges import BridgeGraph
from cti.consultations import Consultations
from cti.events import (
    AgentDisconnected,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallHeld,
    CallOffered,
    CallQueued,
    CallResumed,
    CallStarted,
    CallTransferred,
    DigitsReceived,
    DisconnectReason,
    DomainEvent,
    OfferUnanswered,
    OriginateFailed,
    PbxBooted,
    PbxShutdown,
    QueueSource,
    RecordingStarted,
    RecordingStopped,
    SpyStarted,
    SpyStopped,
)
from cti.model import Call, Channel, ChannelBlock, TrackerConfig, agent_of_interface, endpoint_of
from cti.records import Direction, LegRole, LiveCall, Transfer, TransferKind
from cti.snapshot import PbxSnapshot

log = logging.getLogger(__name__)

AmiEvent = Mapping[str, str | list[str]]
Handler = Callable[[AmiEvent, float], None]

TRACKED_VARIABLES = frozenset(
    {contract.VAR_CALL, contract.VAR_QUEUE, contract.VAR_DNIS, contract.VAR_MIXMONITOR_FILENAME,
     contract.IVR_VAR_PRIORITY, contract.IVR_VAR_SKILLS, contract.IVR_VAR_CUSTOMER, contract.IVR_VAR_PREFERRED_AGENT,
     contract.IVR_VAR_IVR_PATH, contract.VAR_ATTENDED_TRANSFER}
)
# What the IVR leaves on the caller for the ACD and the screen pop (read from VarSet live, from Status after a
# resync).
IVR_ROUTING_VARIABLES = frozenset({contract.IVR_VAR_PRIORITY, contract.IVR_VAR_SKILLS, contract.IVR_VAR_CUSTOMER,
                                   contract.IVR_VAR_PREFERRED_AGENT, contract.IVR_VAR_IVR_PATH})

# Asterisk marks absent caller ids and unknown ids this way (QueueEntry says `unknown`).
_UNKNOWN = frozenset({"", "<unknown>", "unknown"})

RECENT_HANGUPS_KEPT = 10_000  # far more channels than end during one resync
CHANNEL_STATE_RING = "4"
CHANNEL_STATE_UP = "6"


def _text(event: AmiEvent, key: str, prefix: str = "") -> str:
    value = event.get(prefix + key, "")
    return value[-1] if isinstance(value, list) else value


def _known(value: str) -> str | None:
    return None if value in _UNKNOWN else value


def _set_routing(call: Call, name: str, value: str) -> None:
    """CC_PRIORITY (an integer; anything else counts as 0), CC_SKILLS, CC_CUSTOMER, CC_PREFERRED_AGENT and
    CC_IVR_PATH (empty: none)."""
    if name == contract.IVR_VAR_PRIORITY:
        call.priority = int(value) if value.strip().lstrip("-").isdigit() else 0
    elif name == contract.IVR_VAR_SKILLS:
        call.skills = value or None
    elif name == contract.IVR_VAR_CUSTOMER:
        call.customer = value or None
    elif name == contract.IVR_VAR_PREFERRED_AGENT:
        call.preferred_agent = value or None
    elif name == contract.IVR_VAR_IVR_PATH:
        call.ivr_path = value or None


def _block(event: AmiEvent, prefix: str = "") -> ChannelBlock:
    uid = _text(event, "Uniqueid", prefix)
    return ChannelBlock(
        uniqueid=uid,
        name=_text(event, "Channel", prefix),
        linkedid=_text(event, "Linkedid", prefix) or uid,
        context=_text(event, "Context", prefix),
        exten=_text(event, "Exten", prefix),
        state=_text(event, "ChannelState", prefix),
        caller_num=_text(event, "CallerIDNum", prefix),
        caller_name=_text(event, "CallerIDName", prefix),
    )


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


class Tracker:
    """Feed it every AMI event in wire order; it returns the domain events each one causes."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.channels: dict[str, Channel] = {}
        self.calls: dict[str, Call] = {}
        self.bridges = BridgeGraph()
        self.consultations = Consultations()  # attended transfers in progress (AMI Atxfer)
        self._out: list[DomainEvent] = []
        self.ignored_events = 0
        # Local channel optimisation in progress (Id -> Local pair key): while Asterisk swaps the
        # real channel into the bridge, the bridge events pass through states nobody hears.
        self._optimizing: dict[str, str] = {}
        self._deferred: set[str] = set()
        # Uniqueid -> when it hung up, for the resync window (list replies may predate a live Hangup).
        self._recent_hangups: dict[str, float] = {}
        self._handlers: dict[str, Handler] = {
            "Newchannel": self._on_newchannel,
            "Newstate": self._on_newstate,
            "Newexten": self._on_newexten,
            "VarSet": self._on_varset,
            "DialBegin": self._on_dial_begin,
            "DialEnd": self._on_dial_end,
            "BridgeCreate": self._on_bridge_create,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "BridgeDestroy": self._on_bridge_destroy,
            "BridgeMerge": self._on_bridge_merge,
            "MusicOnHoldStart": self._on_moh_start,
            "MusicOnHoldStop": self._on_moh_stop,
            "Hangup": self._on_hangup,
            "HangupRequest": self._on_hangup_request,
            "SoftHangupRequest": self._on_hangup_request,
            "DTMFEnd": self._on_dtmf_end,
            "UserEvent": self._on_user_event,
            "QueueCallerJoin": self._on_queue_caller_join,
            "QueueCallerLeave": self._on_queue_caller_leave,
            "AgentCalled": self._on_agent_called,
            "AgentRingNoAnswer": self._on_agent_ring_no_answer,
            "BlindTransfer": self._on_blind_transfer,
            "AttendedTransfer": self._on_attended_transfer,
            "MixMonitorStart": self._on_mixmonitor_start,
            "MixMonitorStop": self._on_mixmonitor_stop,
            "ChanSpyStart": self._on_chanspy_start,
            "ChanSpyStop": self._on_chanspy_stop,
            "OriginateResponse": self._on_originate_response,
            "LocalOptimizationBegin": self._on_local_optimization_begin,
            "LocalOptimizationEnd": self._on_local_optimization_end,
            "FullyBooted": self._on_fully_booted,
            "Shutdown": self._on_shutdown,
        }

    @property
    def handled_events(self) -> frozenset[str]:
        """AMI events the tracker reads; any other event changes nothing (see cti.protocol.event_filter)."""
        return frozenset(self._handlers)

    @property
    def tracked_variables(self) -> frozenset[str]:
        """VarSet variables the tracker reads."""
        return TRACKED_VARIABLES

    # -- entry points -------------------------------------------------------------------------

    def feed(self, event: AmiEvent, now: float) -> list[DomainEvent]:
        """Apply one AMI event. Unknown or inconsistent events are logged and survived."""
        self._out = []
        handler = self._handlers.get(_text(event, "Event"))
        if handler is None:
            self.ignored_events += 1
            return []
        try:
            handler(event, now)
        except Exception:  # one malformed event must not take call tracking down
            log.exception("tracker could not apply %s event", _text(event, "Event"))
        return self._out

    def resync(
        self, snapshot: PbxSnapshot, now: float, taken_since: float | None = None
    ) -> list[DomainEvent]:
        """Make the state equal to what Asterisk reports after a (re)connect.

        Channels we track that Asterisk no longer has hung up while we were away; channels we do not
        know are adopted (their calls flagged partial); channels we know stay as they are, so no call
        is counted twice. Live events keep arriving while the list actions are answered: with
        `taken_since` (when the first list action was sent), a channel first seen since then is not
        ended for missing from the lists, and one that hung up since then is not adopted again.
        """
        self._out = []
        since = now if taken_since is None else taken_since
        present = {ch.uniqueid for ch in snapshot.channels}
        stale = [c for c in self.channels.values() if c.uniqueid not in present and c.first_seen < since]
        for gone in stale:
            self._end_channel(gone, None, None, now)
        for snap in sorted(snapshot.channels, key=lambda c: (c.uniqueid != c.linkedid, c.uniqueid)):
            if self._recent_hangups.get(snap.uniqueid, -1.0) >= since:
                continue
            channel = self.channels.get(snap.uniqueid)
            if channel is None:
                block = ChannelBlock(snap.uniqueid, snap.channel, snap.linkedid, snap.context, snap.exten,
                                     snap.state, snap.caller_num, snap.caller_name)
                channel = self._adopt(block, now, created_at=now - snap.seconds, dnis=snap.dnid)
            self._resync_variables(channel, snap.variables, now)
            if channel.bridge_id != (snap.bridge_id or None):
                self._leave_bridge(channel, now)
                if snap.bridge_id:
                    self._enter_bridge(channel, snap.bridge_id, (snap.context, snap.exten), now)
        return self._out

    def live_calls(self) -> list[LiveCall]:
        """The calls of the call center in progress, oldest first."""
        calls = [call for call in self.calls.values() if call.reportable]
        return [call.live_view() for call in sorted(calls, key=lambda c: (c.started_at, c.call_id))]

    def _resync_variables(self, channel: Channel, variables: Mapping[str, str], now: float) -> None:
        call = self.calls[channel.call_id]
        target = variables.get(contract.VAR_CALL)
        if target and target in self.channels and self.channels[target].call_id != call.call_id:
            self._move(channel, self.channels[target].call_id, now)
            call = self.calls[channel.call_id]
        if channel.role is LegRole.CALLER:
            queue = variables.get(contract.VAR_QUEUE)
            if queue:
                call.queue = queue
            for name in IVR_ROUTING_VARIABLES & variables.keys():
                _set_routing(call, name, variables[name])
            if variables.get(contract.VAR_STATE) == contract.STATE_WAITING and not call.waiting:
                self._queue_call(call, call.queue, QueueSource.CONTRACT, None, now)

    # -- channels -----------------------------------------------------------------------------

    def _channel(self, event: AmiEvent, now: float, prefix: str = "") -> Channel | None:
        """The channel an event is about, adopting it when we meet it mid-call."""
        uid = _text(event, "Uniqueid", prefix)
        if not uid or uid in _UNKNOWN:
            return None
        channel = self.channels.get(uid)
        if channel is None:
            block = _block(event, prefix)
            return self._adopt(block, now, created_at=now) if block.name else None
        linkedid = _text(event, "Linkedid", prefix)
        if linkedid and linkedid != channel.linkedid:
            # A leg joins another call: an originated leg's Linkedid switches to the caller's at
            # BridgeEnter with no event of its own (contract trace o-originate-bridge-app).
            channel.linkedid = linkedid
            if linkedid != channel.call_id and (linkedid in self.calls or linkedid in self.channels):
                self._move(channel, self._call_for_linkedid(linkedid, now).call_id, now)
        return channel

    def _adopt(self, block: ChannelBlock, now: float, created_at: float, dnis: str | None = None) -> Channel:
        """A channel we did not see being created: we attached to a running PBX."""
        channel = self._create(block, now, created_at=created_at, adopting=True, dnis=dnis)
        if block.state == CHANNEL_STATE_UP:
            channel.answered_at = created_at
            self._mark_answered(channel)
        return channel

    def _create(self, block: ChannelBlock, now: float, created_at: float, adopting: bool = False,
                dnis: str | None = None) -> Channel:
        role = self._role_for(block, adopting)
        # A call first met through a later leg (Linkedid names a channel we never saw) is partial.
        call = self._call_for_linkedid(block.linkedid, created_at,
                                       partial=adopting or block.linkedid != block.uniqueid)
        call.partial = call.partial or adopting
        channel = Channel(
            uniqueid=block.uniqueid, name=block.name, linkedid=block.linkedid, call_id=call.call_id,
            role=role, created_at=created_at, first_seen=now, partial=adopting,
            endpoint=endpoint_of(block.name),
            caller_num=_known(block.caller_num), caller_name=_known(block.caller_name),
            location=(block.context, block.exten),
        )
        if role is LegRole.AGENT:
            channel.agent = channel.endpoint
        self.channels[block.uniqueid] = channel
        call.live.add(block.uniqueid)
        self.bridges.add_local(block.name, block.uniqueid)
        if role is LegRole.CALLER and call.caller_leg is None:
            call.caller_leg = block.uniqueid
            call.direction = Direction.INBOUND
            call.caller = channel.caller_num
            call.caller_name = channel.caller_name
            entered_here = not adopting or block.context in self.config.inbound_contexts
            call.dnis = dnis or (block.exten if entered_here else None)
            self._announce(call, channel, now)
        return channel

    def _role_for(self, block: ChannelBlock, adopting: bool) -> LegRole:
        if block.name.startswith("Local/"):
            return LegRole.LOCAL
        if block.context in self.config.agent_contexts:
            return LegRole.AGENT
        incoming = block.state == CHANNEL_STATE_RING or adopting
        if block.context in self.config.inbound_contexts and incoming:
            return LegRole.CALLER
        first_leg = block.uniqueid == block.linkedid
        if adopting and first_leg and block.context in self.config.caller_contexts:
            return LegRole.CALLER
        return LegRole.OTHER

    def _call_for_linkedid(self, linkedid: str, now: float, partial: bool = False) -> Call:
        call = self.calls.get(linkedid)
        if call is None:
            call = Call(call_id=linkedid, started_at=now, partial=partial, accounted_until=now)
            self.calls[linkedid] = call
        return call

    def _announce(self, call: Call, channel: Channel, now: float) -> None:
        if call.announced:
            return
        call.announced = True
        self._out.append(
            CallStarted(
                at=now, call_id=call.call_id, direction=call.direction, caller=call.caller,
                caller_name=call.caller_name, dnis=call.dnis, channel=channel.name,
                partial=call.partial,
            )
        )

    def _move(self, channel: Channel, call_id: str, now: float) -> None:
        """Re-home a leg on another call (originated agent leg, spy leg, Linkedid change)."""
        old = self.calls.get(channel.call_id)
        new = self._call_for_linkedid(call_id, now)
        if old is new:
            return
        if old is not None:
            old.live.discard(channel.uniqueid)
            if old.anchor_agent_leg == channel.uniqueid:
                old.anchor_agent_leg = None
            if not old.live:
                # Emptied by the move, not by a hangup: it never was a call of its own.
                if old.announced:
                    log.info("call %s merged into %s", old.call_id, call_id)
                del self.calls[old.call_id]
        channel.call_id = new.call_id
        new.live.add(channel.uniqueid)
        new.partial = new.partial or channel.partial

    # -- handlers: channel life ---------------------------------------------------------------

    def _on_newchannel(self, event: AmiEvent, now: float) -> None:
        block = _block(event)
        if block.uniqueid and block.uniqueid not in self.channels:
            self._create(block, now, created_at=now)

    def _on_newstate(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        if channel is None:
            return
        if _text(event, "ChannelState") == CHANNEL_STATE_UP and channel.answered_at is None:
            channel.answered_at = now
            self._mark_answered(channel)

    def _mark_answered(self, channel: Channel) -> None:
        call = self.calls[channel.call_id]
        if channel.uniqueid == call.anchor:
            call.answered = True

    def _on_newexten(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        if channel is None:
            return
        location = (_text(event, "Context"), _text(event, "Exten"))
        channel.location = location
        if channel.role is not LegRole.CALLER:
            return
        call = self.calls[channel.call_id]
        if channel.bridge_id is not None:
            # A bridged caller running dialplan was redirected out of the bridge: Asterisk sends a
            # stale Newexten with the new location before the BridgeLeave (contract trace w).
            self._note_redirect(channel, location, now)
        elif call.waiting and location[0] not in self.config.waiting_contexts and call.queue_source_contract:
            call.waiting = False

    def _on_varset(self, event: AmiEvent, now: float) -> None:
        name = _text(event, "Variable")
        if name not in TRACKED_VARIABLES:
            return
        channel = self._channel(event, now)
        if channel is None:
            return
        value = _text(event, "Value")
        call = self.calls[channel.call_id]
        if name == contract.VAR_CALL and value:
            target = self.channels.get(value)
            target_call = target.call_id if target is not None else value
            if target_call != channel.call_id and target_call in self.calls:
                self._move(channel, target_call, now)
        elif name == contract.VAR_QUEUE and channel.role is LegRole.CALLER and value:
            call.queue = value
        elif name == contract.VAR_DNIS and channel.role is LegRole.CALLER and value:
            call.dnis = value
        elif name == contract.VAR_MIXMONITOR_FILENAME:
            channel.mixmonitor_file = value or None
        elif name in IVR_ROUTING_VARIABLES and channel.role is LegRole.CALLER:
            _set_routing(call, name, value)
        elif name == contract.VAR_ATTENDED_TRANSFER and value and channel.is_local:
            # e-atxfer: set on the new Local pair, naming the transferer's channel (a name is all Asterisk
            # gives here; among the call's live legs it is unique)
            transferer = next((self.channels[uid] for uid in call.live if self.channels[uid].name == value), None)
            if transferer is not None and transferer.role is LegRole.AGENT:
                self._out += self.consultations.begin(channel, transferer, now)

    def _on_hangup_request(self, event: AmiEvent, now: float) -> None:
        channel = self.channels.get(_text(event, "Uniqueid"))
        if channel is not None:
            channel.hangup_requested = True

    def _on_hangup(self, event: AmiEvent, now: float) -> None:
        uid = _text(event, "Uniqueid")
        channel = self.channels.get(uid)
        if channel is None:
            log.debug("hangup of unknown channel %s", uid)
            return
        self._end_channel(channel, _int(_text(event, "Cause")), _known(_text(event, "Cause-txt")), now)

    def _note_hangup(self, uid: str, now: float) -> None:
        self._recent_hangups[uid] = now
        if len(self._recent_hangups) > 4 * RECENT_HANGUPS_KEPT:  # amortised pruning, oldest first
            keep = sorted(self._recent_hangups.items(), key=lambda item: item[1])[-RECENT_HANGUPS_KEPT:]
            self._recent_hangups = dict(keep)

    def _end_channel(self, channel: Channel, cause: int | None, cause_text: str | None, now: float) -> None:
        call = self.calls[channel.call_id]
        self._out += self.consultations.leg_gone(call.call_id, channel.uniqueid, now)
        channel.hangup_cause = cause
        channel.ended_at = now
        if channel.role is LegRole.AGENT and channel.offered_at is not None and not channel.offer_closed:
            status = channel.dial_status if channel.dial_status != "ANSWER" else None
            self._close_offer(channel, call, status, now)
        self._leave_bridge(channel, now)
        if channel.uniqueid == call.anchor:
            call.hangup_cause = cause
            call.hangup_cause_text = cause_text
            if channel.role is LegRole.CALLER and call.in_queue and not call.connected:
                self._out.append(
                    CallAbandoned(at=now, call_id=call.call_id, queue=call.queue,
                                  wait_seconds=now - call.started_at)
                )
                call.in_queue = False
            call.waiting = False
        del self.channels[channel.uniqueid]
        self._note_hangup(channel.uniqueid, now)
        key = channel.local_pair_key
        stale = [op for op, pair in self._optimizing.items() if pair == key]
        for op in stale:  # LocalOptimizationEnd lost: do not freeze the calls for ever
            del self._optimizing[op]
        if stale:
            self._flush_deferred(now)
        self.bridges.remove_local(channel.name)
        call.live.discard(channel.uniqueid)
        call.ended_legs.append(channel.leg_record(now))
        if not call.live:
            self._finish(call, now)

    # -- handlers: dialling and offers --------------------------------------------------------

    def _on_dial_begin(self, event: AmiEvent, now: float) -> None:
        dest = self._channel(event, now, "Dest")
        if dest is None:
            return
        source = self._channel(event, now)
        if source is not None and source.role is LegRole.AGENT and dest.role is not LegRole.AGENT:
            call = self.calls[source.call_id]
            if call.anchor_agent_leg == source.uniqueid and call.dnis is None:
                call.direction = Direction.OUTBOUND
                call.dnis = _text(event, "DialString").split("@", 1)[0] or None
        if source is not None and source.is_local:
            self.consultations.dialled(source, dest)  # a consultation's Local ;2 rings the target
        if dest.role is LegRole.AGENT:
            self._offer(dest, None, now)

    def _on_agent_called(self, event: AmiEvent, now: float) -> None:
        dest = self._channel(event, now, "Dest")
        if dest is None:
            return
        # app_queue names the member; a Local-channel member's leg becomes the agent leg.
        dest.role = LegRole.AGENT
        dest.agent = agent_of_interface(_text(event, "Interface"))
        self._offer(dest, _text(event, "Queue") or None, now)

    def _offer(self, leg: Channel, queue: str | None, now: float) -> None:
        if leg.offered_at is not None:
            return
        call = self.calls[leg.call_id]
        if not call.reportable:
            call.anchor_agent_leg = leg.uniqueid
            call.direction = Direction.OUTBOUND
            call.caller = leg.caller_num
            call.caller_name = leg.caller_name
            if leg.answered_at is not None:
                call.answered = True
            self._announce(call, leg, now)
        leg.offered_at = now
        agent = leg.agent or leg.endpoint or leg.name
        call.agents_rung.append(agent)
        self._out.append(
            CallOffered(at=now, call_id=call.call_id, agent=agent, uniqueid=leg.uniqueid,
                        queue=queue or call.queue)
        )

    def _on_dial_end(self, event: AmiEvent, now: float) -> None:
        dest = self._channel(event, now, "Dest")
        if dest is None:
            return
        status = _text(event, "DialStatus")
        source = self.channels.get(_text(event, "Uniqueid"))
        if status == "ANSWER" and source is not None and source.is_local:
            self._out += self.consultations.answered(source, dest, now)
        if dest.dial_status is None or dest.dial_status != "ANSWER":
            dest.dial_status = status or None
        if dest.role is LegRole.AGENT and status != "ANSWER" and not dest.offer_closed:
            # Ring-no-answer sends two DialEnd (NOANSWER, then CANCEL): the first one counts.
            self._close_offer(dest, self.calls[dest.call_id], status or None, now)
        elif status == "ANSWER":
            dest.offer_closed = True

    def _on_agent_ring_no_answer(self, event: AmiEvent, now: float) -> None:
        dest = self._channel(event, now, "Dest")
        if dest is not None and dest.role is LegRole.AGENT and not dest.offer_closed:
            self._close_offer(dest, self.calls[dest.call_id], "NOANSWER", now)

    def _close_offer(self, leg: Channel, call: Call, status: str | None, now: float) -> None:
        leg.offer_closed = True
        if leg.answered_at is not None and status is None:
            return
        self._out.append(
            OfferUnanswered(at=now, call_id=call.call_id, agent=leg.agent or leg.name,
                            uniqueid=leg.uniqueid, dial_status=status,
                            ring_seconds=now - (leg.offered_at or now))
        )

    def _on_originate_response(self, event: AmiEvent, now: float) -> None:
        if _text(event, "Response") != "Failure":
            return
        uid = _text(event, "Uniqueid")
        leg = self.channels.get(uid)
        reason = _int(_text(event, "Reason")) or 0
        if leg is not None and reason == 3 and leg.dial_status is None:
            leg.dial_status = "NOANSWER"  # Reason 3 is Asterisk's "no answer"
        self._out.append(
            OriginateFailed(at=now, action_id=_text(event, "ActionID") or None,
                            dial_string=_text(event, "Channel"), reason=reason,
                            call_id=leg.call_id if leg is not None else None)
        )

    # -- handlers: bridges, connection, hold ---------------------------------------------------

    def _on_bridge_create(self, event: AmiEvent, now: float) -> None:
        bridge_id = _text(event, "BridgeUniqueid")
        if bridge_id:
            self.bridges.create(bridge_id)

    def _on_bridge_enter(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        bridge_id = _text(event, "BridgeUniqueid")
        if channel is None or not bridge_id:
            return
        if channel.bridge_id is not None and channel.bridge_id != bridge_id:
            self._leave_bridge(channel, now)
        channel.location = (_text(event, "Context"), _text(event, "Exten"))
        self._enter_bridge(channel, bridge_id, channel.location, now)

    def _enter_bridge(self, channel: Channel, bridge_id: str, location: tuple[str, str], now: float) -> None:
        self.bridges.join(channel.uniqueid, bridge_id)
        channel.bridge_id = bridge_id
        channel.bridge_entry = location
        channel.redirected_in_bridge = False
        self._refresh_bridge(bridge_id, now)

    def _on_bridge_leave(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        if channel is None or channel.bridge_id != _text(event, "BridgeUniqueid"):
            return
        if channel.role is LegRole.CALLER and channel.bridge_id is not None:
            # Redirected out of the bridge: the BridgeLeave already shows the new location
            # (app_queue trace d-redirect).
            self._note_redirect(channel, (_text(event, "Context"), _text(event, "Exten")), now)
        self._leave_bridge(channel, now)

    def _leave_bridge(self, channel: Channel, now: float) -> None:
        bridge_id = channel.bridge_id
        if bridge_id is None:
            return
        channel.bridge_id = None
        channel.bridge_entry = None
        self.bridges.part(channel.uniqueid, bridge_id)
        call = self.calls.get(channel.call_id)
        if call is not None:
            self._refresh_call(call, now)
        self._refresh_bridge(bridge_id, now)

    def _on_bridge_destroy(self, event: AmiEvent, now: float) -> None:
        bridge_id = _text(event, "BridgeUniqueid")
        for uid in self.bridges.members(bridge_id):
            channel = self.channels.get(uid)
            if channel is not None and channel.bridge_id == bridge_id:
                self._leave_bridge(channel, now)
        self.bridges.destroy(bridge_id)

    def _on_bridge_merge(self, event: AmiEvent, now: float) -> None:
        source_id = _text(event, "FromBridgeUniqueid")
        target_id = _text(event, "ToBridgeUniqueid")
        if source_id not in self.bridges or not target_id:
            return
        for uid in self.bridges.members(source_id):
            channel = self.channels.get(uid)
            if channel is not None:
                self._leave_bridge(channel, now)
                self._enter_bridge(channel, target_id, channel.location, now)

    def _refresh_bridge(self, bridge_id: str, now: float) -> None:
        """Re-evaluate every call that has a leg in this bridge or behind a Local pair in it."""
        seen: set[str] = set()
        for uid in self.bridges.members(bridge_id):
            for channel in self._reachable(uid):
                if channel.call_id not in seen and channel.call_id in self.calls:
                    seen.add(channel.call_id)
                    self._refresh_call(self.calls[channel.call_id], now)

    def _reachable(self, start_uid: str) -> list[Channel]:
        """Channels that hear each other through bridges and Local channel pairs."""
        uids = self.bridges.hearing(start_uid, self._name_of, self._bridge_of)
        return [self.channels[uid] for uid in uids]

    def _name_of(self, uid: str) -> str | None:
        channel = self.channels.get(uid)
        return channel.name if channel is not None else None

    def _bridge_of(self, uid: str) -> str | None:
        return self.channels[uid].bridge_id

    def _refresh_call(self, call: Call, now: float) -> None:
        """Recompute who the call's anchor leg talks to and whether it is held."""
        if self._optimizing:
            self._deferred.add(call.call_id)
            return
        anchor_uid = call.anchor
        anchor = self.channels.get(anchor_uid) if anchor_uid is not None else None
        agents: dict[str, str] = {}
        if anchor is not None and anchor.bridge_id is not None:
            for other in self._reachable(anchor.uniqueid):
                if other is anchor:
                    continue
                if call.caller_leg is not None:
                    if other.role is LegRole.AGENT and other.agent is not None:
                        agents[other.uniqueid] = other.agent
                elif other.role is not LegRole.LOCAL and other.role is not LegRole.SPY:
                    agents[anchor.uniqueid] = anchor.agent or anchor.name
        held = anchor is not None and anchor.bridge_id is not None and anchor.moh
        if agents == call.connected and held == (call.held_since is not None):
            return
        call.advance(now)
        for uid, agent in call.connected.items():
            if uid not in agents:
                self._out.append(AgentDisconnected(at=now, call_id=call.call_id, agent=agent, uniqueid=uid,
                                                   reason=self._disconnect_reason(uid, anchor, call)))
        for uid, agent in agents.items():
            if uid not in call.connected:
                if call.first_connected_at is None:
                    call.first_connected_at = now
                call.in_queue = False
                call.waiting = False
                call.last_agent = agent
                self._out.append(
                    CallConnected(at=now, call_id=call.call_id, agent=agent, uniqueid=uid,
                                  queue=call.queue, wait_seconds=call.first_connected_at - call.started_at)
                )
                self._out += self.consultations.connected(call.call_id, uid, now)  # back from consulting
        call.connected = agents
        if held and call.held_since is None:
            call.held_since = now
            self._out.append(CallHeld(at=now, call_id=call.call_id))
        elif not held and call.held_since is not None:
            self._out.append(CallResumed(at=now, call_id=call.call_id, held_seconds=now - call.held_since))
            call.held_since = None

    def _disconnect_reason(self, agent_uid: str, anchor: Channel | None, call: Call) -> DisconnectReason:
        def gone(channel: Channel | None) -> bool:
            return channel is None or channel.hangup_requested or channel.ended_at is not None

        if call.caller_leg is None:  # a call that began on the agent's leg: the far end left, or the agent
            return DisconnectReason.AGENT_HANGUP if gone(anchor) else DisconnectReason.CALLER_HANGUP
        if gone(self.channels.get(agent_uid)):
            return DisconnectReason.AGENT_HANGUP
        if gone(anchor):
            return DisconnectReason.CALLER_HANGUP
        if anchor is not None and anchor.bridge_id is None and not anchor.redirected_in_bridge:
            # Hung up by an AMI Hangup: the BridgeLeave comes before the SoftHangupRequest (trace t).
            return DisconnectReason.CALLER_HANGUP
        return DisconnectReason.MOVED

    def _on_moh_start(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        if channel is None:
            return
        channel.moh = True
        call = self.calls[channel.call_id]
        if channel.uniqueid != call.anchor:
            return
        if channel.bridge_id is not None:
            self._refresh_call(call, now)
        elif channel.location[0] in self.config.waiting_contexts and not call.waiting:
            # Back in the waiting context with no UserEvent: after an AMI Bridge ends, the caller
            # silently resumes its dialplan there (contract trace p-originate-then-bridge-action).
            self._queue_call(call, call.queue, QueueSource.CONTRACT, None, now)

    def _on_moh_stop(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        if channel is None:
            return
        channel.moh = False
        call = self.calls[channel.call_id]
        if channel.uniqueid == call.anchor and call.held_since is not None:
            self._refresh_call(call, now)

    def _on_local_optimization_begin(self, event: AmiEvent, now: float) -> None:
        one = _text(event, "LocalOneChannel")
        self._optimizing[_text(event, "Id")] = one[:-2] if one.endswith(";1") else one

    def _on_local_optimization_end(self, event: AmiEvent, now: float) -> None:
        self._optimizing.pop(_text(event, "Id"), None)
        self._flush_deferred(now)

    def _flush_deferred(self, now: float) -> None:
        if self._optimizing:
            return
        deferred, self._deferred = self._deferred, set()
        for call_id in sorted(deferred):
            call = self.calls.get(call_id)
            if call is not None:
                self._refresh_call(call, now)

    # -- handlers: queues ----------------------------------------------------------------------

    def _queue_call(self, call: Call, queue: str | None, source: QueueSource, position: int | None,
                    now: float) -> None:
        if queue:
            call.queue = queue
        call.waiting = True
        call.in_queue = True
        call.queue_source_contract = source is QueueSource.CONTRACT
        self._out.append(CallQueued(at=now, call_id=call.call_id, queue=call.queue, source=source,
                                    position=position, priority=call.priority, skills=call.skills,
                                    customer=call.customer, preferred_agent=call.preferred_agent,
                                    ivr_path=call.ivr_path))

    def _on_user_event(self, event: AmiEvent, now: float) -> None:
        if _text(event, "UserEvent") != contract.USEREVENT_WAITING:
            return
        channel = self._channel(event, now)
        if channel is None or channel.role is not LegRole.CALLER:
            return
        call = self.calls[channel.call_id]
        if not call.waiting:
            self._queue_call(call, _text(event, "Queue") or None, QueueSource.CONTRACT, None, now)

    def _on_queue_caller_join(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        if channel is None:
            return
        call = self.calls[channel.call_id]
        self._queue_call(call, _text(event, "Queue") or None, QueueSource.APP_QUEUE,
                         _int(_text(event, "Position")), now)

    def _on_queue_caller_leave(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        if channel is not None:
            self.calls[channel.call_id].waiting = False

    # -- handlers: transfers -------------------------------------------------------------------

    def _note_redirect(self, channel: Channel, location: tuple[str, str], now: float) -> None:
        if channel.redirected_in_bridge or channel.bridge_entry is None or location == channel.bridge_entry:
            return
        channel.redirected_in_bridge = True
        call = self.calls[channel.call_id]
        if not call.connected:
            return
        context, exten = location
        self._transfer(call, TransferKind.REDIRECT, f"{context},{exten}", call.last_agent, now)

    def _on_blind_transfer(self, event: AmiEvent, now: float) -> None:
        if _text(event, "Result") != "Success":
            return
        transferee = self._channel(event, now, "Transferee")
        if transferee is None:
            return
        transferee.redirected_in_bridge = True  # the location change that follows is this transfer
        transferer = self.channels.get(_text(event, "TransfererUniqueid"))
        self._transfer(self.calls[transferee.call_id], TransferKind.BLIND,
                       _text(event, "Extension") or None,
                       transferer.agent if transferer is not None else None, now)

    def _on_attended_transfer(self, event: AmiEvent, now: float) -> None:
        if _text(event, "Result") != "Success":
            return
        transferee = self._channel(event, now, "Transferee")
        if transferee is None:
            return
        bridge_id = _text(event, "OrigBridgeUniqueid")
        if transferee.bridge_id is None and bridge_id:
            # Met mid-call: the transfer names the bridge the caller has been in all along.
            self._enter_bridge(transferee, bridge_id, transferee.location, now)
        transferer = self.channels.get(_text(event, "OrigTransfererUniqueid"))
        target = _text(event, "TransferTargetExten") or _text(event, "DestApp") or None
        self._transfer(self.calls[transferee.call_id], TransferKind.ATTENDED, target,
                       transferer.agent if transferer is not None else None, now)
        self._out += self.consultations.transferred(transferee.call_id, _text(event, "OrigTransfererUniqueid"), now)

    def _transfer(self, call: Call, kind: TransferKind, to: str | None, by: str | None, now: float) -> None:
        call.transfers.append(Transfer(kind=kind, to=to, at=now))
        self._out.append(CallTransferred(at=now, call_id=call.call_id, kind=kind, to=to, by_agent=by))

    # -- handlers: digits, recordings, supervisors, PBX ----------------------------------------

    def _on_dtmf_end(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        if channel is None or _text(event, "Direction") != "Received":
            return
        self._out.append(
            DigitsReceived(at=now, call_id=channel.call_id, uniqueid=channel.uniqueid,
                           digit=_text(event, "Digit"), from_caller=channel.role is LegRole.CALLER)
        )

    def _on_mixmonitor_start(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        if channel is None:
            return
        call = self.calls[channel.call_id]
        if channel.mixmonitor_file:
            call.recordings.append(PurePosixPath(channel.mixmonitor_file).name)
        self._out.append(RecordingStarted(at=now, call_id=call.call_id, uniqueid=channel.uniqueid,
                                          file=channel.mixmonitor_file))

    def _on_mixmonitor_stop(self, event: AmiEvent, now: float) -> None:
        channel = self._channel(event, now)
        if channel is not None:
            self._out.append(RecordingStopped(at=now, call_id=channel.call_id, uniqueid=channel.uniqueid,
                                              file=channel.mixmonitor_file))

    def _on_chanspy_start(self, event: AmiEvent, now: float) -> None:
        spyer = self._channel(event, now, "Spyer")
        spyee = self._channel(event, now, "Spyee")
        if spyer is None or spyee is None:
            return
        spyer.role = LegRole.SPY
        self._move(spyer, spyee.call_id, now)
        self._out.append(SpyStarted(at=now, call_id=spyee.call_id, spy_uniqueid=spyer.uniqueid,
                                    supervisor=spyer.endpoint, agent=spyee.agent))

    def _on_chanspy_stop(self, event: AmiEvent, now: float) -> None:
        spyer = self.channels.get(_text(event, "SpyerUniqueid"))
        if spyer is not None:
            self._out.append(SpyStopped(at=now, call_id=spyer.call_id, spy_uniqueid=spyer.uniqueid))

    def _on_fully_booted(self, event: AmiEvent, now: float) -> None:
        self._out.append(PbxBooted(at=now))

    def _on_shutdown(self, event: AmiEvent, now: float) -> None:
        self._out.append(PbxShutdown(at=now, restarting=_text(event, "Restart") == "True"))

    # -- end of a call -------------------------------------------------------------------------

    def _finish(self, call: Call, now: float) -> None:
        self._out += self.consultations.call_over(call.call_id, now)
        del self.calls[call.call_id]
        if call.reportable:
            self._out.append(CallEnded(at=now, call_id=call.call_id, record=call.to_record(now)))




def feed_all(tracker: Tracker, events: Iterable[tuple[AmiEvent, float]]) -> list[DomainEvent]:
    """Convenience for replays and tests: feed (event, now) pairs, collect every domain event."""
    out: list[DomainEvent] = []
    for event, now in events:
        out.extend(tracker.feed(event, now))
    return out
