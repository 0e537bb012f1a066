"""The ACD's configuration file (`config/acd.yaml`): queues with their rules, agents with skills.

Read into the pure core's frozen types (`acd.model`). Errors name the file, the key path, the value
and what is wrong; a value the core refuses (its own checks) is reported with the queue or agent it
belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acd.hours import Opening, OpeningHours
from acd.model import (
    AcdSettings,
    AgentConfig,
    CallbackRule,
    ExitAction,
    QueueConfig,
    RelaxationStep,
    RoutingPolicy,
    SkillRequirement,
)
from callcenter.settings import SettingsError, describe_errors, read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HoursModel(_Strict):
    time_zone: str = "UTC"
    # "mon-fri": ["08:00-18:00"], "sat": ["09:00-13:00"]; a day not named is closed
    week: dict[str, list[str]]
    holidays: list[date] = []


class RelaxationModel(_Strict):
    after: float = Field(gt=0)
    lower_by: int = Field(0, ge=0)
    add_group: dict[str, int] = {}  # skill: minimum level


class CallbackModel(_Strict):
    dial_timeout: float = Field(30.0, gt=0)
    retry_after: float = Field(300.0, ge=0)
    max_attempts: int = Field(3, ge=1)


class AnnounceModel(_Strict):
    every: float = Field(60.0, ge=15)  # seconds between two announcements to the same waiting caller
    position: bool = True              # "there are <n> calls waiting" / "you are next"
    expected_wait: bool = True         # "the estimated hold time is <n> minutes" (2 minutes or more)


class QueueModel(_Strict):
    skills: dict[str, int] = {}  # required skill: minimum level (1..100)
    priority: int = 0
    policy: RoutingPolicy = RoutingPolicy.LONGEST_IDLE
    wrap_up: float = Field(0.0, ge=0)
    ring_timeout: float = Field(20.0, gt=0)
    max_wait: float | None = Field(None, gt=0)
    max_size: int | None = Field(None, ge=1)
    join_when_empty: bool = True
    exit_action: ExitAction = ExitAction.VOICEMAIL
    overflow_to: str | None = None
    overflow_after: float | None = Field(None, gt=0)
    overflow_when_no_agents: bool = False
    relaxation: list[RelaxationModel] = []
    hours: HoursModel | None = None
    last_agent_days: float = Field(7.0, gt=0)
    callback: CallbackModel = CallbackModel()
    exit_prompt: str = Field("", pattern=r"^[A-Za-z0-9_/-]*$")  # what exit_action message plays (a sound name)
    announce: AnnounceModel | None = None  # position / expected wait told to waiting callers; None: music only


class AgentModel(_Strict):
    name: str = ""  # shown on dashboards
    skills: dict[str, int] = {}
    queues: list[str]
    login: Literal["auto", "manual"] = "manual"  # auto: logged in and ready when the server starts


class AcdFile(_Strict):
    time_zone: str = "UTC"
    pause_reasons: list[str] = ["break", "lunch", "training", "ring-no-answer"]
    pause_after_misses: int = Field(1, ge=1)
    default_queue: str | None = None  # for callers whose CC_QUEUE names no configured queue
    queues: dict[str, QueueModel]
    agents: dict[str, AgentModel] = {}  # by endpoint name (agent1001)


# Asterisk's Dial() rings the agent for the queue's ring_timeout; the router's own ring timer runs this
# much longer, as a backstop, so that the Dial's end (CCNoAnswer) is what the router normally hears.
RING_BACKSTOP = 2.0


class AcdConfig:
    """The validated file as the core's types."""

    def __init__(self, settings: AcdSettings, agents: dict[str, AgentConfig], auto_login: list[str],
                 default_queue: str, names: dict[str, str]) -> None:
        self.settings = settings
        self.agents = agents
        self.auto_login = auto_login
        self.default_queue = default_queue
        self.names = names
        self.queue_names = frozenset(q.name for q in settings.queues)
        self.exit_prompts: dict[str, str] = {}
        self.announcements: dict[str, Announce] = {}


@dataclass(frozen=True, slots=True)
class Announce:
    """What the waiting callers of one queue are told, and how often."""

    every: float
    position: bool
    expected_wait: bool


def _hours(model: HoursModel) -> OpeningHours:
    """`{"mon-fri": ["08:00-18:00"], "sat": ["09:00-13:00"]}`: the core's weekly periods."""
    periods: list[Opening] = []
    for days, spans in model.week.items():
        for span in spans:
            opens, _, closes = span.partition("-")
            weekly = OpeningHours.weekly(model.time_zone, days.lower(), opens.strip(), closes.strip())
            periods += weekly.periods
    return OpeningHours(model.time_zone, tuple(periods), frozenset(model.holidays))


def _queue(name: str, model: QueueModel) -> QueueConfig:
    return QueueConfig(
        name=name, required=tuple(SkillRequirement(s, level) for s, level in model.skills.items()),
        priority=model.priority, policy=model.policy, wrap_up=model.wrap_up,
        ring_timeout=model.ring_timeout + RING_BACKSTOP,
        max_wait=model.max_wait, max_size=model.max_size, join_when_empty=model.join_when_empty,
        exit_action=model.exit_action, overflow_to=model.overflow_to, overflow_after=model.overflow_after,
        overflow_when_no_agents=model.overflow_when_no_agents,
        relaxation=tuple(RelaxationStep(r.after, r.lower_by, tuple(SkillRequirement(s, level)
                                                                    for s, level in r.add_group.items()))
                         for r in model.relaxation),
        hours=_hours(model.hours) if model.hours is not None else None, last_agent_days=model.last_agent_days,
        callback=CallbackRule(model.callback.dial_timeout, model.callback.retry_after, model.callback.max_attempts),
    )


def build(file: AcdFile, path: Path) -> AcdConfig:
    problems: list[str] = []
    queues: list[QueueConfig] = []
    for name, model in file.queues.items():
        try:
            queues.append(_queue(name, model))
        except ValueError as exc:
            problems.append(f"{path}: queues.{name}: {exc}")
    agents: dict[str, AgentConfig] = {}
    for endpoint, agent in file.agents.items():
        unknown = [q for q in agent.queues if q not in file.queues]
        if unknown:
            problems.append(f"{path}: agents.{endpoint}.queues: {unknown} are no configured queues")
        try:
            agents[endpoint] = AgentConfig(endpoint, dict(agent.skills), tuple(agent.queues))
        except ValueError as exc:
            problems.append(f"{path}: agents.{endpoint}: {exc}")
    default = file.default_queue or next(iter(file.queues), None)
    if default is None or default not in file.queues:
        problems.append(f"{path}: default_queue: {default!r} is no configured queue")
    settings: AcdSettings | None = None
    if not problems:
        try:
            settings = AcdSettings(tuple(queues), frozenset(file.pause_reasons), file.pause_after_misses,
                                   file.time_zone)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
    if problems or settings is None or default is None:
        raise SettingsError("\n".join(problems))
    auto = [endpoint for endpoint, agent in file.agents.items() if agent.login == "auto"]
    names = {endpoint: agent.name or endpoint for endpoint, agent in file.agents.items()}
    config = AcdConfig(settings, agents, auto, default, names)
    config.exit_prompts = {name: model.exit_prompt for name, model in file.queues.items() if model.exit_prompt}
    config.announcements = {name: Announce(model.announce.every, model.announce.position,
                                           model.announce.expected_wait)
                            for name, model in file.queues.items()
                            if model.announce is not None and (model.announce.position or model.announce.expected_wait)}
    return config


def load_acd_config(path: Path) -> AcdConfig:
    if not path.exists():
        raise SettingsError(f"{path}: no such ACD configuration file")
    data = read_yaml(path)
    try:
        file = AcdFile.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc, path, {}, data)) from None
    return build(file, path)
