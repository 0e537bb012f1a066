"""Settings: `config/callcenter.yaml` (or `CALLCENTER_CONFIG`), then `CALLCENTER__SECTION__KEY` overrides.

Every value is validated; an error names where the value came from (file and key, or the environment
variable), the key path and the bad value, never a secret. The composition root builds one `Settings`
and passes it on: there is no module-level instance.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from cti.model import TrackerConfig

DEFAULT_PATH = Path("config/callcenter.yaml")
ENV_FILE = "CALLCENTER_CONFIG"
ENV_PREFIX = "CALLCENTER__"
MASK = "**********"  # what pydantic shows for a SecretStr; used for every other secret too

# The engine is asyncio-only: a URL with a blocking driver would fail later, deep inside SQLAlchemy.
DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class SettingsError(ValueError):
    """A setting that cannot be used; the message says which, where from, and why."""


def mask_url(url: str) -> str:
    """`scheme://user:password@host/db` with the password masked; works on unparseable URLs too."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", rf"\g<1>{MASK}@", url)


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
    # A relative SQLite path is relative to the working directory; the engine creates its folder.
    url: str = "sqlite+aiosqlite:///./var/callcenter.db"

    @field_validator("url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        try:
            driver = make_url(url).drivername
        except ArgumentError:
            raise ValueError(f"is not a database URL (expected {_url_forms()})") from None
        if driver not in DATABASE_DRIVERS:
            raise ValueError(f"has driver {driver!r}; expected {_url_forms()}")
        return url

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The URL may carry the PostgreSQL password: reprs end up in logs and tracebacks.
        for name, value in super().__repr_args__():
            yield name, mask_url(value) if name == "url" else value


def _url_forms() -> str:
    return "sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user:password@host/dbname"


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


class RecordsSettings(_Section):
    queue_log_path: Path = Path("./var/queue_log")  # relative to the working directory


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, level: object) -> object:
        return level.upper() if isinstance(level, str) else level


class PbxSettings(_Section):
    # "asterisk": a real Asterisk over AMI (the `ami` section); "simulated": the built-in PBX simulator,
    # started inside the server and reached over AMI on loopback exactly like a real one.
    mode: Literal["asterisk", "simulated"] = "asterisk"


class AcdFileSettings(_Section):
    """The ACD: queues, skills, agents (`config/acd.yaml`)."""

    config: Path = Path("config/acd.yaml")


class SimulatorSettings(_Section):
    """The built-in simulated PBX (pbx.mode simulated, `callcenter demo`)."""

    scenario: Path = Path("config/simulator.yaml")  # callers, agents' bots, faults
    dialplan: Path = Path("config/asterisk/extensions.conf")  # the very dialplan shipped for Asterisk
    ami_port: int = Field(0, ge=0, le=65535)  # 0: any free port on loopback
    speed: float = Field(1.0, gt=0, le=1000)  # PBX time runs this many times faster than real time
    recordings_dir: Path = Path("var/recordings")  # where its MixMonitor writes the WAV files


class AsteriskSettings(_Section):
    """What `callcenter asterisk config` renders into Asterisk's files (config/asterisk/*.conf).

    The AMI port, user and secret are the `ami` section's: one place for both sides of the link.
    """

    ami_bind: str = "127.0.0.1"             # manager.conf bindaddr: loopback or a private address only
    ami_permit: str = "127.0.0.1/32"        # network the AMI user may log in from
    fastagi_host: str = "127.0.0.1"         # how Asterisk reaches our FastAGI server (IVR, survey)
    fastagi_port: int = Field(4573, ge=1, le=65535)
    sip_bind: str = "0.0.0.0"               # the trunk's UDP transport
    sip_port: int = Field(5060, ge=1, le=65535)
    http_bind: str = "0.0.0.0"              # http.conf TLS server: the phones' WSS
    wss_port: int = Field(8089, ge=1, le=65535)
    tls_cert: str = "/etc/asterisk/keys/asterisk.crt"
    tls_key: str = "/etc/asterisk/keys/asterisk.key"
    external_address: str = ""              # public address when Asterisk is behind NAT; "" for none
    local_net: list[str] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8"]
    rtp_start: int = Field(10000, ge=1024, le=65535)
    rtp_end: int = Field(20000, ge=1024, le=65535)
    stun_server: str = ""                   # host:port for ICE behind NAT; "" for none
    recordings_dir: str = "/var/spool/asterisk/monitor/callcenter"  # as Asterisk sees it
    record_calls: bool = True
    ring_timeout: int = Field(15, ge=1, le=600)          # seconds before ring-no-answer
    default_queue: str = "support"
    survey: str = ""                        # survey flow after every call; "" for none (IVR may set one)
    outbound_callerid: str = ""             # number customers see on outbound calls; "" for the trunk's
    outbound_timeout: int = Field(45, ge=1, le=600)
    agents_file: Path = Path("config/agents.yaml")
    trunk_host: str = ""                    # the carrier's SIP address; "" renders no trunk
    trunk_port: int = Field(5060, ge=1, le=65535)
    trunk_username: str = ""
    trunk_password: SecretStr = SecretStr("")   # set CALLCENTER__ASTERISK__TRUNK_PASSWORD
    trunk_register: bool = False            # register to the carrier (else it sends calls by address)

    @field_validator("ami_permit")
    @classmethod
    def _network(cls, value: str) -> str:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError("is not a network (address/prefix)") from None
        return value

    @field_validator("local_net")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            cls._network(value)
        return values

    @field_validator("default_queue")
    @classmethod
    def _queue(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError("must be letters, digits, _ . or -")
        return value


class IvrSettings(_Section):
    """The IVR: our FastAGI server (Asterisk's AGI() connects here), the flows and the prompts."""

    enabled: bool = True
    host: str = "127.0.0.1"                 # FastAGI listen address (asterisk.fastagi_* is how Asterisk reaches it)
    port: int = Field(4573, ge=0, le=65535)  # 0: any free port (tests)
    flows_dir: Path = Path("config/ivr")    # every *.yaml there is a flow; reloaded when a file changes
    prompts_dir: Path = Path("var/prompts")  # uploaded prompts (Asterisk's sounds/custom): flows say custom/<name>
    system_prompts: list[str] = []          # Asterisk sounds flows may name besides the built-in list
    reload_interval: float = Field(1.0, gt=0)      # seconds between checks of the flow files
    environment_timeout: float = Field(5.0, gt=0)  # a peer that does not send its agi_* block by then is dropped
    answer_timeout: float = Field(60.0, gt=0)      # longest wait for a command's answer beyond its own timeout
    request_timeout: float = Field(3.0, gt=0)      # customer lookup, ticket, agent choice, survey store
    max_sessions: int = Field(2000, ge=1)          # FastAGI connections at once; more are closed at once


_TRACKER_DEFAULTS = TrackerConfig()


class TrackerSettings(_Section):
    """Which dialplan contexts say what a channel is (see `cti.model.TrackerConfig`)."""

    inbound_contexts: list[str] = sorted(_TRACKER_DEFAULTS.inbound_contexts)
    agent_contexts: list[str] = sorted(_TRACKER_DEFAULTS.agent_contexts)
    waiting_contexts: list[str] = sorted(_TRACKER_DEFAULTS.waiting_contexts)
    caller_contexts: list[str] = sorted(_TRACKER_DEFAULTS.caller_contexts)


class AuthSettings(_Section):
    """Sign-in: session lifetimes, the session cookie, the login rate limit, the password policy."""

    session_idle_seconds: int = Field(1800, gt=0)       # signed out after this long without a request
    session_max_seconds: int = Field(43200, gt=0)       # and after this long in any case (12 h: one shift)
    # auto: the cookie is Secure when the request came over https (directly or from a trusted proxy)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    login_failures_per_name: int = Field(5, ge=1)       # failed sign-ins of one login name in the window
    login_failures_per_ip: int = Field(20, ge=1)        # failed sign-ins from one address in the window
    login_window_seconds: int = Field(300, gt=0)
    password_min_length: int = Field(10, ge=8, le=128)

    @model_validator(mode="after")
    def _idle_within_max(self) -> AuthSettings:
        if self.session_idle_seconds > self.session_max_seconds:
            raise ValueError(
                f"session_idle_seconds ({self.session_idle_seconds}) is longer than "
                f"session_max_seconds ({self.session_max_seconds})"
            )
        return self


class DesktopSettings(_Section):
    """The agent desktop: after-call dispositions, the websocket hub's limits, the WebRTC softphone."""

    dispositions: list[str] = ["solved", "callback", "sale", "complaint", "information", "wrong-number"]
    replay_frames: int = Field(500, ge=10, le=100_000)  # messages kept per audience for catch-up
    send_queue: int = Field(1000, ge=10, le=100_000)    # frames waiting for one client: more and it is dropped
    heartbeat_seconds: float = Field(15.0, gt=0, le=300)  # a frame at least this often; session re-checked
    sip_wss_url: str = ""      # the softphone's Asterisk WSS (wss://pbx.example:8089/ws); "" for none
    sip_domain: str = ""       # SIP domain of the agents' endpoints; "" for the WSS host

    @field_validator("dispositions")
    @classmethod
    def _dispositions(cls, values: list[str]) -> list[str]:
        if not values:
            raise ValueError("needs at least one disposition")
        for value in values:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}", value):
                raise ValueError(f"{value!r}: letters, digits, space, _ . or - (at most 64)")
        if len(set(values)) != len(values):
            raise ValueError("a disposition appears twice")
        return values

    @field_validator("sip_wss_url")
    @classmethod
    def _wss(cls, value: str) -> str:
        if value and not re.fullmatch(r"wss://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~/-]*)?", value):
            raise ValueError("must be wss://host[:port][/path]")
        return value


class Settings(_Section):
    ami: AmiSettings = AmiSettings()
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    records: RecordsSettings = RecordsSettings()
    log: LogSettings = LogSettings()
    pbx: PbxSettings = PbxSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    acd: AcdFileSettings = AcdFileSettings()
    tracker: TrackerSettings = TrackerSettings()
    auth: AuthSettings = AuthSettings()
    asterisk: AsteriskSettings = AsteriskSettings()
    ivr: IvrSettings = IvrSettings()
    desktop: DesktopSettings = DesktopSettings()

    def tracker_config(self) -> TrackerConfig:
        return TrackerConfig(
            inbound_contexts=frozenset(self.tracker.inbound_contexts),
            agent_contexts=frozenset(self.tracker.agent_contexts),
            waiting_contexts=frozenset(self.tracker.waiting_contexts),
            caller_contexts=frozenset(self.tracker.caller_contexts),
        )

    def masked(self) -> dict[str, Any]:
        """Effective settings for display: the AMI secret and any database password masked."""
        shown = self.model_dump(mode="json")
        shown["database"]["url"] = mask_url(self.database.url)
        return shown


def settings_path(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The file `load_settings` reads: the argument, else `$CALLCENTER_CONFIG`, else the default."""
    environ = os.environ if environ is None else environ
    if path is not None:
        return path
    return Path(environ[ENV_FILE]) if environ.get(ENV_FILE) else DEFAULT_PATH


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, override and validate; raises `SettingsError` with every problem, one per line.

    Only the default file may be missing (then the defaults apply): a file that was named explicitly
    and is not there is a mistake worth stopping for.
    """
    environ = os.environ if environ is None else environ
    path = settings_path(path, environ)
    if not path.exists():
        if path != DEFAULT_PATH:
            raise SettingsError(f"{path}: no such settings file")
        data: dict[str, Any] = {}
    else:
        data = read_yaml(path)
    origins = _apply_environment(data, environ, path)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc, path, origins, data)) from None


def _apply_environment(data: dict[str, Any], environ: Mapping[str, str], path: Path) -> dict[tuple[str, ...], str]:
    """Put `CALLCENTER__SECTION__KEY` values into `data`; return which variable set which key."""
    origins: dict[tuple[str, ...], str] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__"))
        if len(keys) != 2 or not all(keys):
            raise SettingsError(f"{name}: expected {ENV_PREFIX}SECTION__KEY")
        section = data.setdefault(keys[0], {})
        if not isinstance(section, dict):
            raise SettingsError(f"{name}: section {keys[0]!r} is not a mapping in {path}")
        section[keys[1]] = _env_value(environ[name])
        origins[keys] = name
    return origins


def _env_value(raw: str) -> Any:
    """Lists come as YAML flow sequences (`[a, b]`); everything else stays a string for validation."""
    if raw.startswith("["):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError:
            return raw
    return raw


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping; errors name the file, line and column."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"
        raise SettingsError(f"{path}: {where}: not valid YAML: {exc.problem}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: cannot read settings: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"{path}: the top level must be a mapping of sections")
    # a section whose keys are all commented out reads as null: it means "the defaults"
    return {section: {} if values is None else values for section, values in loaded.items()}


def describe_errors(exc: ValidationError, path: Path, origins: Mapping[tuple[str, ...], str],
                    data: dict[str, Any]) -> str:
    """One line per problem: where the value came from, its key path, the value, what is wrong."""
    lines = []
    for error in exc.errors():
        keys = tuple(str(k) for k in error["loc"])
        dotted = ".".join(keys)
        # the variable that set this key, or one below it (an unknown section is reported at its name)
        origin = next((name for key, name in origins.items() if _overlaps(key, keys)), str(path))
        if error["type"] == "extra_forbidden":
            lines.append(f"{origin}: {dotted}: unknown setting")
            continue
        raw = _value_at(data, keys)
        reason = "is not a mapping of settings" if error["type"] == "model_type" else _reason(error["msg"])
        if isinstance(raw, dict) and error["type"] == "value_error":
            lines.append(f"{origin}: {dotted}: {reason}")  # a rule across keys: the reason names them
            continue
        lines.append(f"{origin}: {dotted}: {_shown_value(keys, raw)} {reason}")
    return "\n".join(lines)


def _overlaps(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _shown_value(keys: tuple[str, ...], value: Any) -> str:
    if "secret" in keys:
        return MASK
    if keys == ("database", "url") and isinstance(value, str):
        return repr(mask_url(value))
    return repr(value)


def _reason(message: str) -> str:
    """Pydantic's "Input should be a valid integer, unable to parse ..." as "is not a valid integer"."""
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    if message.startswith("Input should be a valid "):
        kind, _, detail = message.removeprefix("Input should be a valid ").partition(", ")
        if detail and not detail.startswith("unable to"):
            return f"is not a valid {kind} ({detail})"
        return f"is not a valid {kind}"
    if message.startswith("Input should be "):
        return "should be " + message.removeprefix("Input should be ")
    return message[:1].lower() + message[1:]


def _value_at(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return None
    return data
