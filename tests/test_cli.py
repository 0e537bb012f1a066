"""The command line: replay, config, migrate, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trace_support import EXPECTED, TRACES

from callcenter.cli import main


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


def test_config_show_masks_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CALLCENTER__AMI__SECRET", "hunter2")
    assert main(["--config", str(Path("config/callcenter.yaml")), "config", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ami"]["secret"] == "**********" and shown["ami"]["port"] == 5038


def test_bad_settings_exit_2_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLCENTER__AMI__PORT", "many")
    assert main(["config", "check"]) == 2
    assert "CALLCENTER__AMI__PORT: ami.port: 'many'" in capsys.readouterr().err


def test_migrate_creates_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "sub" / "cc.db"
    monkeypatch.setenv("CALLCENTER__DATABASE__URL", f"sqlite+aiosqlite:///{db}")
    assert main(["migrate"]) == 0
    assert db.exists() and "up to date" in capsys.readouterr().out
