"""Consultations: an agent holds the caller to talk to someone first (an attended transfer, AMI Atxfer).

Asterisk shows one this way (trace app-queue/e-atxfer): a Local channel pair appears whose `VarSet
ATTENDEDTRANSFER` names the transferer's channel; the pair's `;2` dials the target (DialBegin, DialEnd
ANSWER); the transferer leaves the caller's bridge for the pair's; AttendedTransfer completes it. Without a
transfer the transferer comes back to the caller's bridge, or hangs up. The tracker finds those facts and
hands them here; this class keeps one consultation per call and says what happened as domain events.
Pure: no I/O, `now` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.events import ConsultationAnswered, ConsultationEnded, ConsultationOutcome, ConsultationStarted, DomainEvent
from cti.model import Channel
from cti.records import LegRole


@dataclass(slots=True)
class Consultation:
    call_id: str
    transferer: str  # Uniqueid of the transferring agent's leg
    agent: str | None
    to: str | None
    pair: str  # the Local pair's key (cti.bridges.local_pair_key)
    target: str | None = None  # Uniqueid of the leg the pair dialled
    target_agent: str | None = None
    answered: bool = False


class Consultations:
    def __init__(self) -> None:
        self._by_call: dict[str, Consultation] = {}
        self._by_pair: dict[str, Consultation] = {}

    def of_call(self, call_id: str) -> Consultation | None:
        return self._by_call.get(call_id)

    def begin(self, local: Channel, transferer: Channel, now: float) -> list[DomainEvent]:
        """ATTENDEDTRANSFER on a Local channel names the transferer: the consultation rings `local`'s exten."""
        pair = local.local_pair_key
        if pair is None or pair in self._by_pair or transferer.call_id in self._by_call:
            return []
        consultation = Consultation(transferer.call_id, transferer.uniqueid, transferer.agent,
                                    local.location[1] or None, pair)
        self._by_call[consultation.call_id] = self._by_pair[pair] = consultation
        return [ConsultationStarted(now, consultation.call_id, consultation.agent, consultation.transferer,
                                    consultation.to)]

    def dialled(self, source: Channel, dest: Channel) -> None:
        """The pair's `;2` dials the target."""
        consultation = self._by_pair.get(source.local_pair_key or "")
        if consultation is not None and consultation.target is None:
            consultation.target = dest.uniqueid
            consultation.target_agent = dest.agent if dest.role is LegRole.AGENT else None

    def answered(self, source: Channel, dest: Channel, now: float) -> list[DomainEvent]:
        consultation = self._by_pair.get(source.local_pair_key or "")
        if consultation is None or consultation.target != dest.uniqueid or consultation.answered:
            return []
        consultation.answered = True
        return [ConsultationAnswered(now, consultation.call_id, consultation.agent, consultation.transferer,
                                     consultation.target_agent, dest.uniqueid)]

    def transferred(self, call_id: str, transferer: str, now: float) -> list[DomainEvent]:
        """AttendedTransfer of this consultation's transferer."""
        return self._end(call_id, ConsultationOutcome.TRANSFERRED, now, transferer)

    def connected(self, call_id: str, agent_leg: str, now: float) -> list[DomainEvent]:
        """The transferer talks to the caller again: back without a transfer."""
        return self._end(call_id, ConsultationOutcome.RETURNED, now, agent_leg)

    def leg_gone(self, call_id: str, uniqueid: str, now: float) -> list[DomainEvent]:
        """The transferer's leg hung up without a transfer (the caller had gone)."""
        return self._end(call_id, ConsultationOutcome.ENDED, now, uniqueid)

    def call_over(self, call_id: str, now: float) -> list[DomainEvent]:
        consultation = self._by_call.get(call_id)
        return [] if consultation is None else self._end(call_id, ConsultationOutcome.ENDED, now,
                                                         consultation.transferer)

    def _end(self, call_id: str, outcome: ConsultationOutcome, now: float, transferer: str) -> list[DomainEvent]:
        consultation = self._by_call.get(call_id)
        if consultation is None or consultation.transferer != transferer:
            return []
        del self._by_call[call_id]
        self._by_pair.pop(consultation.pair, None)
        return [ConsultationEnded(now, call_id, consultation.agent, consultation.transferer, outcome,
                                  consultation.target_agent, consultation.target)]
