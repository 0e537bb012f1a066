"""`#include` in Asterisk .conf files: read in place, relative to the including file, cycles refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.asterisk.conf import ConfError, parse_conf, read_conf
from callcenter.asterisk.dialplan import read_dialplan


def test_an_included_file_is_read_in_place_and_its_lines_keep_their_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "main.conf").write_text("[general]\na = 1\n#include \"sub/more.conf\"\n[last]\nz = 9\n")
    (tmp_path / "sub" / "more.conf").write_text("b = 2 ; still [general]\n#include deeper.conf\n")
    (tmp_path / "sub" / "deeper.conf").write_text("[middle]\nc = 3\n")
    conf = read_conf(tmp_path / "main.conf")
    assert [(s.name, [(e.key, e.value) for e in s.entries]) for s in conf.sections] == [
        ("general", [("a", "1"), ("b", "2")]), ("middle", [("c", "3")]), ("last", [("z", "9")])]
    general = conf.section("general")
    assert general is not None
    assert general.entries[1].path == str(tmp_path / "sub" / "more.conf")
    assert general.entries[1].line == 1


def test_a_dialplan_step_from_an_included_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "extensions.conf").write_text("[globals]\nX = 1\n#include ours.conf\n")
    (tmp_path / "ours.conf").write_text("[ctx]\nexten => s,1,NoOp(${X})\n same => n,Goto(nowhere,s,1)\n")
    dialplan = read_dialplan(tmp_path / "extensions.conf")
    assert dialplan.globals == {"X": "1"}
    step = dialplan.step("ctx", "s", 2)
    assert step is not None
    assert (step.path, step.line) == (str(tmp_path / "ours.conf"), 3)


def test_missing_and_circular_includes_are_errors_tryinclude_is_not(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("[s]\n#include b.conf\n")
    (tmp_path / "b.conf").write_text("#include a.conf\n")
    with pytest.raises(ConfError, match=r"b\.conf:1: #include a\.conf: includes itself"):
        read_conf(tmp_path / "a.conf")
    (tmp_path / "c.conf").write_text("[s]\n#tryinclude gone.conf\n#include gone.conf\n")
    with pytest.raises(ConfError, match=r"c\.conf:3: #include gone\.conf: no such file"):
        read_conf(tmp_path / "c.conf")


def test_exec_stays_refused_and_text_without_a_folder_cannot_include() -> None:
    with pytest.raises(ConfError, match="#exec is not supported"):
        parse_conf("[s]\n#exec /bin/date\n")
    with pytest.raises(ConfError, match="only a file read from disk can include another"):
        parse_conf("[s]\n#include other.conf\n")
