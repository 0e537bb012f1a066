"""Dialplan substitutions as Asterisk does them: `${VAR}`, `${VAR:offset:length}`, `${FUNC(args)}`, `$[expr]`.

Inner substitutions are done first, then the outer one (`${IF($["${X}" = ""]?a:b)}`). Expressions
follow Asterisk's operators and precedence, lowest first: `|`, `&`, comparisons (`= != < > <= >=`),
`+ -`, `* / %`, unary `- !`, parentheses. A comparison gives `1` or `0`; numbers compare as numbers,
anything else as strings; quotes around a string are not part of it. No `eval`, no surprises: an
expression that does not parse gives an empty string, as Asterisk's does (and it logs a warning).
"""

from __future__ import annotations

import re
from collections.abc import Callable

Variable = Callable[[str], str]
Function = Callable[[str, str], str]


def substitute(text: str, variable: Variable, function: Function) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("${", i) or text.startswith("$[", i):
            opener = text[i + 1]
            closer = "}" if opener == "{" else "]"
            end = _closing(text, i + 2, opener, closer)
            if end < 0:  # unbalanced: Asterisk leaves the rest as it is
                out.append(text[i:])
                break
            inner = substitute(text[i + 2:end], variable, function)
            out.append(_expand(inner, variable, function) if opener == "{" else evaluate(inner))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _closing(text: str, start: int, opener: str, closer: str) -> int:
    depth = 1
    for i in range(start, len(text)):
        if text[i] == opener and text[i - 1] == "$":
            depth += 1
        elif text[i] == closer:
            depth -= 1
            if depth == 0:
                return i
    return -1


_SUBSTRING = re.compile(r"^(?P<name>[^:]+):(?P<offset>-?\d+)(?::(?P<length>-?\d+))?$")


def _expand(inner: str, variable: Variable, function: Function) -> str:
    if inner.endswith(")") and "(" in inner:
        name, _, args = inner.partition("(")
        return function(name.strip(), args[:-1])
    match = _SUBSTRING.match(inner)
    if match is None:
        return variable(inner)
    value = variable(match["name"])
    offset = int(match["offset"])
    start = max(len(value) + offset, 0) if offset < 0 else offset
    if match["length"] is None:
        return value[start:]
    length = int(match["length"])
    return value[start:start + length] if length >= 0 else value[start:len(value) + length]


def split_args(args: str, separator: str = ",") -> list[str]:
    """Split application or function arguments on `separator` outside quotes and parentheses."""
    parts: list[str] = []
    depth, quoted = 0, False
    current: list[str] = []
    for char in args:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == separator:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def split_condition(args: str) -> tuple[str, str, str]:
    """`cond?true:false` (GotoIf, IF, ExecIf): the three parts, missing ones empty."""
    condition, _, branches = args.partition("?")
    when_true, _, when_false = branches.partition(":")
    return condition.strip(), when_true, when_false


def is_true(value: str) -> bool:
    """Asterisk's truth for a condition: anything but empty and zero."""
    value = value.strip()
    if not value:
        return False
    try:
        return float(value) != 0
    except ValueError:
        return True


_TOKEN = re.compile(r'\s*(?:(?P<quoted>"[^"]*")|(?P<op><=|>=|!=|[=<>&|+\-*/%!()])|(?P<word>[^\s=<>&|+\-*/%!()"]+))')


class _Expression:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise ValueError(f"cannot read {text[position:]!r}")
            position = match.end()
            if match["quoted"] is not None:
                self.tokens.append(("value", match["quoted"][1:-1]))
            elif match["op"] is not None:
                self.tokens.append(("op", match["op"]))
            elif match["word"] is not None:
                self.tokens.append(("value", match["word"]))
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take_op(self, *ops: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in ops:
            self.index += 1
            return token[1]
        return None

    def parse(self) -> str:
        if not self.tokens:
            return ""
        value = self.either()
        if self.index != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.index][1]!r}")
        return value

    def either(self) -> str:
        left = self.both()
        while self.take_op("|"):
            right = self.both()
            left = left if is_true(left) else (right if is_true(right) else "0")
        return left

    def both(self) -> str:
        left = self.comparison()
        while self.take_op("&"):
            right = self.comparison()
            left = left if is_true(left) and is_true(right) else "0"
        return left

    def comparison(self) -> str:
        left = self.sum()
        while (op := self.take_op("=", "!=", "<", ">", "<=", ">=")) is not None:
            right = self.sum()
            left = "1" if _compare(left, op, right) else "0"
        return left

    def sum(self) -> str:
        left = self.product()
        while (op := self.take_op("+", "-")) is not None:
            right = self.product()
            left = _number(_as_number(left) + (_as_number(right) if op == "+" else -_as_number(right)))
        return left

    def product(self) -> str:
        left = self.unary()
        while (op := self.take_op("*", "/", "%")) is not None:
            a, b = _as_number(left), _as_number(self.unary())
            if op == "*":
                left = _number(a * b)
            elif b == 0:
                raise ValueError("division by zero")
            else:
                left = _number(a / b if op == "/" else a % b)
        return left

    def unary(self) -> str:
        if self.take_op("-"):
            return _number(-_as_number(self.unary()))
        if self.take_op("!"):
            return "0" if is_true(self.unary()) else "1"
        if self.take_op("("):
            value = self.either()
            if not self.take_op(")"):
                raise ValueError("missing ')'")
            return value
        token = self.peek()
        if token is None or token[0] != "value":
            raise ValueError("a value is missing")
        self.index += 1
        return token[1]


def _as_number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _compare(left: str, op: str, right: str) -> bool:
    a: float | str
    b: float | str
    try:
        a, b = float(left), float(right)
    except ValueError:
        a, b = left, right
    return {"=": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]  # type: ignore[operator]


def evaluate(text: str) -> str:
    """The value of a `$[...]` body (already substituted); empty if it does not parse."""
    try:
        return _Expression(text).parse()
    except ValueError:
        return ""
