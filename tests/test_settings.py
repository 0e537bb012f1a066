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
        ("ami:\n  port: abc\n", {}, "callcenter.yaml: ami.port: 'abc' input should be a valid integer"),
        ("ami:\n  port: 70000\n", {}, "ami.port: 70000 input should be less than or equal to 65535"),
        ("ami:\n  colour: red\n", {}, "callcenter.yaml: ami.colour: unknown setting"),
        ("sip: {}\n", {}, "callcenter.yaml: sip: unknown setting"),
        ("log:\n  level: LOUD\n", {}, "log.level: 'LOUD' input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("", {"CALLCENTER__HTTP__PORT": "eighty"}, "CALLCENTER__HTTP__PORT: http.port: 'eighty'"),
        ("", {"CALLCENTER__AMI": "x"}, "CALLCENTER__AMI: expected CALLCENTER__SECTION__KEY"),
        ("ami: 5\n", {"CALLCENTER__AMI__PORT": "1"}, "section 'ami' is not a mapping"),
        ("ami:\n  port: [1,\n", {}, "line 3, column 1: not valid YAML"),
        ("- a\n- b\n", {}, "the top level must be a mapping of sections"),
    ],
)
def test_bad_settings_say_where_and_what(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_file(tmp_path, text), environ)
    assert message in str(error.value)


def test_a_named_file_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no such settings file"):
        load_settings(tmp_path / "missing.yaml", {})
