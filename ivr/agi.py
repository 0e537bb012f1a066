"""The AGI protocol as text, without I/O: the environment block, command lines, result lines.

What Asterisk 22 sends is the s-agi-ivr trace (`asterisk-traces/contract/s-agi-ivr.agi-transcript.txt`):
`agi_name: value` lines ending in a bare LF, then an empty line; results `200 result=1234`,
`200 result=0 endpos=11234`, `200 result= (timeout)`; a caller who hangs up during a command gets that
command answered `200 result=-1`, then a separate `HANGUP` line; afterwards commands that need the
channel get `511 Command Not Permitted on a dead channel or intercept routine` (SET/GET VARIABLE still work).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HANGUP_LINE = "HANGUP"
_RESULT = re.compile(r"^(\d{3})(?:[ -]result=(\S*)(?: \((.*)\))?(?: endpos=(-?\d+))?)?")


@dataclass(frozen=True)
class AgiResult:
    code: int            # 200 success, 510 unknown command, 511 dead channel, 520 usage; 0: the HANGUP line
    result: str = ""     # what follows result=
    data: str = ""       # the text in parentheses: "timeout", a variable's value
    endpos: int | None = None
    line: str = ""

    @property
    def caller_gone(self) -> bool:
        """The caller hung up: -1 answers the command the hangup interrupted, 511 refuses later ones."""
        return self.code == 0 or self.code == 511 or (self.code == 200 and self.result == "-1")

    @property
    def ok(self) -> bool:
        return self.code == 200 and self.result != "-1"

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"


def parse_result(line: str) -> AgiResult:
    """A result line as data (the FastAGI server caches the lines it reads)."""
    text = line.rstrip("\r\n")
    if text == HANGUP_LINE:
        return AgiResult(0, line=text)
    match = _RESULT.match(text)
    if match is None:
        return AgiResult(-1, line=text)  # garbage: neither a result nor HANGUP
    code, result, data, endpos = match.groups()
    return AgiResult(int(code), result or "", data or "", int(endpos) if endpos is not None else None, text)


_PLAIN = re.compile(r'[^\s"\\]+')


def quote(word: str) -> str:
    """An AGI argument: quoted when empty or holding blanks or quotes (Asterisk splits on blanks)."""
    if _PLAIN.fullmatch(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clean(word: str) -> str:
    """No line breaks inside a command: they would end it and start another."""
    return word.replace("\r", " ").replace("\n", " ")


def _argument(word: str) -> str:
    return word if _PLAIN.fullmatch(word) else quote(clean(word))


def command(name: str, *args: str) -> str:
    """A command line (the runner caches the commands it sends)."""
    return " ".join([name, *map(_argument, args)])
