"""Automatic call distribution: agents, skills, queues and the routing policy (pure).

`Router` takes inputs (agent and call events, `now`) and returns decisions and events (`acd.events`).
Configuration is in `acd.model`, business hours in `acd.hours`.
"""

from acd.hours import Opening, OpeningHours
from acd.model import (
    RING_NO_ANSWER,
    AcdSettings,
    AgentConfig,
    AgentState,
    Call,
    CallbackRule,
    ExitAction,
    ExitReason,
    QueueConfig,
    RelaxationStep,
    RestoredAgent,
    RestoredCall,
    RoutingPolicy,
    SkillRequirement,
)
from acd.router import Router
from acd.state import CallPhase, CallView

__all__ = [
    "RING_NO_ANSWER",
    "AcdSettings",
    "AgentConfig",
    "AgentState",
    "Call",
    "CallPhase",
    "CallView",
    "CallbackRule",
    "ExitAction",
    "ExitReason",
    "Opening",
    "OpeningHours",
    "QueueConfig",
    "RelaxationStep",
    "RestoredAgent",
    "RestoredCall",
    "Router",
    "RoutingPolicy",
    "SkillRequirement",
]
