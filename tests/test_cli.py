"""The command line: replay, config, migrate, and clear errors for bad input."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from trace_support import EXPECTED, TRACES

from callcenter import cli
from callcenter.cli import main

ROOT = Path(__file__).parent.parent
CONFIG = ROOT / "config" / "callcenter.yaml"


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own CALLCENTER_* variables must not change what these tests see."""
    for name in list(os.environ):
        if name.startswith("CALLCENTER"):
            monkeypatch.delenv(name)


def test_replay_prints_the_records_of_a_trace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(TRACES / "app-queue" / "e-atxfer.jsonl")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == json.loads((EXPECTED / "e-atxfer.json").read_text())["records"]


def test_replay_accepts_a_plain_json_array_10_ms_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = (TRACES / "contract" / "m-wait-redirect-answer.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in trace]
    plain = [{k: v for k, v in e.items() if not k.startswith("_")}
             for e in events if e["_dir"] == "in" and "Event" in e]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(plain))
    assert main(["replay", str(path)]) == 0
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["agent"], record["outcome"], record["queue"]) == ("agent1001", "answered", "support")
    # on the 10 ms clock: created at event 3, ended at the caller's Hangup
    assert record["ended_at"] == pytest.approx(0.01 * (len(plain) - 4), abs=0.2)


def test_replay_of_a_trace_cut_mid_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = (TRACES / "app-queue" / "e-atxfer.jsonl").read_text().splitlines()
    path = tmp_path / "cut.jsonl"
    path.write_text("\n".join(lines[150:]))
    assert main(["replay", str(path)]) == 0
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["partial"] is True and record["agent"] == "agent1003"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ('[{"Event": "Newchannel"', "line 1: not valid JSON"),
        ('{"_t": 0, "Event": "Hangup"}\nnot json\n', "line 2: not valid JSON"),
        ('[1, 2]', "item 0: expected an object"),
        ('{"_t": "soon", "Event": "Hangup"}\n', "_t must be a number"),
    ],
)
def test_replay_of_bad_input_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           content: str | None, message: str) -> None:
    path = tmp_path / "trace.jsonl"
    if content is not None:
        path.write_text(content)
    assert main(["replay", str(path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_replay_of_a_directory_or_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"callcenter replay: {tmp_path}: no such file\n"
    binary = tmp_path / "trace.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["replay", str(binary)]) == 2
    assert capsys.readouterr().err.startswith(f"callcenter replay: {binary}: not UTF-8 text")


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CALLCENTER__AMI__SECRET", "hunter2")
    monkeypatch.setenv("CALLCENTER__DATABASE__URL", "postgresql+asyncpg://cc:pa55word@db.example/cc")
    assert main(["--config", str(CONFIG), "config", "show"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and "pa55word" not in out
    shown = json.loads(out)
    assert shown["ami"]["secret"] == "**********" and shown["ami"]["port"] == 5038
    assert shown["database"]["url"] == "postgresql+asyncpg://cc:**********@db.example/cc"
    assert shown["tracker"]["agent_contexts"] == ["agents", "cc-agent"]


def test_config_check_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("http:\n  port: 8081\n")
    monkeypatch.setenv("CALLCENTER_CONFIG", str(path))
    assert main(["config", "check"]) == 0
    assert capsys.readouterr().out == f"{path}: settings are valid\n"


def test_bad_settings_exit_2_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLCENTER__AMI__PORT", "many")
    assert main(["--config", str(CONFIG), "config", "check"]) == 2
    assert "CALLCENTER__AMI__PORT: ami.port: 'many' is not a valid integer" in capsys.readouterr().err


def test_migrate_creates_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "sub" / "cc.db"
    monkeypatch.setenv("CALLCENTER__DATABASE__URL", f"sqlite+aiosqlite:///{db}")
    assert main(["--config", str(CONFIG), "migrate"]) == 0
    assert db.exists() and "schema is up to date" in capsys.readouterr().out
    assert main(["--config", str(CONFIG), "migrate"]) == 0  # again: nothing to do


def test_migrate_without_a_database_fails_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # port 1 on loopback: nothing listens, the connection is refused at once
    monkeypatch.setenv("CALLCENTER__DATABASE__URL", "postgresql+asyncpg://cc:pa55word@127.0.0.1:1/cc")
    assert main(["--config", str(CONFIG), "migrate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("callcenter migrate: postgresql+asyncpg://cc:**********@127.0.0.1:1/cc: ")
    assert err.count("\n") == 1 and "pa55word" not in err


def test_a_subcommand_is_one_registered_function(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_COMMANDS", dict(cli._COMMANDS))

    @cli.command("hello", "say hello")
    def _hello(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name")
        parser.set_defaults(run=lambda args: print(f"hello {args.name}") or 0)

    assert main(["hello", "agent1001"]) == 0
    assert capsys.readouterr().out == "hello agent1001\n"


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["dance"])
    assert exit_.value.code == 2 and "invalid choice: 'dance'" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_command_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER")}
    done = subprocess.run([sys.executable, "-m", "callcenter", "--config", str(CONFIG), "config", "check"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{CONFIG}: settings are valid\n", "")
