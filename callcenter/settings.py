"""Settings: `config/callcenter.yaml` (or `CALLCENTER_CONFIG`), then `CALLCENTER__SECTION__KEY` overrides.

Every value is validated; an error names where the value came from (file and key, or the environment
variable), the key path and the bad value, never a secret. The composition root builds one `Settings`
and passes it on: there is no module-level instance.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from cti.model import TrackerConfig

DEFAULT_PATH = Path("config/callcenter.yaml")
ENV_FILE = "CALLCENTER_CONFIG"
ENV_PREFIX = "CALLCENTER__"


class SettingsError(ValueError):
    """A setting that cannot be used; the message says which, where from, and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = "callcenter"
    secret: SecretStr = SecretStr("")
    keepalive_interval: float = Field(1.0, gt=0)
    keepalive_timeout: float = Field(2.0, gt=0)
    backoff_initial: float = Field(0.1, gt=0)
    backoff_max: float = Field(10.0, gt=0)
    connect_timeout: float = Field(3.0, gt=0)


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///./var/callcenter.db"


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


class RecordsSettings(_Section):
    queue_log_path: str = "./var/queue_log"


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class PbxSettings(_Section):
    mode: Literal["asterisk", "simulated"] = "asterisk"


_TRACKER_DEFAULTS = TrackerConfig()


class TrackerSettings(_Section):
    inbound_contexts: list[str] = sorted(_TRACKER_DEFAULTS.inbound_contexts)
    agent_contexts: list[str] = sorted(_TRACKER_DEFAULTS.agent_contexts)
    waiting_contexts: list[str] = sorted(_TRACKER_DEFAULTS.waiting_contexts)
    caller_contexts: list[str] = sorted(_TRACKER_DEFAULTS.caller_contexts)


class Settings(_Section):
    ami: AmiSettings = AmiSettings()
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    records: RecordsSettings = RecordsSettings()
    log: LogSettings = LogSettings()
    pbx: PbxSettings = PbxSettings()
    tracker: TrackerSettings = TrackerSettings()

    def tracker_config(self) -> TrackerConfig:
        return TrackerConfig(
            inbound_contexts=frozenset(self.tracker.inbound_contexts),
            agent_contexts=frozenset(self.tracker.agent_contexts),
            waiting_contexts=frozenset(self.tracker.waiting_contexts),
            caller_contexts=frozenset(self.tracker.caller_contexts),
        )

    def masked(self) -> dict[str, Any]:
        """Effective settings for display: secrets shown as '***'."""
        return self.model_dump(mode="json")


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    if path is None:
        path = Path(environ[ENV_FILE]) if environ.get(ENV_FILE) else DEFAULT_PATH
    data = _read_yaml(path) if path.exists() else {}
    if path != DEFAULT_PATH and not path.exists():
        raise SettingsError(f"{path}: no such settings file")
    origins: dict[tuple[str, ...], str] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__"))
        if len(keys) != 2 or not all(keys):
            raise SettingsError(f"{name}: expected {ENV_PREFIX}SECTION__KEY")
        section = data.setdefault(keys[0], {})
        if not isinstance(section, dict):
            raise SettingsError(f"{name}: section {keys[0]!r} is not a mapping in {path}")
        section[keys[1]] = _env_value(raw)
        origins[keys] = name
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path, origins, data)) from None


def _env_value(raw: str) -> Any:
    """Lists come as YAML flow sequences (`[a, b]`); everything else stays a string for validation."""
    if raw.startswith("["):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError:
            return raw
    return raw


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"
        raise SettingsError(f"{path}: {where}: not valid YAML: {exc.problem}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: cannot read settings: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"{path}: the top level must be a mapping of sections")
    return loaded


def _describe(exc: ValidationError, path: Path, origins: dict[tuple[str, ...], str],
              data: dict[str, Any]) -> str:
    lines = []
    for error in exc.errors():
        keys = tuple(str(k) for k in error["loc"])
        dotted = ".".join(keys)
        origin = origins.get(keys[:2], str(path))
        secret = keys[-1:] == ("secret",)
        value = "***" if secret else _value_at(data, keys)
        if error["type"] == "extra_forbidden":
            lines.append(f"{origin}: {dotted}: unknown setting")
        else:
            message = error['msg']
            lines.append(f"{origin}: {dotted}: {value!r} {message[:1].lower()}{message[1:]}")
    return "\n".join(lines)


def _value_at(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return None
    return data
