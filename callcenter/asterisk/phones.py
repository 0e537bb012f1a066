"""The phones of the call center's people (`config/agents.yaml`), as Asterisk's PJSIP endpoints need them.

Until the user table exists this YAML file is the agent list; `load_phones` is the one place that reads
it, so the table can take its place later without touching the rendering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from cti import contract

# A PJSIP endpoint name that cc-connect's `_[a-z].` matches, that ChanSpy's `PJSIP/<name>-` prefix
# cannot confuse with another, and that needs no quoting anywhere in a .conf file.
ENDPOINT_NAME = re.compile(r"^[a-z][a-z0-9]{1,39}$")
EXTENSION = re.compile(r"^[0-9]{1,15}$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
Role = Literal["agent", "supervisor"]


class PhoneError(ValueError):
    """The agent list cannot be used; the message says which entry and why."""


class _Phone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str
    name: str
    extension: str
    password_env: str
    role: Role = "agent"

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not ENDPOINT_NAME.match(value):
            raise ValueError("must be a lowercase letter then 1-39 lowercase letters or digits")
        if value == contract.TRUNK_ENDPOINT:
            raise ValueError("is the trunk's endpoint name")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip() or any(c in value for c in '";\\<>\r\n'):
            raise ValueError('must be non-empty text without " ; \\ < > or line breaks')
        return value.strip()

    @field_validator("extension")
    @classmethod
    def _extension(cls, value: str) -> str:
        if not EXTENSION.match(value):
            raise ValueError("must be 1-15 digits")
        return value

    @field_validator("password_env")
    @classmethod
    def _env(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            raise ValueError("must be an environment variable name (A-Z, 0-9, _)")
        return value


@dataclass(frozen=True)
class Phone:
    endpoint: str
    name: str
    extension: str
    role: Role
    password_env: str

    @property
    def context(self) -> str:
        """The dialplan context of the phone's own calls; an agent's legs are known by it."""
        return contract.AGENT_PHONE_CONTEXT if self.role == "agent" else contract.SUPERVISOR_PHONE_CONTEXT

    def password(self, environ: Mapping[str, str]) -> str:
        return environ.get(self.password_env, "")


def load_phones(path: Path) -> list[Phone]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PhoneError(f"{path}: cannot read the agent list: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PhoneError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("agents"), list):
        raise PhoneError(f"{path}: expected a mapping with a list `agents`")
    unknown = sorted(set(data) - {"agents"})
    if unknown:
        raise PhoneError(f"{path}: unknown key(s) {', '.join(unknown)}")
    phones: list[Phone] = []
    problems: list[str] = []
    for index, item in enumerate(data["agents"]):
        try:
            parsed = _Phone.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(k) for k in error["loc"]) or "entry"
                problems.append(f"{path}: agents[{index}].{where}: {error['msg'].removeprefix('Value error, ')}")
            continue
        phones.append(Phone(parsed.endpoint, parsed.name, parsed.extension, parsed.role, parsed.password_env))
    seen: set[str] = set()
    for phone in phones:
        if phone.endpoint in seen:
            problems.append(f"{path}: endpoint {phone.endpoint} is listed twice")
        seen.add(phone.endpoint)
    if problems:
        raise PhoneError("\n".join(problems))
    return phones
