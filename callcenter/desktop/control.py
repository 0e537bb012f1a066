"""Call control from the desktop: third-party control over AMI, so it works with any phone and with the
simulated PBX alike.

- Hang up: `Hangup` of the agent's leg. The caller's dialplan goes on (the survey or a goodbye): Dial's
  `g` in the connect context.
- Blind transfer, by `Redirect` of the caller's channel (names from `cti.contract`):
  - to an agent: `cc-connect,<agent>,1`, whose Dial rings that agent for the caller's CC_RING_TIMEOUT and
    sends the caller back to waiting on no answer (so the ACD routes it again). The target must be
    available; from the moment their phone rings the ACD counts them on that call (the routing service
    sees a ring it did not decide: `Router.direct_call_started`) and offers them nobody until it ends.
  - to a queue: `Setvar CC_QUEUE`, then `cc-wait,s,1`; the waiting context announces the caller
    (CCWaiting) and the ACD routes it like a new arrival.
  - to a number: `cc-outbound,<number>,1`, which dials it over the trunk.
- Hold and resume: a real phone holds by re-INVITE (the softphone's own function: there is no AMI action
  for it); with the simulated PBX the simulator's phone does it (`SimulatedPhones`).
- Attended transfer (consult first), by AMI `Atxfer` on the agent's leg with Context `cc-consult` and Exten
  `<agent endpoint>#` or `<number>#` (the `#` ends the digits at once): Asterisk holds the caller and rings
  the target through a Local channel pair; the agent talks to them. An agent target must be available, as
  for a blind transfer; from the ring the ACD counts them on the call. Then:
  - complete: `Hangup` of the agent's leg, once the target has answered (Asterisk then joins the caller and
    the target, as the recorded trace e-atxfer shows; the call is the target's from there);
  - cancel: `CancelAtxfer` on the agent's leg (features.conf's `atxferabort`): the agent has the caller back.
  While consulting, the call cannot be hung up, held or transferred otherwise (complete or cancel first).

An agent controls only the calls they are on (not one they are only consulted on); supervisors and admins
any call.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from acd.model import AgentState
from callcenter.auth.errors import Forbidden
from callcenter.auth.service import Role, SignedIn
from callcenter.desktop.calls import CallBook, CallStatus, Consultation, DeskCall
from callcenter.desktop.simphone import SimulatedPhones
from callcenter.errors import Conflict, Invalid, NotFound, ServiceError
from callcenter.routing.service import RoutingService
from cti import contract

Send = Callable[[Mapping[str, str]], Awaitable[Mapping[str, Any]]]

NUMBER = re.compile(r"\d{2,20}")  # cc-outbound matches _X.: digits only


class NotSupported(ServiceError):
    status = 501


class ActionRefused(ServiceError):
    status = 502  # Asterisk said no (the channel went away meanwhile, ...)


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # agent / queue / number
    value: str

    @classmethod
    def parse(cls, text: str) -> Target:
        kind, _, value = text.partition(":")
        if kind not in ("agent", "queue", "number") or not value:
            raise Invalid('to: "agent:<endpoint>", "queue:<name>" or "number:<digits>"')
        return cls(kind, value)


class CallControl:
    def __init__(self, book: CallBook, send: Send, routing: RoutingService, phones: SimulatedPhones | None) -> None:
        self.book, self.send, self.routing, self.phones = book, send, routing, phones

    def call_for(self, signed_in: SignedIn, call_id: str, *, live: bool = True) -> DeskCall:
        """The call, if this user may act on it: an agent only while on it (ringing, talking, held)."""
        call = self.book.calls.get(call_id) if live else self.book.call(call_id)
        if call is None:
            raise NotFound(f"no {'live ' if live else ''}call {call_id!r}")
        user = signed_in.user
        if user.role is Role.AGENT and (user.endpoint is None or call.agent != user.endpoint):
            raise Forbidden(f"an agent controls only calls they are on ({user.endpoint})")
        return call

    async def hang_up(self, signed_in: SignedIn, call_id: str) -> None:
        call = self.call_for(signed_in, call_id)
        if call.consultation is not None:
            raise Conflict("a consultation is in progress: complete or cancel the transfer")
        if call.agent_leg is None:
            raise Conflict("no agent is on this call")
        await self._action({"Action": "Hangup", "Channel": call.agent_leg, "Cause": "16"})

    async def hold(self, signed_in: SignedIn, call_id: str, *, on: bool) -> None:
        call = self.call_for(signed_in, call_id)
        if call.status not in (CallStatus.TALKING, CallStatus.HELD) or call.agent is None:
            raise Conflict(f"the call is {call.status.value}, not talking")
        if self.phones is None:
            raise NotSupported("on a real Asterisk the agent's softphone holds and resumes the call")
        if on:
            self.phones.hold(call.agent)
        else:
            self.phones.resume(call.agent)

    async def transfer(self, signed_in: SignedIn, call_id: str, to: str, kind: str) -> dict[str, str]:
        call = self.call_for(signed_in, call_id)
        if call.status not in (CallStatus.TALKING, CallStatus.HELD):
            raise Conflict(f"the call is {call.status.value}: transfer a call you are talking in")
        target = Target.parse(to)
        if kind == "attended":
            await self._consult(call, target)
            return {"call_id": call_id, "to": to, "kind": kind}
        channel = call.caller_channel
        if target.kind == "agent":
            self._check_agent(call, target.value)
            await self._action({"Action": "Redirect", "Channel": channel, "Context": contract.CONNECT_CONTEXT,
                                "Exten": target.value, "Priority": "1"})
        elif target.kind == "queue":
            if target.value not in self.routing.config.queue_names:
                raise NotFound(f"no queue {target.value!r}")
            await self._action({"Action": "Setvar", "Channel": channel, "Variable": contract.VAR_QUEUE,
                                "Value": target.value})
            # the skills the IVR asked for belong to the queue it chose: the new queue's own apply
            await self._action({"Action": "Setvar", "Channel": channel, "Variable": contract.IVR_VAR_SKILLS,
                                "Value": ""})
            await self._action({"Action": "Redirect", "Channel": channel, "Context": contract.WAIT_CONTEXT,
                                "Exten": "s", "Priority": "1"})
        else:
            if not NUMBER.fullmatch(target.value):
                raise Invalid("a number is 2 to 20 digits")
            await self._action({"Action": "Redirect", "Channel": channel, "Context": contract.OUTBOUND_CONTEXT,
                                "Exten": target.value, "Priority": "1"})
        return {"call_id": call_id, "to": to, "kind": kind}

    def _check_agent(self, call: DeskCall, agent: str) -> None:
        """A transfer target agent: known to the ACD, not the call's own, free to take it now."""
        if agent not in self.routing.config.agents:
            raise NotFound(f"no agent {agent!r}")
        if agent == call.agent:
            raise Conflict("the call is already with this agent")
        state = self.routing.router.agent_state(agent)
        if state is not AgentState.AVAILABLE:
            raise Conflict(f"{agent} is {state.value}, not available")

    async def _consult(self, call: DeskCall, target: Target) -> None:
        """Attended transfer, first step: Atxfer on the agent's leg into cc-consult."""
        if target.kind == "agent":
            self._check_agent(call, target.value)
        elif target.kind == "number":
            if not NUMBER.fullmatch(target.value):
                raise Invalid("a number is 2 to 20 digits")
        else:
            raise Invalid('an attended transfer goes to "agent:<endpoint>" or "number:<digits>"')
        if call.agent_leg is None:
            raise Conflict("no agent is on this call")
        await self._action({"Action": "Atxfer", "Channel": call.agent_leg, "Context": contract.CONSULT_CONTEXT,
                            "Exten": target.value + contract.CONSULT_END})

    async def complete_transfer(self, signed_in: SignedIn, call_id: str) -> None:
        """The agent leaves the consultation: the caller and the one consulted are joined (e-atxfer)."""
        consultation = self._consultation(signed_in, call_id)
        if not consultation.answered:
            raise Conflict("the one consulted has not answered yet: wait, or cancel")
        await self._action({"Action": "Hangup", "Channel": consultation.agent_leg, "Cause": "16"})

    async def cancel_transfer(self, signed_in: SignedIn, call_id: str) -> None:
        """Back to the caller; the one consulted is hung up (or stops ringing)."""
        consultation = self._consultation(signed_in, call_id)
        await self._action({"Action": "CancelAtxfer", "Channel": consultation.agent_leg})

    def _consultation(self, signed_in: SignedIn, call_id: str) -> Consultation:
        call = self.call_for(signed_in, call_id)
        if call.consultation is None:
            raise Conflict(f"the call is {call.status.value}: no consultation in progress")
        return call.consultation

    async def _action(self, action: Mapping[str, str]) -> None:
        try:
            reply = await self.send(action)
        except Exception as exc:  # AMI down or slow
            raise ActionRefused(f"{action['Action']} failed: {exc}") from None
        if reply.get("Response") != "Success":
            raise ActionRefused(f"Asterisk refused {action['Action']}: {reply.get('Message', 'no reason given')}")
