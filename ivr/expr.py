"""The flows' small expression language: conditions on variables, parsed once, evaluated safely.

    customer_vip == "true" and not (dnis in ["8005550100", "8005550101"])
    len(entered) >= 6 or matches(entered, "^9[0-9]+$")

Values are strings (channel variables are), numbers and booleans. `==`, `<` ... compare numerically when
both sides read as numbers, as text otherwise. An unset variable is the empty string. There is no
attribute access, no indexing and no call other than the few functions below: nothing reaches Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

Value = str | float | bool | tuple["Value", ...]


class ExprError(ValueError):
    """A syntax error; `offset` is the 0-based character where it was found."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


_TOKEN = re.compile(r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
  )""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, tuple):
        return ",".join(_text(v) for v in value)
    return value


def _number(value: Value) -> float | None:
    if isinstance(value, bool | tuple):
        return None
    if isinstance(value, float):
        return value
    try:
        return float(value) if value.strip() else None
    except ValueError:
        return None


def truthy(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value != 0
    if isinstance(value, tuple):
        return bool(value)
    return value not in ("", "0", "false", "no")


def _equal(a: Value, b: Value) -> bool:
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na == nb
    if isinstance(a, bool) or isinstance(b, bool):
        return truthy(a) == truthy(b)
    return _text(a) == _text(b)


def _order(op: str, a: Value, b: Value) -> bool:
    na, nb = _number(a), _number(b)
    left: float | str
    right: float | str
    if na is not None and nb is not None:
        left, right = na, nb
    else:
        left, right = _text(a), _text(b)
    if op == "<":
        return left < right  # type: ignore[operator]
    if op == "<=":
        return left <= right  # type: ignore[operator]
    if op == ">":
        return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]


def _matches(text: Value, pattern: Value) -> bool:
    try:
        return re.search(_text(pattern), _text(text)) is not None
    except re.error:
        return False


FUNCTIONS: dict[str, tuple[int, Callable[..., Value]]] = {
    "len": (1, lambda v: float(len(_text(v)))),
    "startswith": (2, lambda v, p: _text(v).startswith(_text(p))),
    "endswith": (2, lambda v, p: _text(v).endswith(_text(p))),
    "matches": (2, _matches),  # a regular expression search
    "number": (1, lambda v: _number(v) or 0.0),
}


# ---- the syntax tree ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Literal:
    value: Value


@dataclass(frozen=True)
class Name:
    name: str
    offset: int


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class ListOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


Node = Literal | Name | Call | ListOf | Unary | Binary


@dataclass(frozen=True)
class Expression:
    source: str
    tree: Node

    def names(self) -> list[Name]:
        found: list[Name] = []
        _collect(self.tree, found)
        return found

    def evaluate(self, variables: Mapping[str, str]) -> Value:
        return _eval(self.tree, variables)

    def test(self, variables: Mapping[str, str]) -> bool:
        return truthy(self.evaluate(variables))


def _collect(node: Node, found: list[Name]) -> None:
    if isinstance(node, Name):
        found.append(node)
    elif isinstance(node, Call):
        for arg in node.args:
            _collect(arg, found)
    elif isinstance(node, ListOf):
        for item in node.items:
            _collect(item, found)
    elif isinstance(node, Unary):
        _collect(node.operand, found)
    elif isinstance(node, Binary):
        _collect(node.left, found)
        _collect(node.right, found)


def _eval(node: Node, variables: Mapping[str, str]) -> Value:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return variables.get(node.name, "")
    if isinstance(node, ListOf):
        return tuple(_eval(item, variables) for item in node.items)
    if isinstance(node, Call):
        return FUNCTIONS[node.function][1](*(_eval(arg, variables) for arg in node.args))
    if isinstance(node, Unary):
        return not truthy(_eval(node.operand, variables))
    op = node.op
    if op == "and":
        return truthy(_eval(node.left, variables)) and truthy(_eval(node.right, variables))
    if op == "or":
        return truthy(_eval(node.left, variables)) or truthy(_eval(node.right, variables))
    left, right = _eval(node.left, variables), _eval(node.right, variables)
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op in ("in", "not in"):
        found = any(_equal(left, item) for item in right) if isinstance(right, tuple) else \
            _text(left) in _text(right)
        return found if op == "in" else not found
    return _order(op, left, right)


# ---- the parser (recursive descent) ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, op, keyword, end
    text: str
    offset: int


def _tokens(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while True:
        while position < len(source) and source[position].isspace():
            position += 1
        if position >= len(source):
            tokens.append(_Token("end", "", position))
            return tokens
        match = _TOKEN.match(source, position)
        if match is None or match.lastgroup is None:
            raise ExprError(f"unexpected character {source[position]!r}", position)
        kind = match.lastgroup
        text = match.group(kind)
        start = match.start(kind)
        if kind == "name" and text in _KEYWORDS:
            kind = "keyword"
        tokens.append(_Token(kind, text, start))
        position = match.end()


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokens(source)
        self.at = 0

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, kind: str, text: str) -> bool:
        token = self.peek()
        if token.kind == kind and token.text == text:
            self.at += 1
            return True
        return False

    def expect(self, text: str) -> None:
        token = self.peek()
        if not (token.kind == "op" and token.text == text):
            raise ExprError(f"expected {text!r}, found {_describe(token)}", token.offset)
        self.at += 1

    def parse(self) -> Node:
        tree = self.disjunction()
        token = self.peek()
        if token.kind != "end":
            raise ExprError(f"unexpected {_describe(token)}", token.offset)
        return tree

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.accept("keyword", "or"):
            node = Binary("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.accept("keyword", "and"):
            node = Binary("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.accept("keyword", "not"):
            return Unary("not", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.atom()
        token = self.peek()
        if token.kind == "op" and token.text in ("==", "!=", "<", "<=", ">", ">="):
            self.at += 1
            return Binary(token.text, left, self.atom())
        if token.kind == "keyword" and token.text == "in":
            self.at += 1
            return Binary("in", left, self.atom())
        if token.kind == "keyword" and token.text == "not" and self.tokens[self.at + 1].text == "in":
            self.at += 2
            return Binary("not in", left, self.atom())
        return left

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Literal(token.text)
        if token.kind == "string":
            return Literal(_unquote(token.text))
        if token.kind == "keyword" and token.text in ("true", "false"):
            return Literal(token.text == "true")
        if token.kind == "name":
            if self.accept("op", "("):
                return self.call(token)
            return Name(token.text, token.offset)
        if token.kind == "op" and token.text == "(":
            node = self.disjunction()
            self.expect(")")
            return node
        if token.kind == "op" and token.text == "[":
            items: list[Node] = []
            if not self.accept("op", "]"):
                items.append(self.atom())
                while self.accept("op", ","):
                    items.append(self.atom())
                self.expect("]")
            return ListOf(tuple(items))
        raise ExprError(f"expected a value, found {_describe(token)}", token.offset)

    def call(self, name: _Token) -> Node:
        if name.text not in FUNCTIONS:
            raise ExprError(f"unknown function {name.text!r} (known: {', '.join(sorted(FUNCTIONS))})",
                            name.offset)
        args: list[Node] = []
        if not self.accept("op", ")"):
            args.append(self.disjunction())
            while self.accept("op", ","):
                args.append(self.disjunction())
            self.expect(")")
        arity = FUNCTIONS[name.text][0]
        if len(args) != arity:
            raise ExprError(f"{name.text}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(args)}",
                            name.offset)
        return Call(name.text, tuple(args))


def _describe(token: _Token) -> str:
    return "the end" if token.kind == "end" else repr(token.text)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse(source: str) -> Expression:
    """Parse `source`; raises ExprError with the offset of the problem."""
    return Expression(source, _Parser(source).parse())


# ---- templates: text with ${variable} --------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def template_names(text: str) -> list[tuple[str, int]]:
    """The variables a template uses, with their offsets; raises ExprError on `${}` that names none."""
    found = []
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1).strip()
        if not _NAME.fullmatch(name):
            raise ExprError(f"${{{match.group(1)}}} is not a variable name", match.start())
        found.append((name, match.start(1)))
    return found


def render(text: str, variables: Mapping[str, str]) -> str:
    if "${" not in text:
        return text  # most prompt names, queues and priorities are plain: no pattern scan, no closure
    return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1).strip(), ""), text)


def is_template(text: str) -> bool:
    return _PLACEHOLDER.search(text) is not None


def names_of(expressions: Sequence[Expression]) -> set[str]:
    return {name.name for e in expressions for name in e.names()}
