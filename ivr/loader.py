"""Read a YAML flow file into an `ivr.model.Flow`, or say precisely what is wrong with it.

Every problem names the file, the line and column (1-based, as editors count) and the node:

    config/ivr/main.yaml:14:14: node 'menu': field 'timeout' must be a number of seconds, got 'soon'

All problems of a file are reported at once. Nothing here touches the running flows: the registry
decides what to do with a file that fails (keep serving the old one).
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ivr import model
from ivr.calendar import Calendar, CalendarError, build_calendar
from ivr.expr import ExprError, Expression, is_template, parse, template_names
from ivr.model import KINDS, Case, Flow, Node, Position, PromptItem

# Variables every call has (from the FastAGI environment) and those the node kinds set.
BUILTIN_VARIABLES = frozenset({
    "ani", "dnis", "caller_name", "language", "uniqueid", "call_id", "channel", "flow", "arg1", "arg2", "arg3",
    "CC_AGENT", "CC_QUEUE",
})
SET_BY_KIND: dict[str, tuple[str, ...]] = {
    "customer_lookup": ("customer", "customer_name", "customer_vip", "customer_segment"),
    "ticket": ("ticket",),
    "pick_agent": ("agent", "agent_number", "agent_name"),
    "language": ("language",),
}
KEY_RE = re.compile(r"[0-9*#]")
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DNIS_RE = re.compile(r"\+?[0-9A-Za-z*#_.-]+")
ID_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
TOP_FIELDS = ("name", "description", "dnis", "default", "language", "start", "variables", "calendars", "nodes")
MAX_HTTP_TIMEOUT = 10.0
PromptCheck = Callable[[str], bool]


@dataclass(frozen=True)
class Problem:
    source: str
    line: int
    column: int
    node: str | None
    message: str

    def __str__(self) -> str:
        where = f"node {self.node!r}: " if self.node is not None else ""
        return f"{self.source}:{self.line}:{self.column}: {where}{self.message}"


class FlowInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


Path_ = tuple[str | int, ...]


class _Document:
    """The YAML as plain values, with the position of every value and every mapping key."""

    def __init__(self) -> None:
        self.at: dict[Path_, Position] = {}
        self.key_at: dict[Path_, Position] = {}
        self.quoted: dict[Path_, bool] = {}
        self.duplicates: list[tuple[Path_, str]] = []

    def plain(self, loader: yaml.SafeLoader, node: yaml.Node, path: Path_) -> Any:
        self.at[path] = Position(node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                key = key if isinstance(key, str | int) else str(key)
                self.key_at[(*path, key)] = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in result:
                    self.duplicates.append(((*path, key), str(key)))
                result[key] = self.plain(loader, value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(loader, item, (*path, n)) for n, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        self.quoted[path] = node.style in ("'", '"')
        return loader.construct_object(node, deep=True)


def _compose(text: str, source: str) -> tuple[Any, _Document]:
    document = _Document()
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise FlowInvalid([Problem(source, 1, 1, None, "the file is empty")])
        return document.plain(loader, root, ()), document
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise FlowInvalid([Problem(source, line, column, None, f"not valid YAML: {exc.problem or exc}")]) from None
    finally:
        loader.dispose()


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value) if isinstance(value, str) else str(value)


class _Checker:
    def __init__(self, source: str, document: _Document, prompt_exists: PromptCheck | None) -> None:
        self.source = source
        self.doc = document
        self.prompt_exists = prompt_exists
        self.problems: list[Problem] = []
        self.node: str | None = None

    def problem(self, path: Path_, message: str, *, key: bool = False, offset: int = 0) -> None:
        position = (self.doc.key_at.get(path) if key else None) or self._position(path)
        self.problems.append(Problem(self.source, position.line, position.column + offset, self.node, message))

    def _position(self, path: Path_) -> Position:
        while path not in self.doc.at and path:
            path = path[:-1]
        return self.doc.at.get(path, Position(1, 1))

    def value_column_offset(self, path: Path_) -> int:
        return 1 if self.doc.quoted.get(path) else 0

    # ---- scalar kinds --------------------------------------------------------------------------------
    def text(self, value: Any, path: Path_, label: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(path, f"{label} must be a string, got {_type_name(value)}")
            return None
        text = str(value)
        try:
            template_names(text)
        except ExprError as exc:
            self.problem(path, f"{label}: {exc.message}", offset=exc.offset + self.value_column_offset(path))
            return None
        return text

    def prompt(self, value: Any, path: Path_, label: str) -> str | None:
        text = self.text(value, path, label)
        if text and not is_template(text) and self.prompt_exists is not None and not self.prompt_exists(text):
            self.problem(path, f"{label}: prompt {text!r} not found (upload it, or check the name)")
        return text

    def seconds(self, value: Any, path: Path_, label: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.problem(path, f"{label} must be a number of seconds, got {_type_name(value)}")
            return None
        return float(value)

    def count(self, value: Any, path: Path_, label: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem(path, f"{label} must be a whole number >= 0, got {_type_name(value)}")
            return None
        return value

    def name(self, value: Any, path: Path_, label: str) -> str | None:
        if not isinstance(value, str) or not NAME_RE.fullmatch(value):
            self.problem(path, f"{label} must be a variable name (letters, digits, _), got {_type_name(value)}")
            return None
        return value

    def target(self, value: Any, path: Path_, label: str) -> str | None:
        if not isinstance(value, str | int) or isinstance(value, bool):
            self.problem(path, f"{label} must be a node id, got {_type_name(value)}")
            return None
        return str(value)

    def mapping(self, value: Any, path: Path_, label: str) -> dict[Any, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"{label} must be a mapping, got {_type_name(value)}")
            return None
        return value

    def key(self, key: Any, path: Path_, label: str) -> str | None:
        text = str(key)
        if isinstance(key, bool) or not KEY_RE.fullmatch(text):
            self.problem(path, f"{label}: {text!r} is no phone key (0-9, *, #)", key=True)
            return None
        return text

    def expression(self, value: Any, path: Path_, label: str) -> Expression | None:
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int | float):
            self.problem(path, f"{label} must be an expression, got {_type_name(value)}")
            return None
        try:
            return parse(str(value))
        except ExprError as exc:
            self.problem(path, f"{label}: bad expression: {exc.message}",
                         offset=exc.offset + self.value_column_offset(path))
            return None

    # ---- one field ----------------------------------------------------------------------------------
    def field(self, f: dataclasses.Field[Any], value: Any, path: Path_) -> Any:
        kind, label = f.metadata["kind"], f"field {f.name!r}"
        if kind in (model.TEXT,):
            return self.text(value, path, label)
        if kind == model.PROMPT:
            return self.prompt(value, path, label)
        if kind == model.NAME:
            return self.name(value, path, label)
        if kind == model.TARGET:
            return self.target(value, path, label)
        if kind == model.SECONDS:
            return self.seconds(value, path, label)
        if kind == model.COUNT:
            return self.count(value, path, label)
        if kind == model.CHOICES:
            choices = f.metadata["choices"]
            if value not in choices:
                self.problem(path, f"{label} must be one of {', '.join(choices)}, got {_type_name(value)}")
                return None
            return value
        if kind == model.KEYS:
            if not isinstance(value, str | int) or not all(KEY_RE.fullmatch(k) for k in str(value)) or not str(value):
                self.problem(path, f"{label} must be phone keys (0-9, *, #), got {_type_name(value)}")
                return None
            return str(value)
        if kind == model.PATTERN:
            if not isinstance(value, str):
                self.problem(path, f"{label} must be a regular expression, got {_type_name(value)}")
                return None
            try:
                re.compile(value)
            except re.error as exc:
                self.problem(path, f"{label}: bad regular expression: {exc}")
                return None
            return value
        if kind == model.PROMPTS:
            return self.prompts(value, path, label)
        if kind in (model.TARGETS, model.LANGUAGES):
            return self.keyed(value, path, label, kind)
        if kind == model.CASES:
            return self.cases(value, path, label)
        if kind in (model.VARIABLES, model.SAVES):
            return self.variables(value, path, label)
        if kind == model.SKILLS:
            return self.skills(value, path, label)
        raise AssertionError(kind)

    def prompts(self, value: Any, path: Path_, label: str) -> tuple[PromptItem, ...] | None:
        items = value if isinstance(value, list) else [value]
        if not items:
            self.problem(path, f"{label} must list at least one prompt")
            return None
        result = []
        for n, item in enumerate(items):
            where = (*path, n) if isinstance(value, list) else path
            if isinstance(item, str):
                prompt = self.prompt(item, where, label)
                if prompt is not None:
                    result.append(PromptItem("file", prompt))
            elif isinstance(item, dict) and len(item) == 1 and next(iter(item)) in ("file", "digits", "number", "date"):
                kind, text = next(iter(item.items()))
                checked = (self.prompt if kind == "file" else self.text)(text, (*where, kind), label)
                if checked is not None:
                    result.append(PromptItem(kind, checked))
            else:
                self.problem(where, f"{label}: each prompt is a file name or one of {{file: ...}}, {{digits: ...}}, "
                                    f"{{number: ...}}, {{date: ...}}, got {_type_name(item)}")
        return tuple(result)

    def keyed(self, value: Any, path: Path_, label: str, kind: str) -> dict[str, str] | None:
        mapping = self.mapping(value, path, label)
        if mapping is None:
            return None
        if not mapping:
            self.problem(path, f"{label} must have at least one key")
        result = {}
        for key, target in mapping.items():
            checked_key = self.key(key, (*path, key), label)
            if kind == model.LANGUAGES:
                ok = isinstance(target, str) and re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", target)
                if not ok:
                    self.problem((*path, key), f"{label}: {_type_name(target)} is no language code (en, de, fr_FR)")
                checked = target if ok else None
            else:
                checked = self.target(target, (*path, key), f"{label}[{key}]")
            if checked_key is not None and checked is not None:
                result[checked_key] = checked
        return result

    def cases(self, value: Any, path: Path_, label: str) -> tuple[Case, ...] | None:
        if not isinstance(value, list) or not value:
            self.problem(path, f"{label} must be a list of {{when: ..., goto: ...}}, got {_type_name(value)}")
            return None
        result = []
        for n, item in enumerate(value):
            where = (*path, n)
            if not isinstance(item, dict) or set(item) != {"when", "goto"}:
                self.problem(where, f"{label}[{n}] must have exactly `when` and `goto`, got {_type_name(item)}")
                continue
            field_name = label.removeprefix("field ").strip("'")
            when = self.expression(item["when"], (*where, "when"), f"field '{field_name}[{n}].when'")
            goto = self.target(item["goto"], (*where, "goto"), f"field '{field_name}[{n}].goto'")
            if when is not None and goto is not None:
                result.append(Case(when, goto))
        return tuple(result)

    def variables(self, value: Any, path: Path_, label: str) -> dict[str, str] | None:
        mapping = self.mapping(value, path, label)
        if mapping is None:
            return None
        result = {}
        for key, text in mapping.items():
            name = self.name(key, (*path, key), f"{label} key")
            checked = self.text(text, (*path, key), f"{label}[{key}]")
            if name is not None and checked is not None:
                result[name] = checked
        return result

    def skills(self, value: Any, path: Path_, label: str) -> dict[str, int] | None:
        if isinstance(value, list) and all(isinstance(s, str) for s in value):
            return dict.fromkeys(value, 1)
        mapping = self.mapping(value, path, label)
        if mapping is None:
            return None
        result = {}
        for skill, level in mapping.items():
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 100:
                self.problem((*path, skill), f"{label}[{skill}] must be a level 1..100, got {_type_name(level)}")
            else:
                result[str(skill)] = level
        return result

    # ---- one node -----------------------------------------------------------------------------------
    def build_node(self, node_id: str, raw: Any, path: Path_) -> Node | None:
        self.node = node_id
        try:
            if not isinstance(raw, dict):
                self.problem(path, f"a node must be a mapping with a `type`, got {_type_name(raw)}")
                return None
            kind = raw.get("type")
            if kind not in KINDS:
                if kind is None:
                    self.problem(path, "missing field 'type'")
                else:
                    self.problem((*path, "type"), f"unknown node type {_type_name(kind)} "
                                                  f"(known: {', '.join(sorted(KINDS))})")
                return None
            cls = KINDS[kind]
            fields = {f.name: f for f in model.node_fields(cls)}
            values: dict[str, Any] = {}
            ok = True
            for key in raw:
                if key != "type" and key not in fields:
                    self.problem((*path, key), f"unknown field {str(key)!r} for a {kind} node "
                                               f"(known: {', '.join(fields) or 'none'})", key=True)
                    ok = False
            for name, f in fields.items():
                if name not in raw:
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                        self.problem(path, f"missing field {name!r}", key=True)
                        ok = False
                    continue
                checked = self.field(f, raw[name], (*path, name))
                if checked is None:
                    ok = False
                else:
                    values[name] = checked
            if not ok:
                return None
            position = self.doc.key_at.get(path, Position(1, 1))
            node = cls(id=node_id, position=position, **values)
            self.node_rules(node, path)
            return node
        finally:
            self.node = None

    def node_rules(self, node: Node, path: Path_) -> None:
        """Rules across fields of one node."""
        if isinstance(node, model.Collect | model.Callback) and node.min > node.max:
            self.problem((*path, "min"), f"field 'min' ({node.min}) is more than field 'max' ({node.max})")
        if isinstance(node, model.Collect | model.Callback) and node.max == 0:
            self.problem((*path, "max"), "field 'max' must be at least 1")
        if isinstance(node, model.Transfer) and bool(node.number) == bool(node.agent):
            self.problem(path, "a transfer names exactly one of `number` and `agent`")
        if isinstance(node, model.HttpLookup):
            if node.timeout > MAX_HTTP_TIMEOUT:
                self.problem((*path, "timeout"), f"field 'timeout' must be at most {MAX_HTTP_TIMEOUT:g} seconds "
                                                 "(the caller is waiting)")
            if not re.match(r"https?://", node.url):
                self.problem((*path, "url"), "field 'url' must start with http:// or https://")
        if isinstance(node, model.CustomerLookup) and (node.by == "caller") == bool(node.variable):
            self.problem(path, "customer_lookup by caller takes no `variable`; by reference or phone needs one")
        if isinstance(node, model.Survey) and any(k not in "0123456789" for k in node.keys):
            self.problem((*path, "keys"), "field 'keys' must be digits")


def read_flow(path: Path, *, prompt_exists: PromptCheck | None = None, source: str | None = None) -> Flow:
    """Read and check one flow file (raises FlowInvalid, or OSError if it cannot be read)."""
    name = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FlowInvalid([Problem(name, 1, 1, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    return parse_flow(text, name, default_name=path.stem, prompt_exists=prompt_exists)


def parse_flow(text: str, source: str, *, default_name: str = "", prompt_exists: PromptCheck | None = None) -> Flow:
    raw, doc = _compose(text, source)
    check = _Checker(source, doc, prompt_exists)
    for dup_path, key in doc.duplicates:
        check.node = str(dup_path[1]) if len(dup_path) > 2 and dup_path[0] == "nodes" else None
        check.problem(dup_path, f"duplicate key {key!r}", key=True)
        check.node = None
    if not isinstance(raw, dict):
        message = f"a flow is a mapping with `start` and `nodes`, got {_type_name(raw)}"
        raise FlowInvalid([*check.problems, Problem(source, 1, 1, None, message)])
    for key in raw:
        if key not in TOP_FIELDS:
            check.problem((key,), f"unknown field {str(key)!r} (known: {', '.join(TOP_FIELDS)})", key=True)
    default_name = default_name or Path(source).stem
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not ID_RE.fullmatch(name):
        check.problem(("name",), f"field 'name' must be a flow name (letters, digits, _ . -), got {_type_name(name)}")
        name = default_name
    dnis_raw = raw.get("dnis", [])
    dnis_list = dnis_raw if isinstance(dnis_raw, list) else [dnis_raw]
    dnis = []
    for n, number in enumerate(dnis_list):
        if isinstance(number, bool) or not isinstance(number, str | int) or not DNIS_RE.fullmatch(str(number)):
            check.problem(("dnis", n) if isinstance(dnis_raw, list) else ("dnis",),
                          f"field 'dnis' must list service numbers, got {_type_name(number)}")
        else:
            dnis.append(str(number))
    default = raw.get("default", False)
    if not isinstance(default, bool):
        check.problem(("default",), f"field 'default' must be true or false, got {_type_name(default)}")
        default = False
    language = raw.get("language", "")
    if not isinstance(language, str):
        check.problem(("language",), f"field 'language' must be a language code, got {_type_name(language)}")
        language = ""
    description = raw.get("description", "")
    description = description if isinstance(description, str) else ""
    variables = check.variables(raw.get("variables", {}), ("variables",), "field 'variables'") or {}
    calendars = _calendars(check, raw.get("calendars", {}))
    nodes: dict[str, Node] = {}
    raw_nodes = raw.get("nodes")
    if raw_nodes is None:
        check.problem((), "missing field 'nodes'")
    elif not isinstance(raw_nodes, dict) or not raw_nodes:
        check.problem(("nodes",), f"field 'nodes' must map node ids to nodes, got {_type_name(raw_nodes)}")
    else:
        for node_id, node_raw in raw_nodes.items():
            if not isinstance(node_id, str | int) or not ID_RE.fullmatch(str(node_id)):
                check.problem(("nodes", node_id), f"{str(node_id)!r} is no node id (letters, digits, _ . -)", key=True)
                continue
            built = check.build_node(str(node_id), node_raw, ("nodes", node_id))
            if built is not None:
                nodes[built.id] = built
    start = raw.get("start")
    if start is None:
        check.problem((), "missing field 'start'")
    elif not isinstance(start, str | int) or (raw_nodes and str(start) not in raw_nodes):
        check.problem(("start",), f"field 'start' names node {_type_name(start)}, which does not exist")
    if isinstance(raw_nodes, dict) and len(nodes) == len(raw_nodes):  # graph rules only on well-formed nodes
        _graph_rules(check, raw_nodes, nodes, str(start) if start is not None else "")
        _variable_rules(check, nodes, variables, calendars)
    if check.problems:
        raise FlowInvalid(sorted(check.problems, key=lambda p: (p.line, p.column)))
    return Flow(name=name, source=source, start=str(start), nodes=nodes, dnis=tuple(dnis), default=default,
                language=language, variables=variables, calendars=calendars, description=description)


def _calendars(check: _Checker, raw: Any) -> dict[str, Calendar]:
    mapping = check.mapping(raw, ("calendars",), "field 'calendars'")
    result: dict[str, Calendar] = {}
    for name, spec in (mapping or {}).items():
        path: Path_ = ("calendars", name)
        if not isinstance(spec, dict) or not set(spec) <= {"time_zone", "week", "holidays"}:
            check.problem(path, f"calendar {name!r} must be a mapping of time_zone, week, holidays")
            continue
        week = spec.get("week", {})
        holidays = spec.get("holidays", [])
        if not isinstance(week, dict) or not all(isinstance(v, list) for v in week.values()):
            check.problem((*path, "week"), f"calendar {name!r}: week must map days to lists of HH:MM-HH:MM")
            continue
        if not isinstance(holidays, list):
            check.problem((*path, "holidays"), f"calendar {name!r}: holidays must be a list of dates")
            continue
        try:
            result[str(name)] = build_calendar(str(spec.get("time_zone", "UTC")), {str(k): [str(r) for r in v] for
                                               k, v in week.items()}, [str(h) for h in holidays])
        except CalendarError as exc:
            check.problem(path, f"calendar {name!r}: {exc}")
    return result


def _graph_rules(check: _Checker, raw_nodes: dict[Any, Any], nodes: dict[str, Node], start: str) -> None:
    for node in nodes.values():
        check.node = node.id
        for field_name, target in model.targets(node):
            if target not in nodes:
                head, _, rest = field_name.partition(".")
                path: Path_ = ("nodes", _raw_key(raw_nodes, node.id), head)
                if rest:
                    path = (*path, _raw_key(raw_nodes[_raw_key(raw_nodes, node.id)][head], rest))
                elif "[" in field_name:
                    index = int(field_name[field_name.index("[") + 1:field_name.index("]")])
                    path = ("nodes", _raw_key(raw_nodes, node.id), field_name.split("[")[0], index, "goto")
                check.problem(path, f"field {field_name!r} names node {target!r}, which does not exist")
    check.node = None
    if start not in nodes:
        return
    seen = {start}
    todo = deque([start])
    while todo:
        for _, target in model.targets(nodes[todo.popleft()]):
            if target in nodes and target not in seen:
                seen.add(target)
                todo.append(target)
    for node in nodes.values():
        if node.id not in seen:
            check.node = node.id
            check.problem(("nodes", _raw_key(raw_nodes, node.id)),
                          f"unreachable: no path from the start node {start!r}", key=True)
    check.node = None


def _raw_key(mapping: Any, key: str) -> Any:
    if isinstance(mapping, dict) and key not in mapping and key.isdigit() and int(key) in mapping:
        return int(key)
    return key


def _variable_rules(check: _Checker, nodes: dict[str, Node], variables: dict[str, str],
                    calendars: dict[str, Calendar]) -> None:
    known = set(BUILTIN_VARIABLES) | set(variables)
    for node in nodes.values():
        known.update(SET_BY_KIND.get(node.kind, ()))
        if isinstance(node, model.SetVariables):
            known.update(node.variables)
        if isinstance(node, model.HttpLookup):
            known.update(node.save)
        if isinstance(node, model.Menu | model.Collect) and node.variable:
            known.add(node.variable)
    for node in nodes.values():
        check.node = node.id
        path: Path_ = ("nodes", node.id)
        if isinstance(node, model.Branch):
            for n, case in enumerate(node.cases):
                where = (*path, "cases", n, "when")
                for name in case.when.names():
                    if name.name not in known:
                        check.problem(where, f"field 'cases[{n}].when' uses unknown variable {name.name!r}",
                                      offset=name.offset + check.value_column_offset(where))
        for f in model.node_fields(type(node)):
            value = getattr(node, f.name)
            texts: Iterable[tuple[Path_, str]] = ()
            if f.metadata["kind"] in (model.TEXT, model.PROMPT) and isinstance(value, str):
                texts = [((*path, f.name), value)]
            elif f.metadata["kind"] == model.VARIABLES:
                texts = [((*path, f.name, k), v) for k, v in value.items()]
            for where, text in texts:
                for used, offset in template_names(text):
                    if used not in known:
                        check.problem(where, f"field {f.name!r} uses unknown variable {used!r}",
                                      offset=offset + check.value_column_offset(where))
        if isinstance(node, model.Hours) and node.calendar not in calendars:
            check.problem((*path, "calendar"), f"field 'calendar' names calendar {node.calendar!r}, which this "
                                               f"flow does not define (calendars: {', '.join(calendars) or 'none'})")
        if isinstance(node, model.Collect | model.Menu) and node.variable and node.variable in BUILTIN_VARIABLES:
            check.problem((*path, "variable"), f"field 'variable' must not overwrite {node.variable!r}")
    check.node = None
