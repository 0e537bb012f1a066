"""What the runner asks its adapter to do, and what the adapter answers. Plain data.

An AGI command goes to Asterisk; the other requests go to the services (`ivr.services.IvrServices`):
our customer records, tickets, the ACD, outside systems, the survey store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Command:
    """Send this AGI command; answer with its `ivr.agi.AgiResult`."""

    text: str


@dataclass(frozen=True)
class FindCustomer:
    """Answer with a `CustomerInfo` or None."""

    by: str      # phone or reference
    value: str


@dataclass(frozen=True)
class CustomerInfo:
    reference: str
    name: str
    vip: bool
    segment: str = ""


@dataclass(frozen=True)
class HttpRequest:
    """Answer with the decoded JSON body, or None on timeout / error / non-2xx / not JSON."""

    url: str
    method: str
    timeout: float
    body: dict[str, str] | None = None


@dataclass(frozen=True)
class CreateTicket:
    """Answer with the ticket's number as text, or None."""

    customer: str    # customer reference
    title: str
    description: str
    call_id: str


@dataclass(frozen=True)
class PickAgent:
    """Answer with an `AgentInfo` or None."""

    queue: str


@dataclass(frozen=True)
class AgentInfo:
    endpoint: str
    number: str
    name: str = ""


@dataclass(frozen=True)
class SaveSurvey:
    """Answer with None (or anything) once stored."""

    call_id: str
    flow: str
    question: str
    score: int
    agent: str
    queue: str


@dataclass(frozen=True)
class RequestCallback:
    """Answer with None once noted."""

    call_id: str
    number: str
    queue: str
    customer: str


Request = FindCustomer | HttpRequest | CreateTicket | PickAgent | SaveSurvey | RequestCallback
Effect = Command | Request
Answer = Any
