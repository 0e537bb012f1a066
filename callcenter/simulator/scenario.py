"""The simulator's scenario file (`config/simulator.yaml`): agents, their bots, callers, faults.

Validated like the settings: an error names the file, the key path, the value and what is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from callcenter.settings import SettingsError, describe_errors, read_yaml
from callcenter.simulator.people import AgentBehaviour, CallerBehaviour, CustomerBehaviour, Span


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _span(value: object) -> object:
    """`[low, high]` or one number (always that)."""
    if isinstance(value, int | float):
        return [value, value]
    return value


class SpanModel(_Strict):
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: object) -> object:
        value = _span(value)
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError("a span is [low, high] in seconds, or one number")
            return {"low": value[0], "high": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> SpanModel:
        if self.high < self.low:
            raise ValueError(f"the span [{self.low}, {self.high}] ends before it starts")
        return self

    def span(self) -> Span:
        return Span(self.low, self.high)


class BotAgents(_Strict):
    count: int = Field(10, ge=0, le=10_000)
    first_number: int = Field(1001, ge=1)  # endpoint agent<number>, caller id <number>
    answer_after: SpanModel = SpanModel(low=1.0, high=4.0)
    miss_rate: float = Field(0.05, ge=0, le=1)
    talk: SpanModel = SpanModel(low=30.0, high=240.0)
    break_every: SpanModel | None = None  # seconds between a bot's breaks (none: no breaks)
    break_length: SpanModel = SpanModel(low=120.0, high=600.0)


class AgentsModel(_Strict):
    bots: BotAgents = BotAgents()
    people: list[str] = []  # endpoints answered by a person from the agent page (e.g. agent1099)
    context: str = "agents"  # the endpoints' context in pjsip.conf

    @field_validator("people")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name or not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"endpoint name {name!r} must be letters, digits, - or _")
        return names


class TrafficModel(_Strict):
    dnis: str = Field(min_length=1, pattern=r"^[0-9A-Za-z+*#_-]+$")
    calls_per_minute: float = Field(ge=0, le=60_000)
    patience: SpanModel = SpanModel(low=30.0, high=180.0)
    talk: SpanModel = SpanModel(low=20.0, high=200.0)
    digits: str = Field("", pattern=r"^[0-9*#,]*$")  # one comma-separated group per IVR question
    numbers: list[str] = []
    names: list[str] = []


class CustomersModel(_Strict):
    """The far side of the trunk, for the calls the center makes."""

    busy: list[str] = ["5550000"]
    no_answer: list[str] = ["5550001"]
    unreachable: list[str] = ["5550002"]
    answer_after: SpanModel = SpanModel(low=2.0, high=6.0)
    talk: SpanModel = SpanModel(low=30.0, high=120.0)


class FaultModel(_Strict):
    fault: Literal["drop", "silent", "restart", "garbage", "slow"]
    at: float = Field(ge=0)  # seconds of PBX time after start
    every: float | None = Field(None, gt=0)  # then again every this many seconds
    duration: float = Field(5.0, gt=0)  # for silent and slow: how long it lasts


class Scenario(_Strict):
    seed: int = 1
    trunk_context: str = "from-trunk"  # where trunk calls enter the dialplan (pjsip.conf's trunk context)
    agents: AgentsModel = AgentsModel()
    traffic: list[TrafficModel] = []
    customers: CustomersModel = CustomersModel()
    faults: list[FaultModel] = []

    def customer_behaviour(self) -> CustomerBehaviour:
        c = self.customers
        return CustomerBehaviour(tuple(c.busy), tuple(c.no_answer), tuple(c.unreachable), c.answer_after.span(),
                                 c.talk.span())

    def bot_behaviour(self) -> AgentBehaviour:
        bots = self.agents.bots
        return AgentBehaviour(bots.answer_after.span(), bots.miss_rate, bots.talk.span(),
                              bots.break_every.span() if bots.break_every is not None else None,
                              bots.break_length.span())

    def caller_behaviours(self) -> list[CallerBehaviour]:
        return [CallerBehaviour(t.dnis, t.calls_per_minute, t.patience.span(), t.talk.span(), t.digits,
                                tuple(t.numbers), tuple(t.names)) for t in self.traffic]


def load_scenario(path: Path) -> Scenario:
    if not path.exists():
        raise SettingsError(f"{path}: no such simulator scenario file")
    data = read_yaml(path)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc, path, {}, data)) from None
