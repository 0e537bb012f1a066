"""HTTP side of the ACD: agents' state (log in, ready, not ready with a reason, wrap-up) and queues.

An agent changes (and reads the history of) only their own state (their endpoint is their agent id);
supervisors and admins anyone's. A request the router cannot take in the agent's present state (pause a logged-out
agent, end a wrap-up that is not running) answers 409 with the router's reason.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.events import AcdEvent, InputIgnored
from acd.model import AgentConfig
from callcenter.auth.errors import Forbidden
from callcenter.auth.http import Guard
from callcenter.auth.service import Role, SignedIn
from callcenter.errors import Conflict, Invalid, NotFound
from callcenter.routing.history import AgentHistory, agent_history
from callcenter.routing.service import RoutingService


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=40)


class AgentChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    skills: dict[str, int] | None = None  # skill: level 1..100; replaces all the agent's skills
    queues: list[str] | None = Field(None, min_length=1)


class QueuesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queues: list[str] = Field(min_length=1)  # among the agent's assigned queues


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str | None = Field(None, pattern=r"^\+?[0-9]{3,20}$")  # default: the calling number


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(gt=0, le=3600)


@dataclass(frozen=True, slots=True)
class AgentOut:
    agent_id: str
    name: str
    state: str
    queues: list[str]   # assigned (acd.yaml, or a supervisor's change)
    serving: list[str]  # those of them the agent chose to serve now
    skills: dict[str, int]
    call_id: str | None


@dataclass(frozen=True, slots=True)
class WaitingOut:
    call_id: str
    position: int | None
    expected_wait: float | None
    priority: int
    waited: float


@dataclass(frozen=True, slots=True)
class QueueOut:
    name: str
    waiting: list[WaitingOut]
    free_agents: list[str]


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def routing_routes(routing: RoutingService, guard: Guard,
                   sessions: async_sessionmaker[AsyncSession]) -> APIRouter:
    router = APIRouter(prefix="/api")
    SignedInUser = Annotated[SignedIn, Depends(guard.user)]

    def may_change(signed_in: SignedIn, agent_id: str) -> None:
        if agent_id not in routing.config.agents:
            raise NotFound(f"no agent {agent_id!r} in the ACD configuration")
        user = signed_in.user
        if user.role == Role.AGENT and user.endpoint != agent_id:
            raise Forbidden(f"an agent changes only their own state ({user.endpoint})")

    def outcome(events: list[AcdEvent]) -> None:
        ignored = next((e for e in events if isinstance(e, InputIgnored)), None)
        if ignored is not None:
            raise Conflict(f"{ignored.input} {ignored.subject}: {ignored.reason}")

    def agent_out(agent_id: str) -> AgentOut:
        config = routing.config.agents[agent_id]
        return AgentOut(agent_id, routing.config.names.get(agent_id, agent_id),
                        routing.router.agent_state(agent_id).value, list(config.queues),
                        list(routing.serving(agent_id)), dict(config.skills), routing.router.agent_call(agent_id))

    @router.get("/agents")
    async def agents(signed_in: SignedInUser) -> list[AgentOut]:
        """Every configured agent and its state; an agent sees itself."""
        wanted = [a for a in routing.config.agents
                  if signed_in.user.role != Role.AGENT or a == signed_in.user.endpoint]
        return [agent_out(a) for a in wanted]

    @router.patch("/agents/{agent_id}", dependencies=[Depends(guard.role(Role.SUPERVISOR, Role.ADMIN))])
    async def change(agent_id: str, body: AgentChangeIn) -> AgentOut:
        """Skills and queues, live: a free agent takes a caller it now matches at once; a busy one keeps
        its call. Kept until the server restarts (config/acd.yaml is the lasting place)."""
        current = routing.config.agents.get(agent_id)
        if current is None:
            raise NotFound(f"no agent {agent_id!r} in the ACD configuration")
        try:
            agent = AgentConfig(agent_id, body.skills if body.skills is not None else dict(current.skills),
                                tuple(body.queues) if body.queues is not None else current.queues)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        outcome(routing.change_agent(agent))
        return agent_out(agent_id)

    @router.post("/agents/{agent_id}/login")
    async def log_in(agent_id: str, signed_in: SignedInUser) -> AgentOut:
        may_change(signed_in, agent_id)
        outcome(routing.log_in(agent_id))
        return agent_out(agent_id)

    @router.put("/agents/{agent_id}/queues")
    async def choose_queues(agent_id: str, body: QueuesIn, signed_in: SignedInUser) -> AgentOut:
        """Which of their assigned queues the agent serves now (the agent, or a supervisor for them); live
        when logged in. Kept until the server restarts."""
        may_change(signed_in, agent_id)
        outcome(routing.choose_queues(agent_id, body.queues))
        return agent_out(agent_id)

    @router.post("/agents/{agent_id}/logout")
    async def log_out(agent_id: str, signed_in: SignedInUser) -> AgentOut:
        may_change(signed_in, agent_id)
        outcome(routing.log_out(agent_id))
        return agent_out(agent_id)

    @router.post("/agents/{agent_id}/pause")
    async def pause(agent_id: str, body: PauseIn, signed_in: SignedInUser) -> AgentOut:
        may_change(signed_in, agent_id)
        outcome(routing.pause(agent_id, body.reason))
        return agent_out(agent_id)

    @router.post("/agents/{agent_id}/ready")
    async def ready(agent_id: str, signed_in: SignedInUser) -> AgentOut:
        may_change(signed_in, agent_id)
        outcome(routing.resume(agent_id))
        return agent_out(agent_id)

    @router.post("/agents/{agent_id}/wrap-up/end")
    async def end_wrap_up(agent_id: str, signed_in: SignedInUser) -> AgentOut:
        may_change(signed_in, agent_id)
        outcome(routing.end_wrap_up(agent_id))
        return agent_out(agent_id)

    @router.post("/agents/{agent_id}/wrap-up/extend")
    async def extend_wrap_up(agent_id: str, body: ExtendIn, signed_in: SignedInUser) -> AgentOut:
        may_change(signed_in, agent_id)
        outcome(routing.extend_wrap_up(agent_id, body.seconds))
        return agent_out(agent_id)

    @router.get("/agents/{agent_id}/states")
    async def states(
        agent_id: str,
        signed_in: SignedInUser,
        start: Annotated[datetime, Query(description="ISO 8601, inclusive; no zone means UTC")],
        end: Annotated[datetime, Query(description="ISO 8601, exclusive")],
    ) -> AgentHistory:
        """The agent's state changes in [start, end) and the seconds spent in each state (productivity)."""
        may_change(signed_in, agent_id)
        start, end = aware(start), aware(end)
        if end <= start:
            raise Invalid("end must be after start")
        if (end - start).days > 400:
            raise Invalid("at most 400 days per request")
        return await agent_history(sessions, agent_id, start, end, datetime.fromtimestamp(routing.clock(), UTC))

    @router.post("/calls/{call_id}/callback", dependencies=[Depends(guard.role(Role.SUPERVISOR, Role.ADMIN))])
    async def callback(call_id: str, body: CallbackIn) -> dict[str, str]:
        """A waiting caller is called back instead of waiting: it keeps its place, hears that it will be
        called back and leaves the line; when its turn comes an agent is reserved and the number dialled."""
        outcome(routing.request_callback(call_id, body.number))
        view = routing.router.call(call_id)
        return {"call_id": call_id, "number": view.callback_number if view and view.callback_number else ""}

    @router.get("/queues", dependencies=[Depends(guard.role(Role.SUPERVISOR, Role.ADMIN))])
    async def queues() -> list[QueueOut]:
        """Each queue's waiting callers (position, expected wait) and free agents."""
        now = routing.clock()
        out = []
        for queue in routing.config.settings.queues:
            waiting = []
            for call_id in routing.router.waiting_calls(queue.name):
                view = routing.router.call(call_id)
                waiting.append(WaitingOut(call_id, routing.router.position(call_id),
                                          routing.router.expected_wait(call_id, now),
                                          view.priority if view else 0,
                                          round(now - view.arrived_at, 1) if view else 0.0))
            out.append(QueueOut(queue.name, waiting, routing.router.free_agents(queue.name)))
        return out

    return router
