"""Settings: defaults, the shipped file, environment overrides, and errors that say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.settings import Settings, SettingsError, load_settings
from cti.model import TrackerConfig

SHIPPED = Path(__file__).parent.parent / "config" / "callcenter.yaml"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callcenter.yaml"
    path.write_text(text)
    return path


def test_shipped_file_is_valid_and_matches_the_tracker_defaults() -> None:
    settings = load_settings(SHIPPED, {})
    assert settings.ami.port == 5038 and settings.http.host == "127.0.0.1"
    assert settings.tracker_config() == TrackerConfig()
    assert settings == Settings()  # the file documents the defaults; it changes none of them


def test_defaults() -> None:
    settings = Settings()
    ami = settings.ami
    assert (ami.host, ami.port, ami.keepalive_interval, ami.keepalive_timeout) == ("127.0.0.1", 5038, 1.0, 2.0)
    assert (ami.backoff_initial, ami.backoff_max, ami.connect_timeout) == (0.1, 10.0, 3.0)
    assert settings.database.url == "sqlite+aiosqlite:///./var/callcenter.db"
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8080)
    assert settings.records.queue_log_path == Path("var/queue_log")
    assert (settings.log.level, settings.pbx.mode) == ("INFO", "asterisk")
    auth = settings.auth
    assert (auth.session_idle_seconds, auth.session_max_seconds, auth.cookie_secure) == (1800, 43200, "auto")
    assert (auth.login_failures_per_name, auth.login_failures_per_ip, auth.login_window_seconds) == (5, 20, 300)
    assert auth.password_min_length == 10


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "ami:\n  host: pbx.example\n  port: 5039\n")
    settings = load_settings(path, {"CALLCENTER__AMI__PORT": "6000", "CALLCENTER__AMI__SECRET": "s3cret",
                                    "CALLCENTER__TRACKER__AGENT_CONTEXTS": "[from-agents]",
                                    "UNRELATED": "x"})
    assert (settings.ami.host, settings.ami.port) == ("pbx.example", 6000)
    assert settings.ami.secret.get_secret_value() == "s3cret"
    assert settings.tracker_config().agent_contexts == frozenset({"from-agents"})


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = _file(tmp_path, "http:\n  port: 9090\n")
    assert load_settings(environ={"CALLCENTER_CONFIG": str(path)}).http.port == 9090


def test_secrets_never_show(tmp_path: Path) -> None:
    settings = load_settings(_file(tmp_path, "ami:\n  secret: hunter2\n"), {})
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.masked())
    with pytest.raises(SettingsError) as error:
        load_settings(_file(tmp_path, "ami:\n  secret: [hunter2]\n"), {})
    assert "hunter2" not in str(error.value) and "ami.secret" in str(error.value)


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("ami:\n  port: abc\n", {}, "callcenter.yaml: ami.port: 'abc' is not a valid integer"),
        ("ami:\n  port: 1.5\n", {}, "ami.port: 1.5 is not a valid integer (got a number with a fractional part)"),
        ("ami:\n  port: 70000\n", {}, "callcenter.yaml: ami.port: 70000 should be less than or equal to 65535"),
        ("ami:\n  colour: red\n", {}, "callcenter.yaml: ami.colour: unknown setting"),
        ("sip: {}\n", {}, "callcenter.yaml: sip: unknown setting"),
        ("ami: 5\n", {}, "callcenter.yaml: ami: 5 is not a mapping of settings"),
        ("log:\n  level: LOUD\n", {}, "log.level: 'LOUD' should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("tracker:\n  agent_contexts: agents\n", {}, "tracker.agent_contexts: 'agents' is not a valid list"),
        ("pbx:\n  mode: freeswitch\n", {}, "pbx.mode: 'freeswitch' should be 'asterisk' or 'simulated'"),
        ("", {"CALLCENTER__HTTP__PORT": "eighty"},
         "CALLCENTER__HTTP__PORT: http.port: 'eighty' is not a valid integer"),
        ("", {"CALLCENTER__AMI__COLOUR": "red"}, "CALLCENTER__AMI__COLOUR: ami.colour: unknown setting"),
        ("", {"CALLCENTER__SIP__PORT": "5060"}, "CALLCENTER__SIP__PORT: sip: unknown setting"),
        ("", {"CALLCENTER__AMI": "x"}, "CALLCENTER__AMI: expected CALLCENTER__SECTION__KEY"),
        ("", {"CALLCENTER__AMI__TLS__ON": "x"}, "CALLCENTER__AMI__TLS__ON: expected CALLCENTER__SECTION__KEY"),
        ("ami: 5\n", {"CALLCENTER__AMI__PORT": "1"}, "CALLCENTER__AMI__PORT: section 'ami' is not a mapping"),
        ("database:\n  url: nonsense\n", {}, "database.url: 'nonsense' is not a database URL"),
        ("", {"CALLCENTER__DATABASE__URL": "postgresql://cc@db/cc"},
         "CALLCENTER__DATABASE__URL: database.url: 'postgresql://cc@db/cc' has driver 'postgresql'; expected"),
        ("ami:\n  port: [1,\n", {}, "callcenter.yaml: line 3, column 1: not valid YAML"),
        ("ami:\n\tport: 1\n", {}, "callcenter.yaml: line 2, column 1: not valid YAML"),
        ("- a\n- b\n", {}, "the top level must be a mapping of sections"),
        ("auth:\n  session_idle_seconds: 50000\n", {},
         "callcenter.yaml: auth: session_idle_seconds (50000) is longer than session_max_seconds (43200)"),
        ("auth:\n  cookie_secure: yes\n", {}, "auth.cookie_secure: True should be 'auto', 'always' or 'never'"),
        ("", {"CALLCENTER__AUTH__PASSWORD_MIN_LENGTH": "4"},
         "CALLCENTER__AUTH__PASSWORD_MIN_LENGTH: auth.password_min_length: '4' should be greater than or equal to 8"),
        ("auth:\n  login_window_seconds: 0\n", {}, "auth.login_window_seconds: 0 should be greater than 0"),
    ],
)
def test_bad_settings_say_where_and_what(tmp_path: Path, text: str, environ: dict[str, str],
                                         message: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_file(tmp_path, text), environ)
    assert message in str(error.value)


def test_every_bad_value_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_file(tmp_path, "ami:\n  port: abc\nhttp:\n  port: 0\n"), {})
    assert str(error.value).splitlines() == [
        f"{tmp_path / 'callcenter.yaml'}: ami.port: 'abc' is not a valid integer",
        f"{tmp_path / 'callcenter.yaml'}: http.port: 0 should be greater than or equal to 1",
    ]


def test_a_database_password_never_shows(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://cc:hunter2@db.example/callcenter"
    settings = load_settings(_file(tmp_path, ""), {"CALLCENTER__DATABASE__URL": url})
    assert settings.database.url == url
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert settings.masked()["database"]["url"] == "postgresql+asyncpg://cc:**********@db.example/callcenter"
    with pytest.raises(SettingsError) as error:
        load_settings(_file(tmp_path, ""), {"CALLCENTER__DATABASE__URL": "postgres://cc:hunter2@db/cc"})
    assert "hunter2" not in str(error.value) and "CALLCENTER__DATABASE__URL" in str(error.value)


def test_a_section_with_every_key_commented_out(tmp_path: Path) -> None:
    path = _file(tmp_path, "ami:\n  # host: pbx.example\nhttp:\n")
    assert load_settings(path, {"CALLCENTER__AMI__HOST": "10.0.0.5"}).ami.host == "10.0.0.5"
    assert load_settings(path, {}) == Settings()


def test_log_level_in_any_case(tmp_path: Path) -> None:
    assert load_settings(_file(tmp_path, "log:\n  level: debug\n"), {}).log.level == "DEBUG"


def test_missing_default_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no config/callcenter.yaml here
    assert load_settings(environ={}) == Settings()


def test_a_named_file_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no such settings file"):
        load_settings(tmp_path / "missing.yaml", {})
