"""Attended transfer on the simulated PBX: the AMI actions Atxfer and CancelAtxfer, as Asterisk 22 runs them.

The Atxfer action (manager.c) only queues DTMF on the transferer's channel: the `atxfer` feature code, then
the target's digits. What follows is the bridge's attended transfer, in the order the recorded trace shows
(app-queue/e-atxfer: an agent transfers a caller to another agent, who answers; the first agent hangs up):

1. The feature code and the digits arrive as DTMFEnd only (DurationMs 0); after the code the transferer is
   held (Hold, no MusicClass) and the caller hears music. The digits end when nothing longer can match in
   the context (Asterisk's "match more"), at a `#`, or after `transferdigittimeout`. Then a Local pair
   `Local/<exten>@<context>-<n>;1/;2`: TRANSFERERNAME and ATTENDEDTRANSFER on both, LocalBridge; `;1`
   enters a new bridge and the transferer moves there from the caller's bridge; `;2` runs the dialplan at
   exten@context, whose Dial rings the target (the dialplan runner does that part).
2. The target answers: the pair comes up, `;2` and the target share a bridge (`answering`, `answered`,
   `bridged`, called by the runner's Dial).
3. The transferer hangs up: its bridge merges into the caller's (BridgeMerge), `;1` talks to the caller,
   AttendedTransfer (IsExternal No, DestType Bridge), the transferer's Hangup; 0.44 s later the pair
   optimises itself away: the target takes `;1`'s place (SwapUniqueid), and the pair hangs up.

No trace shows the rest. Each is Asterisk's most plausible behaviour, kept minimal:
- CancelAtxfer queues `atxferabort` on the transferer; while it consults, that ends the consultation as
  the target's leg ending does (no answer, busy, `atxfernoanswertimeout`, hung up): the transferer goes back
  to the caller's bridge, Unhold, the caller's music stops, then the Local pair (and the target's leg) hang up.
- The transferer hangs up while the target still rings: the same merge as 3; the pair optimises once the
  target answers, and hangs up if it never does (then the caller's Dial ends, as after any agent's hangup).
- The caller hangs up while the transferer consults: it leaves alone; transferer and target go on talking,
  and whichever hangs up ends the rest.
- Digits that reach no extension: after `transferdigittimeout`, Unhold and the caller's music stops.
- Atxfer on a channel that is not in a two-party bridge, or whose Dial did not allow the called party to
  transfer (Dial option `t`), or that already consults; CancelAtxfer when nothing is consulted: only DTMF.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from callcenter.asterisk.conf import ConfFile
from callcenter.simulator.channels import STATE_RINGING, STATE_UP, UNKNOWN, Bridge, Channel
from callcenter.simulator.clock import Timer

if TYPE_CHECKING:
    from callcenter.simulator.pbx import Pbx

log = logging.getLogger(__name__)

# e-atxfer's timing: '*' then '2' 146 ms apart; Hold 99 ms after the code; the digits 45 ms apart (Asterisk's
# smallest gap between two DTMF digits); the Local pair optimises 437 ms after the AttendedTransfer.
FEATURE_DIGIT_GAP = 0.146
HOLD_AFTER_CODE = 0.099
DIGIT_GAP = 0.045
OPTIMIZE_AFTER = 0.437
CALLING_PRESENTATION = "0 (Presentation Allowed, Not Screened)"


@dataclass(frozen=True)
class Features:
    """What features.conf sets for transfers. The defaults are config/asterisk/features.conf's (Asterisk's own
    default for `atxfer` is none: no attended transfer until features.conf names a code)."""

    atxfer: str = "*2"
    atxferabort: str = "*1"
    transferdigittimeout: float = 3.0
    atxfernoanswertimeout: float = 15.0


def read_features(conf: ConfFile) -> Features:
    """The transfer settings of a features.conf; what it leaves out is Asterisk's default."""
    general, featuremap = conf.section("general"), conf.section("featuremap")

    def seconds(key: str, default: float) -> float:
        value = general.get(key) if general is not None else None
        return float(value) if value else default

    return Features(atxfer=(featuremap.get("atxfer") if featuremap is not None else None) or "",
                    atxferabort=(general.get("atxferabort") if general is not None else None) or "*1",
                    transferdigittimeout=seconds("transferdigittimeout", 3.0),
                    atxfernoanswertimeout=seconds("atxfernoanswertimeout", 15.0))


@dataclass(eq=False)
class Consultation:
    """One attended transfer: the transferer, the caller's bridge it came from, the Local pair it dials."""

    transferer: Channel
    home: Bridge
    context: str
    exten: str = ""
    local_one: Channel | None = None
    local_two: Channel | None = None
    bridge: Bridge | None = None  # the transferer with ;1 while consulting
    phase: str = "collecting"  # collecting, consulting, merged (transfer done, pair not yet gone), done
    answered: bool = False
    timers: list[Timer] = field(default_factory=list)

    def callers(self) -> list[Channel]:
        """Who waits in the caller's bridge (the transferee)."""
        return [c for c in self.home.channels if c is not self.transferer and not c.gone]

    def target(self) -> Channel | None:
        """The leg the Local pair's `;2` dialled (the target's phone or the trunk)."""
        running = self.local_two.running if self.local_two is not None else None
        leg = getattr(running, "leg", None)
        return leg if isinstance(leg, Channel) and not leg.gone else None


class Transfers:
    def __init__(self, pbx: Pbx, features: Features) -> None:
        self.pbx = pbx
        self.features = features
        self._by_transferer: dict[str, Consultation] = {}
        self._by_local: dict[str, Consultation] = {}
        self._optimizations = itertools.count()

    def clear(self) -> None:
        for consultation in list(self._by_transferer.values()):
            self._forget(consultation)
        self._optimizations = itertools.count()

    def consulting(self, channel: Channel) -> bool:
        """The channel is a transferer talking to (or ringing) the transfer target."""
        consultation = self._by_transferer.get(channel.uniqueid)
        return consultation is not None and consultation.phase == "consulting"

    def of_local(self, channel: Channel) -> Consultation | None:
        return self._by_local.get(channel.uniqueid) if channel.is_local else None

    # ---- the actions ---------------------------------------------------------------------------------
    def atxfer(self, transferer: Channel, exten: str, context: str) -> None:
        """After the action's response: TRANSFER_CONTEXT, the feature code, the hold, the digits, the dial."""
        pbx = self.pbx
        if transferer.gone:
            return
        if context:
            pbx.var_set(transferer, "TRANSFER_CONTEXT", context)
        context = context or transferer.variables.get("TRANSFER_CONTEXT") or transferer.context
        home = transferer.bridge
        consultation = None
        if (home is not None and len(home.channels) == 2 and self._may_transfer(transferer)
                and transferer.uniqueid not in self._by_transferer):
            consultation = Consultation(transferer, home, context)
            self._by_transferer[transferer.uniqueid] = consultation
        delay = self._press(transferer, self.features.atxfer, FEATURE_DIGIT_GAP, 0.0, consultation)
        if consultation is None:
            self._press(transferer, exten, DIGIT_GAP, delay + DIGIT_GAP, None)
            return
        delay += HOLD_AFTER_CODE
        self._later(consultation, delay, lambda: self._hold(consultation))
        delay = self._press(transferer, exten, DIGIT_GAP, delay + DIGIT_GAP, consultation)
        self._later(consultation, delay, lambda: self._digits_entered(consultation, exten))

    def cancel(self, transferer: Channel) -> None:
        """CancelAtxfer: the `atxferabort` code on the transferer; it ends a consultation in progress."""
        consultation = self._by_transferer.get(transferer.uniqueid)
        delay = self._press(transferer, self.features.atxferabort, FEATURE_DIGIT_GAP, 0.0, None)

        def abort() -> None:
            if consultation is not None and consultation.phase == "consulting" and not transferer.gone:
                self._return(consultation)

        self.pbx.clock.call_later(delay, abort)

    def _may_transfer(self, channel: Channel) -> bool:
        """The bridge hooks the transfer features on a called party whose Dial had the `t` option."""
        return bool(getattr(channel.dialled_by, "callee_may_transfer", False))

    def _press(self, channel: Channel, keys: str, gap: float, start: float, consultation: Consultation | None) -> float:
        """DTMFEnd for each key (queued frames: no DTMFBegin, DurationMs 0); the time of the last one."""
        at = start
        for index, key in enumerate(keys):
            at = start + index * gap

            def press(key: str = key) -> None:
                if not channel.gone:
                    self.pbx.channel_event("DTMFEnd", channel, "dtmf,all", Digit=key, DurationMs="0",
                                           Direction="Received")

            if at <= 0:
                press()
            elif consultation is not None:
                self._later(consultation, at, press)
            else:
                self.pbx.clock.call_later(at, press)
        return at

    def _later(self, consultation: Consultation, delay: float, step: Callable[[], None]) -> None:
        consultation.timers.append(self.pbx.clock.call_later(delay, step))

    # ---- 1. consulting -------------------------------------------------------------------------------
    def _hold(self, consultation: Consultation) -> None:
        """e-atxfer: Hold on the transferer (no MusicClass), music for the caller. The bridge stays a
        simple_bridge from here on (later events of that bridge say so)."""
        pbx = self.pbx
        transferer = consultation.transferer
        pbx.channel_event("Hold", transferer)
        for caller in consultation.callers():
            pbx.channel_event("MusicOnHoldStart", caller, Class="default")
        consultation.home.technology = "simple_bridge"

    def _digits_entered(self, consultation: Consultation, keys: str) -> None:
        """ast_app_dtget: the digits end at a `#`, or when no longer extension could match; else the digit
        timeout ends them."""
        collected = ""
        ended = False
        for key in keys:
            if key == "#":
                ended = True
                break
            collected += key
            if not self.pbx.dialplan.matches_longer(consultation.context, collected):
                ended = True
                break
        consultation.exten = collected
        if ended:
            self._dial(consultation)
        else:
            self._later(consultation, self.features.transferdigittimeout, lambda: self._dial(consultation))

    def _dial(self, consultation: Consultation) -> None:
        pbx = self.pbx
        transferer = consultation.transferer
        if transferer.gone or consultation.phase != "collecting":
            return
        if pbx.dialplan.find(consultation.context, consultation.exten) is None:
            log.info("simulated PBX: attended transfer to %s@%s: no such extension", consultation.exten,
                     consultation.context)
            self._unhold(consultation)
            self._forget(consultation)
            return
        one, two = pbx.new_local_pair(consultation.exten, consultation.context, linkedid=transferer.linkedid)
        consultation.local_one, consultation.local_two = one, two
        self._by_local[one.uniqueid] = self._by_local[two.uniqueid] = consultation
        pbx.var_set(one, "TRANSFERERNAME", transferer.name)
        pbx.var_set(one, "ATTENDEDTRANSFER", transferer.name)
        consultation.bridge = bridge = pbx.new_bridge()
        pbx.var_set(two, "ATTENDEDTRANSFER", transferer.name)
        pbx.var_set(two, "TRANSFERERNAME", transferer.name)
        two.cid_num, two.cid_name = transferer.cid_num, transferer.cid_name
        pbx.channel_event("NewCallerid", two, **{"CID-CallingPres": CALLING_PRESENTATION})
        pbx.emit({"Event": "LocalBridge", "Privilege": "call,all", **one.block("LocalOne"), **two.block("LocalTwo"),
                  "Context": consultation.context, "Exten": consultation.exten, "LocalOptimization": "Yes"})
        pbx.set_connected(one, transferer.cid_num, transferer.cid_name)
        pbx.enter_bridge(bridge, one)
        pbx.var_set(one, "ATTENDEDTRANSFER", "")
        consultation.phase = "consulting"
        pbx.runner.start(two)  # its Dial rings the target; `target_dialled` moves the transferer meanwhile
        if consultation.phase != "consulting" or transferer.gone or transferer.bridge is not bridge:
            return  # the target could not even be rung: `channel_gone` takes the transferer back
        target = consultation.target()
        pbx.set_connected(transferer, UNKNOWN, UNKNOWN)
        if target is not None:
            pbx.set_connected(transferer, target.cid_num, target.cid_name)
            one.cid_num, one.cid_name = target.cid_num, target.cid_name
            pbx.set_state(one, STATE_RINGING)
            pbx.channel_event("NewCallerid", one, **{"CID-CallingPres": CALLING_PRESENTATION})
            pbx.emit({"Event": "DialState", "Privilege": "call,all", **one.block("Dest"), "DialStatus": "RINGING"})
        pbx.bridge_peers(bridge, 1)
        self._later(consultation, self.features.atxfernoanswertimeout, lambda: self._not_answered(consultation))

    def target_dialled(self, two: Channel) -> None:
        """`;2`'s Dial made the target's leg (before ringing it): the transferer leaves the caller's bridge for
        the consultation's (e-atxfer: between the leg's first events and DialBegin)."""
        consultation = self.of_local(two)
        if consultation is None or consultation.phase != "consulting" or consultation.bridge is None:
            return
        transferer = consultation.transferer
        if transferer.gone or transferer.bridge is not consultation.home:
            return
        self.pbx.leave_bridge(transferer)
        self.pbx.enter_bridge(consultation.bridge, transferer)
        self.pbx.bridge_peers(consultation.bridge, 1)

    def _not_answered(self, consultation: Consultation) -> None:
        if consultation.phase == "consulting" and not consultation.answered:
            self._return(consultation)

    # ---- 2. the target answers (called by the runner's Dial on `;2`) ----------------------------------
    def answering(self, two: Channel) -> None:
        """Dial answered on `;2`: the pair comes up (before the target's bridge is made)."""
        consultation = self.of_local(two)
        if consultation is None or consultation.local_one is None:
            return
        consultation.answered = True
        self.pbx.set_state(consultation.local_one, STATE_UP)
        self.pbx.set_state(two, STATE_UP)

    def answered(self, two: Channel) -> None:
        """The bridge's own dial of `;1` ends; the transferer's side of the pair sets its peers again."""
        consultation = self.of_local(two)
        one = consultation.local_one if consultation is not None else None
        if one is None or one.gone:
            return
        self.pbx.emit({"Event": "DialEnd", "Privilege": "call,all", **one.block("Dest"), "DialStatus": "ANSWER"})
        if one.bridge is not None:
            self.pbx.bridge_peers(one.bridge, 1)

    def bridged(self, two: Channel, bridge: Bridge) -> None:
        """`;2` and the target share a bridge: ATTENDEDTRANSFER cleared, one round of peers (target first);
        after a transfer already done (the transferer hung up while it rang) the pair optimises now."""
        consultation = self.of_local(two)
        self.pbx.var_set(two, "ATTENDEDTRANSFER", "")
        self.pbx.bridge_peers(bridge, 1)
        if consultation is not None and consultation.phase == "merged":
            self._later(consultation, OPTIMIZE_AFTER, lambda: self._optimize(consultation))

    # ---- 3. the transferer hangs up: the transfer is done --------------------------------------------
    def transferer_gone(self, channel: Channel, cause: int | None) -> bool:
        """The transferer hung up (phone or AMI Hangup). True if the transfer took care of it."""
        consultation = self._by_transferer.get(channel.uniqueid)
        if consultation is None or consultation.phase in ("merged", "done"):
            return False
        if consultation.phase == "collecting":  # hung up while dialling the target: the caller's music stops
            for caller in consultation.callers():
                self.pbx.channel_event("MusicOnHoldStop", caller)
            self._forget(consultation)
            return False
        if not consultation.callers():
            self._end(consultation, cause)
        else:
            self._complete(consultation, cause)
        return True

    def _complete(self, consultation: Consultation, cause: int | None) -> None:
        pbx = self.pbx
        transferer, one, two = consultation.transferer, consultation.local_one, consultation.local_two
        home, bridge = consultation.home, consultation.bridge
        assert one is not None and two is not None and bridge is not None
        consultation.phase = "merged"
        callers = consultation.callers()
        target = consultation.target()
        pbx.clear_peer(transferer)
        pbx.leave_bridge(transferer)
        pbx.emit({"Event": "BridgeMerge", "Privilege": "call,all", **home.block("To"), **bridge.block("From")})
        pbx.leave_bridge(one)
        pbx.enter_bridge(home, one)
        for caller in callers:
            pbx.channel_event("MusicOnHoldStop", caller)
        pbx.bridge_peers(home, 1)
        caller = callers[0]
        pbx.set_connected(one, caller.cid_num, caller.cid_name)
        pbx.set_connected(caller, one.cid_num, one.cid_name)
        pbx.emit({"Event": "AttendedTransfer", "Privilege": "call,all", "Result": "Success",
                  **transferer.block("OrigTransferer"), **home.block("Orig"),
                  **transferer.block("SecondTransferer"), **bridge.block("Second"),
                  **caller.block("Transferee"), **one.block("TransferTarget"),
                  "IsExternal": "No", "DestType": "Bridge", "DestBridgeUniqueid": home.uniqueid})
        if target is not None and consultation.answered:
            pbx.set_connected(target, caller.cid_num, caller.cid_name)
        pbx.destroy_bridge(bridge)
        pbx.destroy(transferer, cause if cause is not None else 16)
        if target is not None and target.bridge is not None:
            pbx.bridge_peers(target.bridge, 1)
        two.cid_num, two.cid_name = caller.cid_num, caller.cid_name
        pbx.channel_event("NewCallerid", two, **{"CID-CallingPres": CALLING_PRESENTATION})
        self._now_talks_to(caller, one)
        if consultation.answered:
            self._later(consultation, OPTIMIZE_AFTER, lambda: self._optimize(consultation))

    def _now_talks_to(self, caller: Channel, leg: Channel) -> None:
        """The caller's Dial goes on with `leg` as its peer: when either hangs up, as after any call."""
        from callcenter.simulator.dialplan_runner import Dial, InBridge

        running = caller.running
        if isinstance(running, Dial):
            running.leg = leg
        if not isinstance(leg.running, InBridge):
            leg.running = InBridge(leg, "dialled", None)

    def _optimize(self, consultation: Consultation) -> None:
        """e-atxfer: the target takes `;1`'s place in the caller's bridge, then the pair hangs up."""
        pbx = self.pbx
        one, two, target = consultation.local_one, consultation.local_two, consultation.target()
        if (consultation.phase != "merged" or one is None or two is None or target is None or one.gone or two.gone
                or one.bridge is None or two.bridge is None):
            return
        home, far = one.bridge, two.bridge
        number = str(next(self._optimizations))
        pbx.emit({"Event": "LocalOptimizationBegin", "Privilege": "call,all", **one.block("LocalOne"),
                  **two.block("LocalTwo"), **target.block("Source"), "DestUniqueId": two.uniqueid, "Id": number})
        pbx.leave_bridge(target)
        pbx.clear_peer(one)
        pbx.leave_bridge(one)
        pbx.enter_bridge(home, target, swapping=one)
        pbx.bridge_peers(home, 1)
        pbx.clear_peer(two)
        pbx.emit({"Event": "LocalOptimizationEnd", "Privilege": "call,all", **one.block("LocalOne"),
                  **two.block("LocalTwo"), "Success": "No", "Id": number})
        pbx.leave_bridge(two)
        consultation.phase = "done"
        self._forget(consultation)
        from callcenter.simulator.dialplan_runner import Dial

        running = two.running
        if isinstance(running, Dial):
            pbx.runner.dial_ended_in_bridge(running)
        pbx.channel_event("SoftHangupRequest", two, Cause="16")
        pbx.var_set(one, "CHANLOCALSTATUS", "ANSWER")
        pbx.channel_event("HangupRequest", one, Cause="16")
        for caller in home.channels:
            if caller is not target:
                self._now_talks_to(caller, target)
        pbx.destroy(two, 16)
        pbx.destroy(one, 16)
        pbx.destroy_bridge(far)

    # ---- the consultation ends without a transfer ----------------------------------------------------
    def channel_gone(self, channel: Channel) -> None:
        """A channel is being destroyed (Pbx.destroy): the end of a Local half ends the consultation it
        served, after that channel's own Hangup (hence the zero delay)."""
        consultation = self._by_local.get(channel.uniqueid) if channel.is_local else None
        if consultation is None:
            consultation = self._by_transferer.get(channel.uniqueid)
            if consultation is not None and consultation.phase == "collecting":
                self._forget(consultation)
            elif consultation is not None and consultation.phase == "consulting":  # gone some other way
                self.pbx.clock.call_later(0, lambda: self._target_gone(consultation))
            return
        if consultation.phase == "consulting":
            self.pbx.clock.call_later(0, lambda: self._target_gone(consultation))
        elif consultation.phase == "merged" and channel is consultation.local_two:
            self.pbx.clock.call_later(0, lambda: self._never_answered(consultation))
        elif consultation.phase == "merged":  # ;1 went with the caller (it hung up before the optimisation)
            self.pbx.clock.call_later(0, lambda: self._caller_side_gone(consultation))

    def _target_gone(self, consultation: Consultation) -> None:
        if consultation.phase != "consulting":
            return
        one = consultation.local_one
        if one is not None and not one.gone:
            self.pbx.channel_event("HangupRequest", one, Cause="16")
        self._return(consultation)

    def _never_answered(self, consultation: Consultation) -> None:
        """The transferer hung up while the target rang, and the target never answered: `;1` leaves the
        caller, whose Dial then ends as when an agent hangs up."""
        if consultation.phase != "merged":
            return
        consultation.phase = "done"
        self._forget(consultation)
        one = consultation.local_one
        if one is not None and not one.gone:
            self.pbx.runner.agent_left_dial_bridge(one)

    def _caller_side_gone(self, consultation: Consultation) -> None:
        """The caller hung up after the transfer, before the pair optimised away: the target's side goes too."""
        if consultation.phase != "merged":
            return
        consultation.phase = "done"
        self._forget(consultation)
        two = consultation.local_two
        if two is not None and not two.gone:
            self.pbx.runner.caller_gone(two, 16)

    def _return(self, consultation: Consultation) -> None:
        """The transferer goes back to the caller (CancelAtxfer, or the target's leg ended), then the Local pair
        and the target's leg hang up."""
        pbx = self.pbx
        consultation.phase = "done"
        transferer, home = consultation.transferer, consultation.home
        callers = consultation.callers()
        if not transferer.gone:
            if transferer.bridge is not None and transferer.bridge is not home:
                pbx.leave_bridge(transferer)
            if not callers:  # the caller left meanwhile: nobody to go back to
                pbx.destroy(transferer, 16)
            else:
                if transferer.bridge is None:
                    pbx.enter_bridge(home, transferer)
                    pbx.bridge_peers(home, 1)
                caller = callers[0]
                pbx.set_connected(transferer, caller.cid_num, caller.cid_name)
                pbx.channel_event("Unhold", transferer)
                for caller in callers:
                    pbx.channel_event("MusicOnHoldStop", caller)
        self._forget(consultation)
        self._drop_pair(consultation)

    def _end(self, consultation: Consultation, cause: int | None) -> None:
        """The transferer hangs up after the caller has gone: nothing to transfer; everything else goes."""
        pbx = self.pbx
        consultation.phase = "done"
        transferer = consultation.transferer
        pbx.clear_peer(transferer)
        pbx.leave_bridge(transferer)
        self._forget(consultation)
        pbx.destroy(transferer, cause if cause is not None else 16)
        self._drop_pair(consultation)

    def _drop_pair(self, consultation: Consultation) -> None:
        pbx = self.pbx
        one, two, bridge = consultation.local_one, consultation.local_two, consultation.bridge
        if one is not None and not one.gone:
            pbx.leave_bridge(one)
        if bridge is not None:
            pbx.destroy_bridge(bridge)
        if one is not None and not one.gone:
            pbx.destroy(one, 16)
        if two is not None and not two.gone:
            pbx.runner.caller_gone(two, 16)

    def transferee_gone(self, channel: Channel, cause: int) -> bool:
        """The caller hangs up while its agent consults: it leaves the bridge alone; the consultation goes on.
        True if the transfer took care of it."""
        from callcenter.simulator.dialplan_runner import Dial

        running = channel.running
        leg = running.leg if isinstance(running, Dial) else None
        consultation = self._by_transferer.get(leg.uniqueid) if leg is not None else None
        if consultation is None or consultation.phase != "consulting" or channel.bridge is not consultation.home:
            return False
        assert isinstance(running, Dial)
        pbx = self.pbx
        pbx.channel_event("MusicOnHoldStop", channel)
        home = pbx.leave_bridge(channel)
        pbx.runner.dial_ended_in_bridge(running)
        if home is not None and not home.channels:
            pbx.destroy_bridge(home)
        pbx.channel_event("SoftHangupRequest", channel, Cause="16")
        pbx.destroy(channel, cause)
        return True

    def _unhold(self, consultation: Consultation) -> None:
        self.pbx.channel_event("Unhold", consultation.transferer)
        for caller in consultation.callers():
            self.pbx.channel_event("MusicOnHoldStop", caller)

    def _forget(self, consultation: Consultation) -> None:
        for timer in consultation.timers:
            timer.cancel()
        consultation.timers.clear()
        if self._by_transferer.get(consultation.transferer.uniqueid) is consultation:
            del self._by_transferer[consultation.transferer.uniqueid]
        for half in (consultation.local_one, consultation.local_two):
            if half is not None and self._by_local.get(half.uniqueid) is consultation:
                del self._by_local[half.uniqueid]
