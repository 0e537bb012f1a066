"""The command line for users and customers: `callcenter user add / list`, `callcenter customers import`."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from callcenter.cli import main

CONFIG = Path(__file__).parent.parent / "config" / "callcenter.yaml"


@pytest.fixture(autouse=True)
def _database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CALLCENTER"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CALLCENTER__DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")


def _run(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--config", str(CONFIG), *argv])


def test_user_add_and_list(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(monkeypatch, "user", "add", "ada", "--role", "agent", "--endpoint", "agent1001", "--name",
                "Ada Lovelace", "--password-stdin", stdin="ada's password\n") == 0
    assert capsys.readouterr().out == "user ada (agent, agent1001) added\n"
    passwords = iter(["root's password", "root's password"])
    monkeypatch.setattr("getpass.getpass", lambda _prompt: next(passwords))
    assert _run(monkeypatch, "user", "add", "root", "--role", "admin") == 0
    assert _run(monkeypatch, "user", "list") == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "ada\tagent\tagent1001\tenabled\tAda Lovelace", "root\tadmin\t-\tenabled\troot"]


@pytest.mark.parametrize(("argv", "stdin", "message"), [
    (["ada", "--role", "agent", "--password-stdin"], "ada's password\n",
     "callcenter user add: an agent needs an endpoint"),
    (["sue", "--role", "supervisor", "--password-stdin"], "short\n",
     "callcenter user add: the password must have at least 10 characters\n"),
    (["Sue Smith", "--role", "supervisor", "--password-stdin"], "sue's password\n",
     "callcenter user add: login name 'sue smith' is not 1 to 64"),
])
def test_user_add_refusals(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                           argv: list[str], stdin: str, message: str) -> None:
    assert _run(monkeypatch, "user", "add", *argv, stdin=stdin) == 2
    assert capsys.readouterr().err.startswith(message)


def test_user_add_with_differing_passwords(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    passwords = iter(["first password", "other password"])
    monkeypatch.setattr("getpass.getpass", lambda _prompt: next(passwords))
    assert _run(monkeypatch, "user", "add", "sue", "--role", "supervisor") == 2
    assert capsys.readouterr().err == "callcenter user add: the passwords differ\n"


def test_customers_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("reference,name,phones\nC-1,Ada,5550001\nC-2,Bob,5550001\n")
    assert _run(monkeypatch, "customers", "import", str(path)) == 1
    assert capsys.readouterr().out == (f"{path}: 1 created, 0 updated, 1 rejected\n"
                                       "row 3 (C-2): duplicate phone number '5550001' (also in row 2)\n")
    path.write_text("reference,name\nC-1,Ada King\n")
    assert _run(monkeypatch, "customers", "import", "--upsert", str(path)) == 0
    assert capsys.readouterr().out == f"{path}: 0 created, 1 updated, 0 rejected\n"
    path.write_bytes(b"name\nAda\n")
    assert _run(monkeypatch, "customers", "import", str(path)) == 2
    assert "missing: reference" in capsys.readouterr().err
    missing = tmp_path / "none.csv"
    assert _run(monkeypatch, "customers", "import", str(missing)) == 2
    assert capsys.readouterr().err == f"callcenter customers import: {missing}: No such file or directory\n"
