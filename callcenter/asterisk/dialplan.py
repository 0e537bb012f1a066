"""An `extensions.conf` dialplan as data: contexts, extensions (literal or `_` patterns), numbered steps.

Read from the same file that a real Asterisk loads, so the simulator runs exactly our shipped dialplan,
and the checks of that file see what Asterisk would: every `Goto`/`GotoIf` target and label exists,
every context we name in the code is there.

Asterisk's rules kept here:
- `exten => NAME,PRIORITY,App(data)`; `same => n,...` continues the last extension; `n` is the previous
  priority plus one; `n(label)` / `3(label)` names a priority.
- Patterns start with `_`: `X` 0-9, `Z` 1-9, `N` 2-9, `[a-z0-9]` a class, `.` one or more of anything,
  `!` zero or more. A literal extension beats any pattern; among patterns the more specific wins
  (compared character by character: a digit, then N, Z, X, a class by its size, then `.` and `!`).
- `include => other` searches another context after this one's own extensions.
- "Match more" (`ast_matchmore_extension`, which ends the digits of a transfer target): some extension
  of the context, literal or pattern, also matches a longer string that starts with what was dialled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from callcenter.asterisk.conf import ConfError, ConfFile, Entry, read_conf

# Sections of extensions.conf that are settings, not contexts.
NOT_CONTEXTS = frozenset({"general", "globals"})


@dataclass(frozen=True)
class Step:
    priority: int
    app: str
    data: str
    label: str | None
    line: int
    path: str = ""  # the file (extensions.conf or one it #includes)


@dataclass
class Extension:
    name: str  # as written: `s`, `8005550100`, `_80[01]XXXXXXX`
    steps: dict[int, Step] = field(default_factory=dict)

    @property
    def is_pattern(self) -> bool:
        return self.name.startswith("_")

    @cached_property
    def _compiled(self) -> tuple[re.Pattern[str], tuple[int, ...]]:
        return _compile(self.name[1:])

    def matches(self, exten: str) -> bool:
        if not self.is_pattern:
            return exten == self.name
        return self._compiled[0].fullmatch(exten) is not None

    @property
    def specificity(self) -> tuple[int, ...]:
        return self._compiled[1]

    def matches_longer(self, prefix: str) -> bool:
        """Some string longer than `prefix` that starts with it is this extension (Asterisk's "match more")."""
        if not self.is_pattern:
            return len(self.name) > len(prefix) and self.name.startswith(prefix)
        # A pattern is a row of one-character classes, `.` (one or more of anything) and `!` (zero or more).
        # Where can the row be after `prefix`? From any place short of its end, one more character fits.
        tokens = _tokens(self.name[1:])
        places = _skip_optional(tokens, {0})
        for char in prefix:
            moved: set[int] = set()
            for place in places:
                if place < len(tokens):
                    kind, members = tokens[place]
                    if members is None or char in members:
                        moved.add(place if kind == "star" else place + 1)
                        if kind == "plus":
                            moved.add(place)  # `.` goes on taking characters
            places = _skip_optional(tokens, moved)
        return any(place < len(tokens) for place in places)

    def label(self, name: str) -> int | None:
        return next((s.priority for s in self.steps.values() if s.label == name), None)


@dataclass
class Context:
    name: str
    line: int
    extensions: list[Extension] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)

    def own_matches_longer(self, exten: str) -> bool:
        return any(e.matches_longer(exten) for e in self.extensions)

    def own_match(self, exten: str) -> Extension | None:
        literal = next((e for e in self.extensions if not e.is_pattern and e.name == exten), None)
        if literal is not None:
            return literal
        candidates = [e for e in self.extensions if e.is_pattern and e.matches(exten)]
        return min(candidates, key=lambda e: e.specificity, default=None)


_CLASS = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}
_WEIGHT = {"X": 10, "Z": 9, "N": 8}
_ANY_WEIGHT, _ANY_OR_NONE_WEIGHT = 1000, 1001


def _compile(pattern: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
    regex: list[str] = []
    weights: list[int] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        upper = char.upper()
        if upper in _CLASS:
            regex.append(_CLASS[upper])
            weights.append(_WEIGHT[upper])
        elif char == "[":
            end = pattern.find("]", i)
            if end < 0:
                raise ValueError(f"pattern _{pattern}: '[' without ']'")
            members = _class_members(pattern[i + 1:end])
            regex.append("[" + "".join(re.escape(m) for m in sorted(members)) + "]")
            weights.append(len(members))
            i = end
        elif char == ".":
            regex.append(".+")
            weights.append(_ANY_WEIGHT)
        elif char == "!":
            regex.append(".*")
            weights.append(_ANY_OR_NONE_WEIGHT)
        else:
            regex.append(re.escape(char))
            weights.append(1)
        i += 1
    return re.compile("".join(regex)), tuple(weights)


Token = tuple[str, frozenset[str] | None]  # ("one" | "plus" | "star", the characters; None: any)


def _tokens(pattern: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char.upper() in _CLASS:
            low = {"X": "0", "Z": "1", "N": "2"}[char.upper()]
            tokens.append(("one", frozenset(str(d) for d in range(int(low), 10))))
        elif char == "[":
            end = pattern.find("]", i)
            if end < 0:
                raise ValueError(f"pattern _{pattern}: '[' without ']'")
            tokens.append(("one", frozenset(_class_members(pattern[i + 1:end]))))
            i = end
        elif char in ".!":
            tokens.append(("plus" if char == "." else "star", None))
        else:
            tokens.append(("one", frozenset(char)))
        i += 1
    return tokens


def _skip_optional(tokens: list[Token], places: set[int]) -> set[int]:
    """Places reachable without taking a character: past any `!`."""
    out = set(places)
    for place in sorted(places):
        while place < len(tokens) and tokens[place][0] == "star":
            place += 1
            out.add(place)
    return out


def _class_members(body: str) -> set[str]:
    members: set[str] = set()
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            members.update(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
            i += 3
        else:
            members.add(body[i])
            i += 1
    return members


_PRIORITY = re.compile(r"^(?P<number>\d+|n|hint)(?:\((?P<label>[\w-]+)\))?$")
_APP = re.compile(r"^(?P<app>[\w]+)\s*(?:\((?P<data>.*)\))?\s*$", re.DOTALL)


class Dialplan:
    def __init__(self, contexts: dict[str, Context], globals_: dict[str, str], path: str) -> None:
        self.contexts = contexts
        self.globals = globals_
        self.path = path

    def _searched(self, context: str) -> Iterator[Context]:
        """`context`, then the contexts it includes, in the order Asterisk searches them (each once)."""
        seen: set[str] = set()
        pending = [context]
        while pending:
            name = pending.pop(0)
            if name in seen or name not in self.contexts:
                continue
            seen.add(name)
            yield self.contexts[name]
            pending.extend(self.contexts[name].includes)

    def find(self, context: str, exten: str) -> Extension | None:
        """The extension that runs for `exten` in `context`, following includes (each context once)."""
        for searched in self._searched(context):
            found = searched.own_match(exten)
            if found is not None:
                return found
        return None

    def matches_longer(self, context: str, exten: str) -> bool:
        """Asterisk's "match more": a longer string than `exten` could still be dialled in `context` (its
        includes too). An attended transfer's digits end when it cannot (or with `#`, or a pause)."""
        return any(searched.own_matches_longer(exten) for searched in self._searched(context))

    def step(self, context: str, exten: str, priority: int) -> Step | None:
        extension = self.find(context, exten)
        return None if extension is None else extension.steps.get(priority)

    def resolve(self, context: str, exten: str, target: str) -> tuple[str, str, int] | None:
        """A Goto target `[[context,]exten,]priority-or-label` from (context, exten): the place, or None."""
        parts = [p.strip() for p in target.split(",")]
        if len(parts) == 1:
            parts = [context, exten, parts[0]]
        elif len(parts) == 2:
            parts = [context, *parts]
        elif len(parts) != 3:
            return None
        new_context, new_exten, where = parts
        if where.isdigit():
            return (new_context, new_exten, int(where))
        extension = self.find(new_context, new_exten)
        priority = None if extension is None else extension.label(where)
        return None if priority is None else (new_context, new_exten, priority)


def parse_dialplan(conf: ConfFile) -> Dialplan:
    contexts: dict[str, Context] = {}
    globals_: dict[str, str] = {}
    for section in conf.sections:
        if section.name == "globals":
            globals_.update({e.key: e.value for e in section.entries})
            continue
        if section.name in NOT_CONTEXTS or section.is_template:
            continue
        context = contexts.setdefault(section.name, Context(section.name, section.line))
        last: Extension | None = None
        last_priority = 0
        for entry in section.entries:
            if entry.key == "include":
                context.includes.append(entry.value)
                continue
            if entry.key not in ("exten", "same"):
                raise ConfError(entry.path or conf.path, entry.line,
                                f"unexpected {entry.key!r} in context [{section.name}]")
            last, last_priority = _add_step(entry.path or conf.path, context, entry, last, last_priority)
    return Dialplan(contexts, globals_, conf.path)


def _add_step(path: str, context: Context, entry: Entry, last: Extension | None,
              last_priority: int) -> tuple[Extension | None, int]:
    if entry.key == "same":
        if last is None:
            raise ConfError(path, entry.line, "'same =>' before any 'exten =>' in this context")
        name, rest = last.name, entry.value
        extension = last
    else:
        name, _, rest = entry.value.partition(",")
        name = name.strip()
        if not name:
            raise ConfError(path, entry.line, "missing extension name")
        found = next((e for e in context.extensions if e.name == name), None)
        if found is None:
            extension = Extension(name)
            if extension.is_pattern:
                try:
                    _ = extension.specificity
                except ValueError as exc:
                    raise ConfError(path, entry.line, str(exc)) from None
            context.extensions.append(extension)
        else:
            extension = found
        if extension is not last:
            last_priority = max(extension.steps, default=0)
    priority_text, _, app_text = rest.partition(",")
    match = _PRIORITY.match(priority_text.strip())
    if match is None:
        raise ConfError(path, entry.line, f"bad priority {priority_text.strip()!r} (a number, n or n(label))")
    if match["number"] == "hint":
        return extension, last_priority
    priority = last_priority + 1 if match["number"] == "n" else int(match["number"])
    app_match = _APP.match(app_text.strip())
    if app_match is None:
        raise ConfError(path, entry.line, f"bad application call {app_text.strip()!r} (App(data) expected)")
    if priority in extension.steps:
        raise ConfError(path, entry.line, f"priority {priority} of {name} in [{context.name}] is defined twice")
    extension.steps[priority] = Step(priority, app_match["app"], app_match["data"] or "", match["label"],
                                     entry.line, path)
    return extension, priority


def read_dialplan(path: Path) -> Dialplan:
    return parse_dialplan(read_conf(path))
